//! Ad runs: one per account and cycle. Claim the account's job, pull its restatement window,
//! write every campaign-day (the newest pull of a key wins downstream), and commit only after
//! the sink acknowledged all of them. A failure records its cause and moves nothing.

use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use super::campaigns::SpendCoverage;
use super::error::{Cycled, Failed, Failure};
use super::quality::Quality;
use super::rows::{self, RowMeta};
use super::{load, Outcome, Pipeline, RunError, RunSummary};
use crate::ads::{AdSource, AnyAdSource};
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;
use crate::sinks::{Sink, Table};
use crate::sources::Source;
use crate::store::{CursorPosition, RunStore, Trigger};

/// Ad accounts pulled at once (each platform has its own limiter).
const PARALLEL_ACCOUNTS: usize = 4;
/// The cursor partition of ad jobs: the last account day pulled.
pub const ADS_PARTITION: &str = "ads";

impl<S: Source + Sync, K: Sink + Sync, R: RunStore> Pipeline<S, K, R> {
    /// One cycle of every job: the events job first (its touchpoints judge the spend
    /// coverage of the ad runs), then every ad account; then derived outputs are refreshed.
    pub async fn run_all(&self, trigger: Trigger) -> Vec<(String, Result<Outcome, RunError>)> {
        let mut out = vec![(self.source.job(), self.run_once(trigger).await)];
        out.extend(self.run_ad_jobs(trigger).await);
        out
    }

    /// One run of every ad account (a few at a time), then the derived outputs.
    pub async fn run_ad_jobs(&self, trigger: Trigger) -> Vec<(String, Result<Outcome, RunError>)> {
        let mut out: Vec<(String, Result<Outcome, RunError>)> =
            self.run_fx(trigger).await.into_iter().collect();
        let ads: Vec<(String, Result<Outcome, RunError>)> = stream::iter(self.ads.iter())
            .map(|a| async move { (a.job(), self.run_ads(a, trigger).await) })
            .buffered(PARALLEL_ACCOUNTS)
            .collect()
            .await;
        out.extend(ads);
        if let Err(e) = self.sink.refresh_derived().await {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not refresh derived outputs"
            );
        }
        out
    }

    /// One run of an ad account's job.
    pub async fn run_ads(
        &self,
        source: &AnyAdSource,
        trigger: Trigger,
    ) -> Result<Outcome, RunError> {
        let started = Instant::now();
        let job = source.job();
        let result = self
            .run_job(&job, trigger, |run, notes| {
                self.ad_cycle(source, run, &job, notes, started)
            })
            .await;
        super::run_metrics::record_run(&job, &result, started.elapsed());
        result
    }

    /// Pull, write, commit the sink.
    async fn ad_cycle(
        &self,
        source: &AnyAdSource,
        run: RunId,
        job: &str,
        sink_notes: Vec<String>,
        started: Instant,
    ) -> Result<Cycled, Failed> {
        let mut summary = RunSummary::new(run, job);
        let t = Instant::now();
        let resolved = match source.resolve().await {
            Ok(r) => r,
            Err(e) => {
                let f = Failure::of(e, "reading the account's time zone and currency");
                return Err(Failed::new(f, summary));
            }
        };
        let mut notes = resolved.map(|r| r.notes).unwrap_or_default();
        notes.extend(sink_notes);
        let window = source.window();
        let (from, to) = window.unwrap_or(crate::ads::EVERY_DAY);
        let rows: Vec<AdMetricRow> = match source.fetch(from, to).await {
            Ok(r) => r,
            Err(e) => {
                return Err(Failed::new(
                    Failure::of(e, "pulling ad metrics failed"),
                    summary,
                ))
            }
        };
        let days = window.map_or("the whole file".to_string(), |(f, t)| format!("{f}..{t}"));
        tracing::info!(rows = rows.len(), %days, secs = t.elapsed().as_secs_f64(), "ad metrics pulled");
        // A snapshot (a file) that has not changed since the last run is not written again.
        let position = match window {
            Some((_, to)) => to.to_string(),
            None => format!("content:{:016x}", content_hash(&rows)),
        };
        let span = window.map_or((None, None), |(f, t)| {
            (
                Some(Timestamp::start_of(f)),
                Some(Timestamp::start_of(t.add_days(1))),
            )
        });
        let done = |summary| Cycled {
            summary,
            cursor: Some(CursorPosition::new(job, ADS_PARTITION, position.clone())),
            window: span,
        };
        // …unless the sink no longer holds it (an output directory deleted).
        if window.is_none() && self.sink.holds(Table::AdMetrics).await {
            match self.store.cursor(job, ADS_PARTITION).await {
                Ok(Some(p)) if p == position => {
                    tracing::info!("ad metrics unchanged since the last run; nothing to write");
                    summary.rows_by_table.insert(Table::AdMetrics, 0);
                    summary.duration = started.elapsed();
                    return Ok(done(summary));
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(Failed::new(
                        Failure::of(e, "reading the ads cursor"),
                        summary,
                    ))
                }
            }
        }
        let pulled_at = Timestamp::now();
        let meta = RowMeta {
            run_id: run,
            loaded_at: pulled_at,
        };
        let encoded = rows
            .iter()
            .map(|r| rows::ad_metric(r, pulled_at, meta))
            .collect();
        let loaded = match load::write_table(&self.sink, run, Table::AdMetrics, encoded).await {
            Ok(l) => l,
            Err(e) => return Err(Failed::new(Failure::of(e, "load failed"), summary)),
        };
        summary
            .rows_by_table
            .insert(Table::AdMetrics, loaded.acknowledged);
        let index = self.campaigns.lock().expect("campaign index lock").clone();
        let rates = self.fx.as_ref().and_then(|f| f.current());
        let spend = index.map(|i| SpendCoverage::measure(&rows, &i, rates.as_deref()));
        let quality = Quality::for_ads(
            loaded.counts(),
            loaded.checksum.finish(),
            spend,
            notes,
            &self.options.quality,
        );
        for w in &quality.warnings {
            tracing::warn!(warning = %w, "data quality");
        }
        let failed = quality.failure();
        summary.quality = Some(quality);
        summary.duration = started.elapsed();
        if let Some(f) = failed {
            return Err(Failed::new(f, summary));
        }
        if let Err(e) = self.sink.commit(run, job).await {
            return Err(Failed::new(Failure::of(e, "load failed"), summary));
        }
        summary.window_end = span.1;
        summary.cursor = window.map(|(_, t)| t.to_string());
        Ok(done(summary))
    }
}

/// A stable fingerprint of rows (FNV-1a over their debug form).
fn content_hash(rows: &[AdMetricRow]) -> u64 {
    rows.iter().fold(0xcbf2_9ce4_8422_2325, |h, r| {
        format!("{r:?}\n")
            .bytes()
            .fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
    })
}

/// The shared campaign index the events run leaves for ad runs.
pub type SharedIndex = std::sync::Mutex<Option<Arc<super::campaigns::CampaignIndex>>>;
