//! The events job: read what is new since the cursor, attribute it, load it, and propose the
//! source's next cursor for the commit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::attribute::attribute;
use super::error::{Cycled, Failed, Failure};
use super::rows::RowMeta;
use super::{campaigns, channel_credit, failpoint, load, quality, run_metrics};
use super::{Outcome, Pipeline, RunError, RunSummary};
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;
use crate::sinks::{Sink, Table};
use crate::sources::{ReadRequest, Source};
use crate::store::{CursorPosition, RunStore, Trigger};

/// The cursor partition of event sources.
pub const EVENTS_PARTITION: &str = "events";

/// What one run covers: the normal incremental run, or one day of a backfill.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub trigger: Trigger,
    /// The lease and `sync_runs.job` name.
    pub job: String,
    /// A fixed read window `[from, until)` (backfill); `None` reads from the stored horizon.
    pub window: Option<(Timestamp, Timestamp)>,
    /// The position committed instead of the events horizon (backfill progress); `None`
    /// commits the horizon.
    pub progress: Option<CursorPosition>,
}

impl<S: Source + Sync, K: Sink + Sync, R: RunStore> Pipeline<S, K, R> {
    /// Runs one incremental cycle of the source's job.
    pub async fn run_once(&self, trigger: Trigger) -> Result<Outcome, RunError> {
        let spec = RunSpec {
            trigger,
            job: self.source.job(),
            window: None,
            progress: None,
        };
        self.run(&spec).await
    }

    /// Runs one cycle as `spec` says, recording its outcome in the metrics.
    pub async fn run(&self, spec: &RunSpec) -> Result<Outcome, RunError> {
        let started = Instant::now();
        let result = self
            .run_job(&spec.job, spec.trigger, |run, notes| {
                self.events_run(spec, run, notes, started)
            })
            .await;
        run_metrics::record_run(&spec.job, &result, started.elapsed());
        result
    }

    /// Reads the cursor, then the cycle; the cursor to commit is the source's, or the
    /// backfill's progress.
    async fn events_run(
        &self,
        spec: &RunSpec,
        run: RunId,
        sink_notes: Vec<String>,
        started: Instant,
    ) -> Result<Cycled, Failed> {
        let source_job = self.source.job();
        let cursor = match spec.window {
            Some(_) => None,
            None => self
                .store
                .cursor(&source_job, super::EVENTS_PARTITION)
                .await
                .map_err(|e| {
                    Failed::new(
                        Failure::of(e, "reading the events cursor"),
                        RunSummary::default(),
                    )
                })?,
        };
        let req = ReadRequest {
            cursor,
            window: spec.window,
            now: Timestamp::now(),
            max_future_micros: self.options.max_future_micros,
            lookback_micros: self.options.plan.max_lookback_micros(),
            training_micros: self.options.training_micros,
        };
        let mut done = match &self.engine {
            Some(engine) => {
                self.pushed_cycle(engine, (run, &spec.job), &req, started)
                    .await?
            }
            None => {
                self.cycle(run, &spec.job, &req, sink_notes, started)
                    .await?
            }
        };
        if let Some(p) = &spec.progress {
            done.cursor = Some(p.clone());
        }
        Ok(done)
    }

