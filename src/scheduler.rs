//! The daemon loop: one cycle per tick, never overlapping; stops on SIGTERM/SIGINT.

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::Context;
use crate::pipeline::{Outcome, Pipeline};
use crate::sinks::Sink;
use crate::sources::Source;
use crate::store::{RunStore, Trigger};

/// Runs cycles every `schedule.interval` until a shutdown signal.
pub async fn run_loop<S: Source + Sync, K: Sink + Sync, R: RunStore>(
    ctx: &Context,
    pipeline: Pipeline<S, K, R>,
) -> ExitCode {
    let interval = ctx.settings.schedule.interval;
    let mut failures: u32 = 0;
    tracing::info!(interval = ?interval, "daemon started");
    loop {
        let wait = match pipeline.run_once(Trigger::Schedule).await {
            Ok(Outcome::Completed(s)) => {
                failures = 0;
                tracing::info!(rows = s.rows_written(), "run completed");
                interval
            }
            Ok(Outcome::LeaseHeld { .. }) => interval,
            Err(e) => {
                failures += 1;
                tracing::error!(error = %e, failures, "run failed");
                backoff(interval, failures, ctx.settings.schedule.max_backoff)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("shutdown requested; exiting");
                return ExitCode::SUCCESS;
            }
        }
    }
}

/// Wait after `failures` consecutive failures: short first, doubling, capped.
pub fn backoff(interval: Duration, failures: u32, cap: Duration) -> Duration {
    let base = Duration::from_secs(5).min(interval);
    base.saturating_mul(1u32 << failures.min(16))
        .min(cap)
        .min(interval.max(base))
}
