//! What every run does around its work, whatever the job: take the lease and prepare the sink,
//! then commit (cursor and run row together) or record the failure and discard the run's rows.
//! Runs in flight are tracked so a shutdown can settle those it cut short.

use tracing::Instrument;

use super::error::{Cycled, Failed, Failure};
use super::{Outcome, Pipeline, RunError, RunSummary};
use crate::domain::ids::RunId;
use crate::domain::time::{Timestamp, MICROS_PER_DAY};
use crate::http::Classify;
use crate::sinks::{Sink, SinkOwner};
use crate::store::{Claim, Finish, Lease, RunStatus, RunStore, StoreError, Trigger};

/// A run this process opened, with the sink prepared for it.
pub(crate) struct Claimed {
    pub run: RunId,
    pub lease: Lease,
    /// What preparing the sink wants said (for the run's quality record).
    pub notes: Vec<String>,
}

impl<S, K: Sink + Sync, R: RunStore> Pipeline<S, K, R> {
    /// Runs `job`: claims it, does `work` on the claimed run (in a span naming it), then commits
    /// or records the failure. `Ok(LeaseHeld)` when another runner holds the job.
    pub(crate) async fn run_job<W, F>(
        &self,
        job: &str,
        trigger: Trigger,
        work: W,
    ) -> Result<Outcome, RunError>
    where
        W: FnOnce(RunId, Vec<String>) -> F,
        F: std::future::Future<Output = Result<Cycled, Failed>>,
    {
        let Claimed { run, lease, notes } = match self.take_lease(job, trigger).await? {
            Ok(claimed) => claimed,
            Err(held) => return Ok(held),
        };
        self.in_flight.lock().expect("in-flight lock").insert(run);
        let span = tracing::info_span!("run", run_id = run.0, %job);
        let done = work(run, notes).instrument(span).await;
        let result = match done {
            Ok(c) => self.commit(lease, run, c).await,
            Err(f) => Err(self.fail(run, lease, job, f).await),
        };
        // Only a run that got here is settled; one cut short stays for `take_interrupted`.
        self.in_flight.lock().expect("in-flight lock").remove(&run);
        result
    }

    /// Takes the runs left by cycles that were cancelled mid-way (a shutdown whose grace
    /// expired), so they can be settled.
    pub fn take_interrupted(&self) -> Vec<RunId> {
        std::mem::take(&mut *self.in_flight.lock().expect("in-flight lock"))
            .into_iter()
            .collect()
    }

    /// The run store's identity, read once per process: what the sink's output belongs to.
    async fn owner(&self) -> Result<&SinkOwner, StoreError> {
        self.owner
            .get_or_try_init(|| async {
                let (store_id, has_history) = self.store.identity().await?;
                Ok(SinkOwner {
                    store_id,
                    store_label: self.options.store_label.clone(),
                    has_history,
                })
            })
            .await
    }

    /// Takes `job`'s lease and opens a run (`Err(outcome)` when another runner holds it),
    /// prepares the sink (which must belong to this run store), and discards from it what runs
    /// left by dead processes wrote. A sink that belongs to another store fails the run.
    async fn take_lease(
        &self,
        job: &str,
        trigger: Trigger,
    ) -> Result<Result<Claimed, Outcome>, RunError> {
        let (run, lease, abandoned) = match self
            .store
            .claim(job, trigger, &self.options.meta)
            .await?
        {
            Claim::Held { holder } => {
                tracing::info!(%job, %holder, "lease held by another runner; skipping this run");
                return Ok(Err(Outcome::LeaseHeld {
                    job: job.to_string(),
                    holder,
                }));
            }
            Claim::Acquired {
                run,
                lease,
                abandoned,
            } => (run, lease, abandoned),
        };
        let prepared = match self.owner().await {
            Ok(owner) => self
                .sink
                .prepare(owner)
                .await
                .map_err(|e| Failure::of(e, "preparing the sink")),
            Err(e) => Err(Failure::of(e, "reading the run store's identity")),
        };
        let notes = match prepared {
            Ok(n) => n,
            Err(failure) => {
                let failed = Failed::new(failure, RunSummary::new(run, job));
                return Err(self.record_failure(run, lease, job, failed).await);
            }
        };
        for a in &abandoned {
            tracing::warn!(
                abandoned_run = a.0,
                "found a run left running by a dead process; marked abandoned"
            );
            if let Err(e) = self.sink.discard(*a).await {
                tracing::warn!(abandoned_run = a.0, error = %e, "could not discard the abandoned run's rows");
            }
        }
        Ok(Ok(Claimed { run, lease, notes }))
    }

