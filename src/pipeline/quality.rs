//! Every run measures its own quality: does what it read add up (reconciliation), how well
//! were persons resolved (identity), how much of the conversions could be attributed
//! (coverage), and checksums of what it wrote. Stored with the run, shown by `status`,
//! exported in `/metrics`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::attribute::Attributed;
use super::error::Failure;
use crate::config::{OnLowScore, QualitySettings};
use crate::domain::checksum::Checksum;
use crate::domain::extract::{ReadCounts, SkipReason};
use crate::domain::table::Table;
use crate::domain::touchpoint::UNASSIGNED;

/// Events read against events used and skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub events_read: u64,
    pub events_used: u64,
    pub skipped: BTreeMap<String, u64>,
    /// read = used + skipped.
    pub balanced: bool,
    /// used / (read − outside_window − duplicate): the share of the distinct events in the
    /// run's window that were usable (1 when there were none).
    pub score: f64,
    /// Per table: rows produced and rows the sink acknowledged.
    pub rows: BTreeMap<Table, RowCounts>,
    /// New events that arrived later than the source's overlap after their timestamp (PostHog:
    /// `created_at` − `timestamp` > `posthog.overlap`); an event-time cursor would miss them.
    #[serde(default)]
    pub late_events: u64,
    /// The largest `created_at` − `timestamp` among the new events, in seconds.
    #[serde(default)]
    pub max_lateness_secs: f64,
    /// Text fields cut to 2,048 bytes (see `domain::event::MAX_TEXT`).
    #[serde(default)]
    pub truncated_fields: u64,
}

/// Rows of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    pub produced: u64,
    pub acknowledged: u64,
}

/// How well identities were resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Share of parsed events that had a distinct_id.
    pub events_with_person_key: f64,
    /// Share of conversion events that had a distinct_id.
    pub conversions_with_person_key: f64,
    /// Share of persons whose journey joined anonymous and identified ids.
    pub journeys_joined: f64,
    /// Distinct ids joined to a person only through `identity.stitch_property`.
    pub joined_by_stitching: u64,
    pub persons: u64,
}

/// How much of the run could be attributed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Share of this run's conversions with at least one non-direct touchpoint in the window.
    pub conversions_with_non_direct_touch: f64,
    /// Share of this run's touchpoints whose channel is not `unassigned`.
    pub touchpoints_assigned: f64,
    /// Click ids that arrived as `"<masked>"`.
    pub masked_click_ids: u64,
}

/// What the quality record concludes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[default]
    Ok,
    /// Something is worth a look; the run still commits.
    Warn,
    /// Below what `[quality]` accepts: the run fails and its cursor stays.
    Fail,
}