    /// The channel shares of `job`'s latest succeeded run that recorded them (for drift).
    async fn previous_shares(
        &self,
        job: &str,
    ) -> Option<(Option<RunId>, Vec<quality::ShareRecord>)> {
        let recent = match self.store.recent(50).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read earlier runs; no drift check this run");
                return None;
            }
        };
        recent.into_iter().find_map(|r| {
            let shares = r.counts.quality.get("shares")?;
            (r.job == job && r.status == crate::store::RunStatus::Succeeded)
                .then(|| serde_json::from_value(shares.clone()).ok())
                .flatten()
                .map(|s| (Some(r.id), s))
        })
    }

    /// Extract, attribute, load.
    async fn cycle(
        &self,
        run: RunId,
        job: &str,
        req: &ReadRequest,
        sink_notes: Vec<String>,
        started: Instant,
    ) -> Result<Cycled, Failed> {
        let mut summary = RunSummary::new(run, job);
        let t = Instant::now();
        let mut extract = match self.source.extract(req, &self.options.parse).await {
            Ok(e) => e,
            Err(e) => return Err(Failed::new(Failure::of(e, "extract failed"), summary)),
        };
        summary.read = extract.counts.clone();
        failpoint::hit(failpoint::AFTER_EXTRACT).await;
        for n in &extract.notes {
            tracing::warn!(note = %n, "source");
        }
        let (rss_mb, peak_rss_mb) = crate::telemetry::resident_mb();
        tracing::info!(
            events = extract.counts.read,
            skipped = extract.counts.skipped_total(),
            sessions = extract.sessions.len(),
            conversions = extract.conversions.len(),
            secs = t.elapsed().as_secs_f64(),
            rss_mb,
            peak_rss_mb,
            "extracted"
        );
        let t = Instant::now();
        let plan = Arc::clone(&self.options.plan);
        let next = extract.next_cursor.take();
        let mut notes = std::mem::take(&mut extract.notes);
        notes.extend(sink_notes);
        let cursor_label = extract.cursor_label.take();
        let span = extract.fresh_span;
        let window = (
            extract.read_from.or(span.map(|s| s.0)),
            extract.read_until.or(span.map(|s| s.1)),
        );
        let previous = self.previous_shares(job).await;
        let rates = self.fx.as_ref().and_then(|f| f.current());
        let boot = self.options.bootstrap;
        let attributed = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let att = attribute(extract, &plan);
            let (rss_mb, peak_rss_mb) = crate::telemetry::resident_mb();
            tracing::debug!(
                secs = t.elapsed().as_secs_f64(),
                rss_mb,
                peak_rss_mb,
                "attribute: done"
            );
            Arc::new(att)
        });
        let att = match attributed.await {
            Ok(a) => a,
            Err(e) => {
                let cause = anyhow::Error::new(e).context("attribution panicked");
                return Err(Failed::new(Failure::permanent(cause), summary));
            }
        };
        // The channel shares and their intervals feed only warnings and their own table: they
        // are computed while the load waits on the sink.
        let summarized = {
            let (att, plan) = (Arc::clone(&att), Arc::clone(&self.options.plan));
            tokio::task::spawn_blocking(move || {
                let t = Instant::now();
                let shares = channel_credit::summarize(&att, &plan, boot, rates.as_deref());
                tracing::debug!(
                    secs = t.elapsed().as_secs_f64(),
                    "channel shares and intervals"
                );
                shares
            })
        };
        // The campaign index (for the server) is built beside the load too.
        let indexed = {
            let att = Arc::clone(&att);
            tokio::task::spawn_blocking(move || campaigns::CampaignIndex::from_attributed(&att))
        };
        summary.persons = att.identities.persons() as u64;
        summary.conversions = att.credited.len() as u64;
        summary.touchpoints = att.new_touchpoints().count() as u64;
        let mut by_model: BTreeMap<String, u64> = BTreeMap::new();
        for c in att.credited.iter().flat_map(|c| &c.credits) {
            *by_model.entry(c.model.as_str().to_string()).or_default() += 1;
        }
        summary.credits_by_model = by_model;
        let q = &self.options.quality;
        let mut quality = quality::Quality::assess(&summary.read, &att, q);
        quality.notes = notes;
        quality.evaluate(q);
        if let Some(f) = quality.failure() {
            summary.quality = Some(quality);
            return Err(Failed::new(f, summary));
        }
        let (rss_mb, peak_rss_mb) = crate::telemetry::resident_mb();
        tracing::info!(
            conversions = summary.conversions,
            touchpoints = summary.touchpoints,
            credits = summary.credits(),
            secs = t.elapsed().as_secs_f64(),
            rss_mb,
            peak_rss_mb,
            "attributed"
        );
        let t = Instant::now();
        let meta = RowMeta {
            run_id: run,
            loaded_at: Timestamp::now(),
        };
        let written = match load::load(&self.sink, meta, &att).await {
            Ok(w) => w,
            Err(e) => return Err(Failed::new(Failure::of(e, "load failed"), summary)),
        };
        for (table, l) in written {
            quality.record_table(table, l.counts(), l.checksum.finish());
            summary.rows_by_table.insert(table, l.acknowledged);
        }
        let shares = match summarized.await {
            Ok(s) => s,
            Err(e) => {
                let cause = anyhow::Error::new(e).context("channel shares panicked");
                return Err(Failed::new(Failure::permanent(cause), summary));
            }
        };
        let (prev_run, prev) = previous.unwrap_or_default();
        let drift =
            channel_credit::drift(&prev, prev_run, &shares, self.options.max_interval_width);
        for d in &drift {
            tracing::warn!(note = %d, "channel shares");
        }
        quality.notes.extend(drift);
        quality.shares = shares
            .iter()
            .map(channel_credit::ChannelShare::record)
            .collect();
        if !shares.is_empty() {
            let rows = shares
                .iter()
                .map(|s| super::rows::channel_credit(s, meta))
                .collect();
            match load::write_table(&self.sink, run, Table::ChannelCredit, rows).await {
                Ok(l) => {
                    quality.record_table(Table::ChannelCredit, l.counts(), l.checksum.finish());
                    summary
                        .rows_by_table
                        .insert(Table::ChannelCredit, l.acknowledged);
                }
                Err(e) => return Err(Failed::new(Failure::of(e, "load failed"), summary)),
            }
        }
        quality.evaluate(q);
        for w in &quality.warnings {
            tracing::warn!(warning = %w, "data quality");
        }
        if let Some(f) = quality.failure() {
            summary.quality = Some(quality);
            return Err(Failed::new(f, summary));
        }
        // Only now do the rows become final (and, in BigQuery, visible).
        failpoint::hit(failpoint::BEFORE_SINK_COMMIT).await;
        if let Err(e) = self.sink.commit(run, job).await {
            return Err(Failed::new(Failure::of(e, "load failed"), summary));
        }
        summary.quality = Some(quality);
        match indexed.await {
            Ok(index) => {
                *self.campaigns.lock().expect("campaign index lock") = Some(Arc::new(index));
            }
            // As when it was built here: a panic in it is a panic of the cycle.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
        // The run's journeys and credits are as large as the extract was: freed beside the commit.
        std::thread::spawn(move || drop(att));
        let (rss_mb, peak_rss_mb) = crate::telemetry::resident_mb();
        tracing::info!(
            rows = summary.rows_written(),
            secs = t.elapsed().as_secs_f64(),
            rss_mb,
            peak_rss_mb,
            "loaded and acknowledged"
        );
        summary.window_end = window.1;
        summary.cursor = cursor_label;
        summary.duration = started.elapsed();
        let source_job = self.source.job();
        Ok(Cycled {
            summary,
            cursor: next.map(|c| CursorPosition::new(&source_job, super::EVENTS_PARTITION, c)),
            window,
        })
    }
}
