//! What a run did, for the log, the terminal and the run store.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::domain::extract::{ReadCounts, SkipReason};
use crate::domain::ids::RunId;
use crate::domain::table::Table;
use crate::store::RunCounts;

/// Totals of one completed run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub run_id: Option<RunId>,
    pub job: String,
    pub read: ReadCounts,
    pub conversions: u64,
    pub touchpoints: u64,
    pub credits_by_model: BTreeMap<String, u64>,
    pub rows_by_table: BTreeMap<Table, u64>,
    pub persons: u64,
    pub duration: Duration,
    /// Where the next run starts reading (the committed horizon).
    pub cursor: Option<String>,
    /// The end of what this run read.
    pub window_end: Option<crate::domain::time::Timestamp>,
    pub quality: Option<super::quality::Quality>,
}

impl RunSummary {
    /// The summary of run `run` of `job`, before it did anything.
    pub fn new(run: RunId, job: &str) -> Self {
        Self {
            run_id: Some(run),
            job: job.to_string(),
            ..Default::default()
        }
    }

    pub fn credits(&self) -> u64 {
        self.credits_by_model.values().sum()
    }

    pub fn rows_written(&self) -> u64 {
        self.rows_by_table.values().sum()
    }

    /// Events per second over the whole run.
    pub fn events_per_sec(&self) -> f64 {
        self.read.read as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// The counts stored on the run row.
    pub fn counts(&self) -> RunCounts {
        let skipped: BTreeMap<&str, u64> = SkipReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.read.skipped(*r)))
            .collect();
        RunCounts {
            events_read: self.read.read as i64,
            events_skipped: self.read.skipped_total() as i64,
            conversions: self.conversions as i64,
            touchpoints: self.touchpoints as i64,
            credits: self.credits() as i64,
            ad_metric_rows: self
                .rows_by_table
                .get(&Table::AdMetrics)
                .copied()
                .unwrap_or(0) as i64,
            rows_written: self.rows_written() as i64,
            details: serde_json::json!({
                "skipped": skipped,
                "masked_click_ids": self.read.masked_click_ids,
                "credits_by_model": self.credits_by_model,
                "rows_by_table": self.rows_by_table,
                "persons": self.persons,
                "duration_ms": self.duration.as_millis() as u64,
            }),
            quality: self
                .quality
                .as_ref()
                .map(|q| serde_json::to_value(q).expect("quality serialises"))
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.run_id.map_or("-".to_string(), |r| r.to_string());
        writeln!(
            f,
            "run {id} ({}) succeeded in {:.2}s",
            self.job,
            self.duration.as_secs_f64()
        )?;
        if self.job.starts_with("ads:") {
            return self.fmt_ads(f);
        }
        if self.job.starts_with("fx:") {
            let rows = self
                .rows_by_table
                .get(&Table::FxRates)
                .copied()
                .unwrap_or(0);
            write!(f, "  exchange rates   {rows:>12}  rows written")?;
            if let Some(c) = &self.cursor {
                write!(f, " ({c})")?;
            }
            return Ok(());
        }
        writeln!(
            f,
            "  events read      {:>12}  ({:.0} events/s)",
            self.read.read,
            self.events_per_sec()
        )?;
        let skips: Vec<String> = SkipReason::ALL
            .iter()
            .filter(|r| self.read.skipped(**r) > 0)
            .map(|r| format!("{} {}", r.as_str(), self.read.skipped(*r)))
            .collect();
        let detail = if skips.is_empty() {
            String::new()
        } else {
            format!("  ({})", skips.join(", "))
        };
        writeln!(
            f,
            "  events skipped   {:>12}{detail}",
            self.read.skipped_total()
        )?;
        writeln!(f, "  persons          {:>12}", self.persons)?;
        writeln!(f, "  conversions      {:>12}", self.conversions)?;
        writeln!(f, "  touchpoints      {:>12}", self.touchpoints)?;
        writeln!(f, "  credits          {:>12}", self.credits())?;
        for (m, n) in &self.credits_by_model {
            writeln!(f, "    {m:<22}{n:>8}")?;
        }
        writeln!(f, "  rows written     {:>12}", self.rows_written())?;
        for (t, n) in &self.rows_by_table {
            writeln!(f, "    {t:<22}{n:>8}")?;
        }
        if let Some(q) = &self.quality {
            writeln!(
                f,
                "  quality          {:>12.3}  ({}; events used {:.1}%, person keys {:.1}%, non-direct {:.1}%)",
                q.score,
                q.verdict,
                q.reconciliation.score * 100.0,
                q.identity.events_with_person_key * 100.0,
                q.coverage.conversions_with_non_direct_touch * 100.0
            )?;
            for w in &q.warnings {
                writeln!(f, "    warning: {w}")?;
            }
        }
        if let Some(c) = &self.cursor {
            write!(f, "  cursor           {c}")?;
        }
        Ok(())
    }
}

impl RunSummary {
    fn fmt_ads(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self
            .rows_by_table
            .get(&Table::AdMetrics)
            .copied()
            .unwrap_or(0);
        write!(f, "  ad metric rows   {rows:>12}")?;
        if let Some(c) = &self.cursor {
            write!(f, "  (through {c})")?;
        }
        if let Some(s) = self.quality.as_ref().and_then(|q| q.spend.as_ref()) {
            match &s.reporting {
                Some(r) => write!(
                    f,
                    "\n  spend matched    {:>11.1}%  of {:.2} {}{}",
                    s.share * 100.0,
                    r.spend_reporting_micros as f64 / 1e6,
                    r.currency,
                    if r.missing_rates.is_empty() {
                        String::new()
                    } else {
                        format!(" (no rate for {})", r.missing_rates.join(", "))
                    }
                )?,
                None => write!(
                    f,
                    "\n  spend matched    {:>11.1}%  of {:.2} (currency units, all currencies)",
                    s.share * 100.0,
                    s.spend_micros as f64 / 1e6
                )?,
            }
            for (p, c) in &s.platforms {
                write!(
                    f,
                    "\n    {p:<16} platform conversions {:>10.1}  attributed ({}) {:>10.1}",
                    c.platform_conversions, c.model, c.attributed_conversions
                )?;
            }
        }
        if let Some(q) = &self.quality {
            for w in &q.warnings {
                write!(f, "\n    warning: {w}")?;
            }
        }
        Ok(())
    }
}