impl Verdict {
    fn of(reasons: &[String], warnings: &[String]) -> Self {
        if !reasons.is_empty() {
            Verdict::Fail
        } else if !warnings.is_empty() {
            Verdict::Warn
        } else {
            Verdict::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The quality record of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Weighted score of the three parts, 0 to 1.
    pub score: f64,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub warnings: Vec<String>,
    pub reconciliation: Reconciliation,
    pub identity: Identity,
    pub coverage: Coverage,
    pub checksums: BTreeMap<Table, Checksum>,
    /// Ad runs: how much of the spend the tracked traffic explains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend: Option<super::campaigns::SpendCoverage>,
    /// What the source or the run wants said (a file that changed, a zone that differs); each
    /// is also a warning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Each model's channel shares with their intervals (what the next run's drift check
    /// compares against).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<ShareRecord>,
}

/// A channel's share under a model, as the quality record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareRecord {
    pub model: String,
    pub channel: String,
    pub share: f64,
    pub low: f64,
    pub high: f64,
    pub journeys: u64,
}

fn share(n: u64, d: u64) -> f64 {
    if d == 0 {
        1.0
    } else {
        n as f64 / d as f64
    }
}

impl Quality {
    /// Measures what can be known before loading.
    pub fn assess(counts: &ReadCounts, att: &Attributed, q: &QualitySettings) -> Self {
        let skipped: BTreeMap<String, u64> = SkipReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), counts.skipped(*r)))
            .collect();
        let reconciliation = Reconciliation {
            events_read: counts.read,
            events_used: counts.used,
            skipped,
            balanced: counts.read == counts.used + counts.skipped_total(),
            // A duplicate is an event whose first copy was used (PostHog's exports deliver at
            // least once): it loses nothing, so it does not lower the score.
            score: share(
                counts.used,
                counts.read
                    - counts.skipped(SkipReason::OutsideWindow)
                    - counts.skipped(SkipReason::Duplicate),
            ),
            rows: BTreeMap::new(),
            late_events: counts.late_events,
            max_lateness_secs: counts.max_lateness_secs,
            truncated_fields: counts.truncated_fields,
        };
        let parsed = counts.read - counts.skipped(SkipReason::Malformed);
        let persons = att.identities.persons() as u64;
        let identity = Identity {
            events_with_person_key: share(parsed - counts.skipped(SkipReason::NoPersonKey), parsed),
            conversions_with_person_key: share(
                att.conversions.len() as u64,
                att.conversions.len() as u64 + counts.conversions_without_person_key,
            ),
            journeys_joined: share(att.identities.merged_groups, persons),
            joined_by_stitching: att.identities.stitched_ids,
            persons,
        };
        let with_touch = att
            .credited
            .iter()
            .filter(|c| {
                att.journeys
                    .window(&att.conversions[c.index])
                    .iter()
                    .any(|t| !t.channel.is_direct())
            })
            .count() as u64;
        let (mut touches, mut assigned) = (0u64, 0u64);
        for t in att.new_touchpoints() {
            touches += 1;
            if t.channel.as_str() != UNASSIGNED {
                assigned += 1;
            }
        }
        let coverage = Coverage {
            conversions_with_non_direct_touch: share(with_touch, att.credited.len() as u64),
            touchpoints_assigned: share(assigned, touches),
            masked_click_ids: counts.masked_click_ids,
        };
        let mut quality = Quality {
            reconciliation,
            identity,
            coverage,
            ..Default::default()
        };
        quality.evaluate(q);
        quality
    }

    /// Scores and judges: an unbalanced count always fails; a reconciliation score under the
    /// threshold fails or warns per `quality.on_low_score`; low identity or coverage warns.
    pub fn evaluate(&mut self, q: &QualitySettings) {
        self.reasons.clear();
        self.warnings.clear();
        let r = &self.reconciliation;
        if !r.balanced {
            let skipped: u64 = r.skipped.values().sum();
            self.reasons.push(format!(
                "events do not add up: read {} ≠ used {} + skipped {skipped}",
                r.events_read, r.events_used
            ));
        }
        for (table, c) in &r.rows {
            if c.produced != c.acknowledged {
                self.reasons.push(format!(
                    "{table}: {} rows produced but {} acknowledged by the sink",
                    c.produced, c.acknowledged
                ));
            }
        }
        if r.score < q.threshold {
            let detail: Vec<String> = r
                .skipped
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let msg = format!(
                "only {:.1}% of the events read were usable (quality.threshold {:.1}%): skipped {}",
                r.score * 100.0,
                q.threshold * 100.0,
                detail.join(", ")
            );
            match q.on_low_score {
                OnLowScore::Fail => self.reasons.push(msg),
                OnLowScore::Warn => self.warnings.push(msg),
            }
        }
        let low = |name: &str, v: f64, out: &mut Vec<String>| {
            if v < q.coverage_warn_below {
                out.push(format!(
                    "{name} is {:.1}% (below quality.coverage_warn_below)",
                    v * 100.0
                ));
            }
        };
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(self.notes.iter().cloned());
        if r.events_read == 0 {
            warnings.push(
                "the run read no events: check source.path (or the PostHog project) if events were expected"
                    .into(),
            );
        }
        if r.truncated_fields > 0 {
            warnings.push(format!(
                "{} text fields longer than {} bytes were cut (utm_*, URLs, session ids)",
                r.truncated_fields,
                crate::domain::event::MAX_TEXT
            ));
        }
        if r.late_events > 0 {
            tracing::info!(
                late_events = r.late_events,
                max_lateness_secs = r.max_lateness_secs,
                "late events arrived"
            );
        }
        low(
            "events with a person key",
            self.identity.events_with_person_key,
            &mut warnings,
        );
        low(
            "conversions with a non-direct touchpoint",
            self.coverage.conversions_with_non_direct_touch,
            &mut warnings,
        );
        low(
            "touchpoints with a channel",
            self.coverage.touchpoints_assigned,
            &mut warnings,
        );
        self.warnings = warnings;
        let identity = (self.identity.events_with_person_key
            + self.identity.conversions_with_person_key)
            / 2.0;
        let coverage = (self.coverage.conversions_with_non_direct_touch
            + self.coverage.touchpoints_assigned)
            / 2.0;
        let w = &q.weights;
        self.score = (w.reconciliation * r.score + w.identity * identity + w.coverage * coverage)
            / (w.reconciliation + w.identity + w.coverage);
        self.verdict = Verdict::of(&self.reasons, &self.warnings);
    }

    /// Records what the sink did with one table.
    pub fn record_table(&mut self, table: Table, rows: RowCounts, checksum: Checksum) {
        self.reconciliation.rows.insert(table, rows);
        self.checksums.insert(table, checksum);
    }

    /// The quality of an ad run: every row acknowledged (else it fails), and spend coverage,
    /// which only warns. Identity and coverage do not apply and count as complete.
    pub fn for_ads(
        rows: RowCounts,
        checksum: Checksum,
        spend: Option<super::campaigns::SpendCoverage>,
        notes: Vec<String>,
        q: &QualitySettings,
    ) -> Self {
        let mut out = Self::for_ads_table(Table::AdMetrics, rows, checksum);
        out.warnings.extend(notes.iter().cloned());
        out.notes = notes;
        if let Some(s) = &spend {
            if s.share < q.coverage_warn_below {
                out.warnings.push(format!(
                    "spend with a matching touchpoint is {:.1}% (below quality.coverage_warn_below); unmatched: {}",
                    s.share * 100.0,
                    s.unmatched_campaigns.join(", ")
                ));
            }
            if let Some(r) = &s.reporting {
                if !r.missing_rates.is_empty() {
                    out.warnings.push(format!(
                        "no exchange rate to {} for {}: their spend is left out of the {} sums (NULL, never 1.0)",
                        r.currency,
                        r.missing_rates.join(", "),
                        r.currency
                    ));
                }
            }
        }
        out.spend = spend;
        out.judge();
        out
    }

    /// The quality of a run that only loads one table (ad metrics, exchange rates): it fails
    /// when the sink did not acknowledge every row.
    pub fn for_ads_table(table: Table, rows: RowCounts, checksum: Checksum) -> Self {
        let mut out = Quality::default();
        out.reconciliation.balanced = true;
        out.reconciliation.score = 1.0;
        out.record_table(table, rows, checksum);
        out.identity.events_with_person_key = 1.0;
        out.identity.conversions_with_person_key = 1.0;
        out.coverage.conversions_with_non_direct_touch = 1.0;
        out.coverage.touchpoints_assigned = 1.0;
        if rows.produced != rows.acknowledged {
            out.reasons.push(format!(
                "{table}: {} rows produced but {} acknowledged by the sink",
                rows.produced, rows.acknowledged
            ));
        }
        out.judge();
        out
    }

    fn judge(&mut self) {
        self.score = if self.reasons.is_empty() { 1.0 } else { 0.0 };
        self.verdict = Verdict::of(&self.reasons, &self.warnings);
    }

    pub fn failed(&self) -> bool {
        !self.reasons.is_empty()
    }

    /// Why the run must fail, when it must.
    pub(crate) fn failure(&self) -> Option<Failure> {
        self.failed().then(|| {
            Failure::permanent(anyhow::anyhow!(
                "data quality check failed: {}",
                self.reasons.join("; ")
            ))
        })
    }
}
