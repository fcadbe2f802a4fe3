//! `attrsync report` and the daemon's `/report`: one self-contained HTML page of what the sink
//! holds (models side by side, campaigns with their spend, paths, conversions over time) and the
//! recent runs' quality. Read from the local files or BigQuery's views; drawn by attrsync.

mod bigquery;
pub mod data;
mod format;
pub mod html;
mod local;
pub mod svg;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::money::Currency;
use crate::domain::time::{Date, Timestamp};
use crate::sinks::bigquery::BigQuerySink;
use crate::store::{AnyStore, RunRecord, RunStore};
use data::{Aggregator, ReportData, RunRow};

/// Where the report reads its rows.
#[derive(Debug, Clone)]
pub enum ReportSource {
    /// The local sink's directory.
    Local(PathBuf),
    BigQuery(Box<BigQuerySink>),
}

/// What one report covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// First conversion (and spend) day shown, inclusive.
    pub from: Option<Date>,
    /// Last day shown, inclusive.
    pub to: Option<Date>,
    /// The model of the day-by-day chart and campaign CPA/ROAS (default: last_touch).
    pub model: Option<String>,
}

/// Builds and writes reports.
#[derive(Debug, Clone)]
pub struct Reporter {
    pub source: ReportSource,
    pub store: AnyStore,
    /// The enabled models, in the configured order.
    pub models: Vec<String>,
    pub reporting: Option<Currency>,
    /// Recent runs shown in the quality section.
    pub recent_runs: u32,
}

impl Reporter {
    /// The page's numbers.
    pub async fn data(&self, filter: &Filter) -> anyhow::Result<ReportData> {
        if let Some(m) = &filter.model {
            anyhow::ensure!(
                self.models.contains(m),
                "--model {m} is not an enabled model (attribution.models: {})",
                self.models.join(", ")
            );
        }
        let mut data = match &self.source {
            ReportSource::Local(dir) => {
                let (dir, models, filter, reporting) = (
                    dir.clone(),
                    self.models.clone(),
                    filter.clone(),
                    self.reporting,
                );
                tokio::task::spawn_blocking(move || {
                    let fx = match reporting {
                        Some(c) => Some(crate::sinks::local::performance::rates(&dir, c)?),
                        None => None,
                    };
                    let mut agg =
                        Aggregator::new(filter.from, filter.to, fx.as_ref(), models, filter.model);
                    local::read(&dir, &mut agg)?;
                    let mut d = agg.finish();
                    d.sink = format!("the local sink ({})", dir.display());
                    Ok::<_, anyhow::Error>(d)
                })
                .await
                .context("the report reader panicked")??
            }
            ReportSource::BigQuery(sink) => {
                let fx = match self.reporting {
                    Some(c) => Some(bigquery::rates(sink, c).await?),
                    None => None,
                };
                let mut agg = Aggregator::new(
                    filter.from,
                    filter.to,
                    fx.as_ref(),
                    self.models.clone(),
                    filter.model.clone(),
                );
                bigquery::read(sink, &mut agg, filter.from, filter.to, fx.is_some()).await?;
                let mut d = agg.finish();
                d.sink = format!(
                    "BigQuery ({})",
                    sink.qualified("").trim_matches('`').trim_end_matches('.')
                );
                d
            }
        };
        data.generated_at = Timestamp::now();
        data.runs = self
            .store
            .recent(self.recent_runs.max(1))
            .await
            .context("reading the recent runs")?
            .iter()
            .map(run_row)
            .collect();
        Ok(data)
    }

    /// Builds the page and writes it to `out` (atomically: a reader never sees half a page).
    pub async fn write(&self, filter: &Filter, out: &Path) -> anyhow::Result<ReportData> {
        let data = self.data(filter).await?;
        let page = html::page(&data);
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let tmp = out.with_extension("html.partial");
        std::fs::write(&tmp, page).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, out).with_context(|| format!("cannot replace {}", out.display()))?;
        Ok(data)
    }
}

/// The daemon's report: rewritten after every cycle, served at `/report`.
#[derive(Debug, Clone)]
pub struct DaemonReport {
    pub reporter: Reporter,
    pub path: PathBuf,
}

impl DaemonReport {
    /// Rewrites the page over all data; a failure is logged and the old page stays.
    pub async fn refresh(&self) {
        let started = std::time::Instant::now();
        match self.reporter.write(&Filter::default(), &self.path).await {
            Ok(_) => tracing::info!(
                path = %self.path.display(),
                secs = started.elapsed().as_secs_f64(),
                "report written"
            ),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "could not write the report"),
        }
    }
}

/// A run as the quality section shows it.
fn run_row(r: &RunRecord) -> RunRow {
    let q = &r.counts.quality;
    let share = |path: [&str; 2]| q.get(path[0])?.get(path[1])?.as_f64();
    let shares = [
        (
            "events_with_person_key",
            ["identity", "events_with_person_key"],
        ),
        ("journeys_joined", ["identity", "journeys_joined"]),
        (
            "conversions_with_non_direct_touch",
            ["coverage", "conversions_with_non_direct_touch"],
        ),
        ("touchpoints_assigned", ["coverage", "touchpoints_assigned"]),
    ];
    let events_job = !(r.job.starts_with("ads:") || r.job.starts_with("fx:"));
    RunRow {
        id: r.id.0,
        job: r.job.clone(),
        status: r.status.to_string(),
        finished_at: r.finished_at,
        score: q.get("score").and_then(|v| v.as_f64()),
        verdict: q.get("verdict").and_then(|v| v.as_str()).map(String::from),
        shares: if events_job && !q.is_null() {
            shares
                .iter()
                .filter_map(|(n, p)| share(*p).map(|v| (n.to_string(), v)))
                .collect()
        } else {
            Vec::new()
        },
        warnings: q
            .get("warnings")
            .and_then(|w| w.as_array())
            .map(|w| {
                w.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        unmatched_campaigns: q
            .get("spend")
            .and_then(|s| s.get("unmatched_campaigns"))
            .and_then(|u| u.as_array())
            .map(|u| {
                u.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        spend_matched_share: q
            .get("spend")
            .and_then(|s| s.get("share"))
            .and_then(|v| v.as_f64()),
    }
}
