//! Ad runs: one per account and cycle. Claim the account's job, pull its restatement window,
//! write every campaign-day (the newest pull of a key wins downstream), and commit only after
//! the sink acknowledged all of them. A failure records its cause and moves nothing.

use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use tracing::Instrument;

use super::campaigns::SpendCoverage;
use super::quality::{Quality, RowCounts};
use super::rows::{self, RowMeta};
use super::{Outcome, Pipeline, RunError, RunSummary};
use crate::ads::{AdSource, AnyAdSource};
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::checksum::ChecksumBuilder;
use crate::domain::ids::RunId;
use crate::domain::time::{Date, Timestamp};
use crate::sinks::{Sink, SinkError, Table};
use crate::sources::Source;
use crate::store::{CursorPosition, Finish, RunStatus, RunStore, Trigger};

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
        let result = async {
            let super::Claimed { run, lease, notes } = match self.take_lease(&job, trigger).await? {
                Ok(claimed) => claimed,
                Err(held) => return Ok(held),
            };
            let span = tracing::info_span!("run", run_id = run.0, %job);
            match self
                .ad_cycle(source, run, &job, notes, started)
                .instrument(span)
                .await
            {
                Err((cause, transient, partial)) => Err(self
                    .fail(run, lease, &job, cause, transient, &partial)
                    .await),
                Ok((summary, window, position)) => {
                    let counts = summary.counts();
                    let cursors = [CursorPosition::new(&job, ADS_PARTITION, position)];
                    let span = window.map(|(f, t)| {
                        (
                            Some(Timestamp::start_of(f)),
                            Some(Timestamp::start_of(t.add_days(1))),
                        )
                    });
                    let fin = Finish {
                        status: RunStatus::Succeeded,
                        counts: &counts,
                        error: None,
                        window: span.unwrap_or((None, None)),
                        cursors: &cursors,
                    };
                    self.commit(lease, run, fin).await?;
                    Ok(Outcome::Completed(Box::new(summary)))
                }
            }
        }
        .await;
        super::run_metrics::record_run(&job, &result, started.elapsed());
        result
    }

    /// Pull, write, commit the sink. Errors carry (cause, transient, what was done).
    async fn ad_cycle(
        &self,
        source: &AnyAdSource,
        run: RunId,
        job: &str,
        sink_notes: Vec<String>,
        started: Instant,
    ) -> Result<(RunSummary, Option<(Date, Date)>, String), (anyhow::Error, bool, RunSummary)> {
        let mut summary = RunSummary {
            run_id: Some(run),
            job: job.to_string(),
            ..Default::default()
        };
        let t = Instant::now();
        let resolved = match source.resolve().await {
            Ok(r) => r,
            Err(e) => {
                let transient = e.is_transient();
                return Err((
                    anyhow::Error::new(e).context("reading the account's time zone and currency"),
                    transient,
                    summary,
                ));
            }
        };
        let mut notes = resolved.map(|r| r.notes).unwrap_or_default();
        notes.extend(sink_notes);
        let window = source.window();
        let (from, to) = window.unwrap_or(crate::ads::EVERY_DAY);
        let rows: Vec<AdMetricRow> = match source.fetch(from, to).await {
            Ok(r) => r,
            Err(e) => {
                let transient = e.is_transient();
                return Err((
                    anyhow::Error::new(e).context("pulling ad metrics failed"),
                    transient,
                    summary,
                ));
            }
        };
        let days = window.map_or("the whole file".to_string(), |(f, t)| format!("{f}..{t}"));
        tracing::info!(rows = rows.len(), %days, secs = t.elapsed().as_secs_f64(), "ad metrics pulled");
        // A snapshot (a file) that has not changed since the last run is not written again.
        let position = match window {
            Some((_, to)) => to.to_string(),
            None => format!("content:{:016x}", content_hash(&rows)),
        };
        // …unless the sink no longer holds it (an output directory deleted).
        if window.is_none() && self.sink.holds(Table::AdMetrics).await {
            match self.store.cursor(job, ADS_PARTITION).await {
                Ok(Some(p)) if p == position => {
                    tracing::info!("ad metrics unchanged since the last run; nothing to write");
                    summary
                        .rows_by_table
                        .insert(Table::AdMetrics.name().to_string(), 0);
                    summary.duration = started.elapsed();
                    return Ok((summary, window, position));
                }
                Ok(_) => {}
                Err(e) => {
                    let transient = e.is_transient();
                    return Err((
                        anyhow::Error::new(e).context("reading the ads cursor"),
                        transient,
                        summary,
                    ));
                }
            }
        }
        let pulled_at = Timestamp::now();
        let meta = RowMeta {
            run_id: run,
            loaded_at: pulled_at,
        };
        let mut checksum = ChecksumBuilder::default();
        let encoded: Vec<_> = rows
            .iter()
            .map(|r| rows::ad_metric(r, pulled_at, meta))
            .collect();
        for e in &encoded {
            checksum.add(&e.row_key, e.values);
        }
        let produced = encoded.len() as u64;
        let written = async {
            let mut acked = 0;
            let mut rest = encoded;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(super::load::CHUNK_ROWS));
                acked += self.sink.write(run, Table::AdMetrics, rest).await?;
                rest = tail;
            }
            Ok::<_, SinkError>(acked)
        }
        .await;
        let acknowledged = match written {
            Ok(n) => n,
            Err(e) => {
                let transient = matches!(e, SinkError::Transient(_));
                return Err((
                    anyhow::Error::new(e).context("load failed"),
                    transient,
                    summary,
                ));
            }
        };
        summary
            .rows_by_table
            .insert(Table::AdMetrics.name().to_string(), acknowledged);
        let index = self.campaigns.lock().expect("campaign index lock").clone();
        let rates = self.fx.as_ref().and_then(|f| f.current());
        let spend = index.map(|i| SpendCoverage::measure(&rows, &i, rates.as_deref()));
        let quality = Quality::for_ads(
            RowCounts {
                produced,
                acknowledged,
            },
            checksum.finish(),
            spend,
            notes,
            &self.quality,
        );
        for w in &quality.warnings {
            tracing::warn!(warning = %w, "data quality");
        }
        let failed = quality.failed().then(|| quality.reasons.join("; "));
        summary.quality = Some(quality);
        summary.duration = started.elapsed();
        if let Some(reasons) = failed {
            return Err((
                anyhow::anyhow!("data quality check failed: {reasons}"),
                false,
                summary,
            ));
        }
        if let Err(e) = self.sink.commit(run, job).await {
            let t = matches!(e, SinkError::Transient(_));
            return Err((anyhow::Error::new(e).context("load failed"), t, summary));
        }
        summary.window_end = window.map(|(_, t)| Timestamp::start_of(t.add_days(1)));
        summary.cursor = window.map(|(_, t)| t.to_string());
        Ok((summary, window, position))
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
