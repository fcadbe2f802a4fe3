//! The daemon loop: one cycle per tick, never overlapping; failed cycles back off; a shutdown
//! signal lets the current cycle finish within the grace period, else abandons it cleanly.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::Settings;
use crate::domain::ids::RunId;
use crate::pipeline::{Outcome, Pipeline, RunError};
use crate::sinks::Sink;
use crate::sources::Source;
use crate::store::{RunStore, Trigger};

/// Loop timing.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub interval: Duration,
    pub shutdown_grace: Duration,
    pub start_jitter: Duration,
    pub max_backoff: Duration,
    pub auto_migrate: bool,
}

impl LoopOptions {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            interval: s.schedule.interval,
            shutdown_grace: s.schedule.shutdown_grace,
            start_jitter: s.schedule.start_jitter,
            max_backoff: s.schedule.max_backoff,
            auto_migrate: s.run_store.auto_migrate,
        }
    }
}

/// A receiver that turns true on SIGTERM or SIGINT.
pub fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = term => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
        let _ = tx.send(true);
    });
    rx
}

/// What the loop carries between ticks.
#[derive(Default)]
struct State {
    migrated: bool,
    /// Runs whose end could not be written yet, with their cause.
    unsettled: Vec<(RunId, String)>,
    failures: u32,
}

async fn tick<S: Source + Sync, K: Sink + Sync, R: RunStore>(
    p: &Pipeline<S, K, R>,
    opts: &LoopOptions,
    st: &mut State,
    shutdown: &watch::Receiver<bool>,
) -> Result<Outcome, RunError> {
    if opts.auto_migrate && !st.migrated {
        p.store().migrate().await?;
        st.migrated = true;
    }
    while let Some((run, cause)) = st.unsettled.first().cloned() {
        p.settle(run, &cause).await?;
        st.unsettled.remove(0);
    }
    let events = p.run_once(Trigger::Schedule).await;
    if *shutdown.borrow() {
        tracing::info!("shutdown requested; not starting the ad runs of this cycle");
        return events;
    }
    for (job, r) in p.run_ad_jobs(Trigger::Schedule).await {
        if let Err(e) = r {
            tracing::error!(%job, error = %e, "ad run failed; the next cycle pulls its window again");
            if let (true, Some(run)) = (e.unrecorded, e.run) {
                st.unsettled.push((run, format!("{:#}", e.cause)));
            }
        }
    }
    events
}

/// Runs cycles every `interval` until `shutdown` turns true, rewriting `report` after each;
/// exits 0.
pub async fn run_loop<S: Source + Sync, K: Sink + Sync, R: RunStore>(
    pipeline: Pipeline<S, K, R>,
    opts: LoopOptions,
    mut shutdown: watch::Receiver<bool>,
    report: Option<crate::report::DaemonReport>,
) -> ExitCode {
    let mut st = State::default();
    tracing::info!(interval = ?opts.interval, grace = ?opts.shutdown_grace, "daemon started");
    let jitter = opts.start_jitter.mul_f64(rand::random::<f64>());
    if !jitter.is_zero() {
        tracing::info!(delay = ?jitter, "waiting a random start delay so replicas spread out");
        if sleep_or_shutdown(jitter, &mut shutdown).await {
            return ExitCode::SUCCESS;
        }
    }
    loop {
        if *shutdown.borrow() {
            break;
        }
        let started = Instant::now();
        let (result, cancelled) = {
            let stop = shutdown.clone();
            let fut = tick(&pipeline, &opts, &mut st, &stop);
            tokio::pin!(fut);
            tokio::select! {
                r = &mut fut => (Some(r), false),
                _ = shutdown.wait_for(|s| *s) => {
                    tracing::info!(grace = ?opts.shutdown_grace, "shutdown requested; letting the current run finish");
                    match tokio::time::timeout(opts.shutdown_grace, &mut fut).await {
                        Ok(r) => (Some(r), false),
                        Err(_) => (None, true),
                    }
                }
            }
        };
        if cancelled {
            for run in pipeline.take_interrupted() {
                tracing::warn!(
                    run_id = run.0,
                    "the run did not finish within the grace period; abandoning it"
                );
                let cause = "shutdown: the run did not finish within schedule.shutdown_grace";
                if let Err(e) = pipeline.settle(run, cause).await {
                    tracing::error!(run_id = run.0, error = %e, "could not record the shutdown; the next runner will mark the run abandoned");
                }
            }
            break;
        }
        if let Some(r) = &report {
            r.refresh().await;
        }
        let wait = match result.expect("not cancelled") {
            Ok(Outcome::Completed(s)) => {
                st.failures = 0;
                tracing::info!(
                    rows = s.rows_written(),
                    secs = s.duration.as_secs_f64(),
                    "run completed"
                );
                opts.interval.saturating_sub(started.elapsed())
            }
            Ok(Outcome::LeaseHeld { .. }) => {
                st.failures = 0;
                opts.interval.saturating_sub(started.elapsed())
            }
            Err(e) => {
                st.failures += 1;
                if e.unrecorded {
                    if let Some(run) = e.run {
                        st.unsettled.push((run, format!("{:#}", e.cause)));
                    }
                }
                let wait = backoff(opts.interval, st.failures, opts.max_backoff);
                tracing::error!(error = %e, failures = st.failures, retry_in = ?wait, "cycle failed; will retry");
                wait
            }
        };
        if *shutdown.borrow() || sleep_or_shutdown(wait, &mut shutdown).await {
            break;
        }
    }
    tracing::info!("daemon stopped");
    ExitCode::SUCCESS
}

/// Sleeps; true when shutdown was requested meanwhile.
async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.wait_for(|s| *s) => true,
    };
    stopped || *shutdown.borrow()
}

/// Wait after `failures` consecutive failures: 1 s doubling, capped by `cap` and the interval.
pub fn backoff(interval: Duration, failures: u32, cap: Duration) -> Duration {
    let d = Duration::from_secs(1).saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    d.min(cap).min(interval)
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let i = Duration::from_secs(900);
        let cap = Duration::from_secs(60);
        let got: Vec<u64> = (1..=8).map(|f| backoff(i, f, cap).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            backoff(Duration::from_secs(3), 5, cap),
            Duration::from_secs(3)
        );
    }
}
