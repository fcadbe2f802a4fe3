//! The events job on the BigQuery engine: the same claim, commit rule and cursor as the
//! in-memory cycle, with extract, attribute and load done by SQL jobs inside BigQuery
//! (`crate::pushdown`). The rows the jobs write become visible at the sink's commit marker.

use std::time::Instant;

use super::error::{Cycled, Failed, Failure};
use super::{failpoint, Pipeline, RunSummary};
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;
use crate::pushdown::{Engine, Models};
use crate::sinks::{Sink, Table};
use crate::sources::{ReadRequest, Source};
use crate::store::{CursorPosition, RunStore};

impl<S: Source + Sync, K: Sink + Sync, R: RunStore> Pipeline<S, K, R> {
    /// Runs the cycle on `engine`, then commits the sink's marker.
    pub(super) async fn pushed_cycle(
        &self,
        engine: &Engine,
        (run, job): (RunId, &str),
        req: &ReadRequest,
        started: Instant,
    ) -> Result<Cycled, Failed> {
        let mut summary = RunSummary::new(run, job);
        let plan = &self.options.plan;
        let models = Models {
            rules: &plan.rule_models,
            markov: plan.markov,
            shapley: plan.shapley,
            lookback_micros: plan.lookback_micros,
            conversion_lookback: &plan.conversion_lookback,
        };
        let done = engine
            .cycle(models, &self.options.parse, req, (run, Timestamp::now()))
            .await
            .map_err(|(kind, cause)| {
                let failure = Failure {
                    cause: cause.context("BigQuery engine cycle failed"),
                    kind,
                };
                Failed::new(failure, summary.clone())
            })?;
        let c = done.counts;
        summary.read.read = c.read;
        summary.read.used = c.read;
        summary.persons = c.persons;
        summary.conversions = c.conversions;
        summary.touchpoints = c.touchpoints;
        summary.credits_by_model = c.credits_by_model;
        let credits = summary.credits();
        for (table, n) in [
            (Table::Touchpoints, c.touchpoints),
            (Table::Conversions, c.conversions),
            (Table::AttributionCredits, credits),
        ] {
            summary.rows_by_table.insert(table, n);
        }
        // Only now do the rows become visible.
        failpoint::hit(failpoint::BEFORE_SINK_COMMIT).await;
        if let Err(e) = self.sink.commit(run, job).await {
            return Err(Failed::new(Failure::of(e, "load failed"), summary));
        }
        tracing::info!(
            jobs = done.jobs,
            bytes_billed = done.bytes_billed,
            distinct_paths = done.distinct_paths,
            rows = summary.rows_written(),
            secs = started.elapsed().as_secs_f64(),
            "BigQuery engine cycle committed"
        );
        let (label, cursor) = match done.cursor {
            Some((text, label)) => (Some(label), Some(text)),
            None => (None, None),
        };
        summary.cursor = label;
        summary.window_end = Some(done.window.1);
        summary.duration = started.elapsed();
        let source_job = self.source.job();
        Ok(Cycled {
            summary,
            cursor: cursor.map(|c| CursorPosition::new(&source_job, super::EVENTS_PARTITION, c)),
            window: (Some(done.window.0), Some(done.window.1)),
        })
    }
}
