//! Waiting for an asynchronous report (Meta report runs, Microsoft reports, X stats jobs):
//! polls with a doubling interval until the job is done or the configured deadline passes.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::AdError;

/// What one poll found.
#[derive(Debug)]
pub enum Polled<T> {
    Ready(T),
    /// Still running (with a progress note for the log).
    Pending(String),
}

/// Polls `check` starting `first` apart, doubling to at most 30 s, until it is ready or
/// `deadline` has passed (a transient error: the next run starts a fresh report).
pub async fn until_ready<T, F, Fut>(
    what: &str,
    first: Duration,
    deadline: Duration,
    mut check: F,
) -> Result<T, AdError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Polled<T>, AdError>>,
{
    let started = Instant::now();
    let mut wait = first.max(Duration::from_millis(1));
    let mut polls = 0u32;
    loop {
        polls += 1;
        match check().await? {
            Polled::Ready(t) => {
                tracing::debug!(
                    what,
                    polls,
                    secs = started.elapsed().as_secs_f64(),
                    "report ready"
                );
                return Ok(t);
            }
            Polled::Pending(note) => {
                if started.elapsed() + wait > deadline {
                    return Err(AdError::Transient(anyhow!(
                        "{what}: not ready after {:.0?} ({polls} polls, last: {note}); raise report_deadline if reports are slow",
                        started.elapsed()
                    )));
                }
                tracing::info!(what, polls, progress = %note, wait_secs = wait.as_secs_f64(), "report not ready; polling again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}