    /// Records a run as succeeded with its cursor. If the store refuses, the sink has the rows
    /// but the run stays unrecorded until [`Pipeline::settle`].
    async fn commit(&self, lease: Lease, run: RunId, done: Cycled) -> Result<Outcome, RunError> {
        super::failpoint::hit(super::failpoint::BEFORE_COMMIT).await;
        let counts = done.summary.counts();
        let cursors: Vec<_> = done.cursor.into_iter().collect();
        let fin = Finish {
            status: RunStatus::Succeeded,
            counts: &counts,
            error: None,
            window: done.window,
            cursors: &cursors,
        };
        if let Err(e) = self.store.finish(lease, run, fin).await {
            tracing::error!(error = %e, "the sink has the rows, but the run could not be committed");
            return Err(RunError {
                run: Some(run),
                kind: e.kind(),
                unrecorded: true,
                cause: anyhow::Error::new(e).context("the run could not be committed"),
            });
        }
        self.prune().await;
        Ok(Outcome::Completed(Box::new(done.summary)))
    }

    /// Discards what the run wrote, then records its failure.
    async fn fail(&self, run: RunId, lease: Lease, job: &str, failed: Failed) -> RunError {
        if let Err(e) = self.sink.discard(run).await {
            tracing::warn!(error = %e, "could not discard the failed run's rows");
        }
        self.record_failure(run, lease, job, failed).await
    }

    /// Records a failed run and releases its lease; the sink is left as it is (a sink that
    /// belongs to another store must not lose that store's files).
    async fn record_failure(
        &self,
        run: RunId,
        lease: Lease,
        job: &str,
        failed: Failed,
    ) -> RunError {
        let Failed { failure, partial } = failed;
        let Failure { cause, kind } = failure;
        tracing::error!(error = format!("{cause:#}"), %job, "run failed; cursor not moved");
        // Whatever path the text took (a response body quoting a header), no secret is stored.
        let text = crate::redact::redact(&format!("{cause:#}")).into_owned();
        let counts = partial.counts();
        let fin = Finish {
            status: RunStatus::Failed,
            counts: &counts,
            error: Some(&text),
            window: (None, None),
            cursors: &[],
        };
        let unrecorded = match self.store.finish(lease, run, fin).await {
            Ok(()) => false,
            Err(e) => {
                tracing::error!(error = %e, "could not record the failure yet; will record it when the run store answers");
                true
            }
        };
        RunError {
            run: Some(run),
            kind,
            unrecorded,
            cause,
        }
    }

    /// Records the end of a run whose final state could not be written earlier. If its commit
    /// did go through, nothing is done; if it is still `running`, it is marked `failed` with
    /// `cause` and whatever it wrote to the sink is discarded (its cursor never moved).
    pub async fn settle(&self, run: RunId, cause: &str) -> Result<(), StoreError> {
        match self.store.run(run).await? {
            Some(r) if r.status == RunStatus::Running => {
                if self
                    .store
                    .mark_failed(run, &crate::redact::redact(cause))
                    .await?
                {
                    tracing::warn!(
                        run_id = run.0,
                        "recorded the failure of an earlier run now that the store answers"
                    );
                    if let Err(e) = self.sink.discard(run).await {
                        tracing::warn!(run_id = run.0, error = %e, "could not discard the run's rows");
                    }
                }
                Ok(())
            }
            Some(r) => {
                tracing::info!(run_id = run.0, status = %r.status, "earlier run was already settled");
                Ok(())
            }
            None => Ok(()),
        }
    }

    async fn prune(&self) {
        let days = self.options.keep_runs_days;
        if days == 0 {
            return;
        }
        let before = Timestamp::now().add_micros(-(days as i64) * MICROS_PER_DAY);
        match self.store.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, keep_runs_days = days, "pruned old runs"),
            Err(e) => tracing::warn!(error = %e, "could not prune old runs"),
        }
    }
}
