//! One cycle: claim → extract → attribute → load → commit.

pub mod ads;
pub mod attribute;
pub mod campaigns;
pub mod failpoint;
pub mod fx;
pub mod json;
pub mod load;
pub mod quality;
pub mod rows;
pub mod run_metrics;
pub mod summary;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tracing::Instrument;

use crate::domain::ids::RunId;
use crate::domain::time::{Timestamp, MICROS_PER_DAY};
use crate::sinks::{Sink, SinkError, SinkOwner};
use crate::sources::{ParseRules, ReadRequest, Source, SourceError};
use crate::store::{
    Claim, CursorPosition, Finish, RunStatus, RunStore, RunnerMeta, StoreError, Trigger,
};
use attribute::{attribute, Plan};
use rows::RowMeta;
pub use summary::RunSummary;

/// The cursor partition of event sources.
pub const EVENTS_PARTITION: &str = "events";

/// Everything one cycle needs.
pub struct Pipeline<S, K, R> {
    pub source: S,
    pub sink: K,
    pub store: R,
    pub parse: ParseRules,
    pub plan: Arc<Plan>,
    pub meta: RunnerMeta,
    pub training_micros: i64,
    /// How far past now an event may be stamped before it is skipped as `future`.
    pub max_future_micros: i64,
    pub keep_runs_days: u32,
    pub quality: crate::config::QualitySettings,
    /// The run in progress, so a cancelled cycle can still be settled.
    pub current: std::sync::Mutex<Option<RunId>>,
    /// Ad accounts pulled after the events job each cycle.
    pub ads: Vec<crate::ads::AnyAdSource>,
    /// What the latest events run saw of campaigns (for spend coverage).
    pub campaigns: ads::SharedIndex,
    /// The exchange-rate job, when `reporting.currency` is set.
    pub fx: Option<fx::FxJob>,
    /// `run_store.url` without a password, to name the store in messages.
    pub store_label: String,
    /// The run store's identity, read once (see [`Pipeline::owner`]).
    pub owner: tokio::sync::OnceCell<SinkOwner>,
}

/// How a cycle ended without error.
#[derive(Debug)]
pub enum Outcome {
    Completed(Box<RunSummary>),
    /// Another runner holds the job's lease; nothing was done.
    LeaseHeld {
        job: String,
        holder: String,
    },
}

/// Why a cycle failed. The run row (when one was opened) records the same cause.
#[derive(Debug, thiserror::Error)]
#[error("{}{cause:#}", run.map(|r| format!("run {r} failed: ")).unwrap_or_default())]
pub struct RunError {
    pub run: Option<RunId>,
    /// Retrying later may succeed (network, throttling, a store that is down).
    pub transient: bool,
    /// The run's final state could not be written: it is still `running` in the store (or its
    /// commit went through unseen). [`Pipeline::settle`] sorts it out once the store answers.
    pub unrecorded: bool,
    pub cause: anyhow::Error,
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        RunError {
            run: None,
            transient: e.is_transient(),
            unrecorded: false,
            cause: anyhow::Error::new(e),
        }
    }
}

enum CycleError {
    Source(SourceError),
    Sink(SinkError),
    /// The run's data quality is below what `[quality]` accepts.
    Quality(String),
    Other(anyhow::Error),
}

impl CycleError {
    fn transient(&self) -> bool {
        match self {
            CycleError::Source(e) => e.is_transient(),
            CycleError::Sink(e) => matches!(e, SinkError::Transient(_)),
            CycleError::Quality(_) | CycleError::Other(_) => false,
        }
    }

    fn into_anyhow(self) -> anyhow::Error {
        match self {
            CycleError::Source(e) => anyhow::Error::new(e).context("extract failed"),
            CycleError::Sink(e) => anyhow::Error::new(e).context("load failed"),
            CycleError::Quality(reasons) => anyhow::anyhow!("data quality check failed: {reasons}"),
            CycleError::Other(e) => e,
        }
    }
}

/// A run this process opened, with the sink prepared for it.
struct Claimed {
    run: RunId,
    lease: crate::store::Lease,
    /// What preparing the sink wants said (for the run's quality record).
    notes: Vec<String>,
}

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
        let result = self.claim_and_run(spec).await;
        self.current.lock().expect("current run lock").take();
        run_metrics::record_run(&spec.job, &result, started.elapsed());
        result
    }

    /// Takes the run left by a cycle that was cancelled mid-way, if any.
    pub fn take_interrupted(&self) -> Option<RunId> {
        self.current.lock().expect("current run lock").take()
    }

    /// The run store's identity, read once per process: what the sink's output belongs to.
    async fn owner(&self) -> Result<&SinkOwner, StoreError> {
        self.owner
            .get_or_try_init(|| async {
                let (store_id, has_history) = self.store.identity().await?;
                Ok(SinkOwner {
                    store_id,
                    store_label: self.store_label.clone(),
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
        match self.store.claim(job, trigger, &self.meta).await? {
            Claim::Held { holder } => {
                tracing::info!(%job, %holder, "lease held by another runner; skipping this run");
                Ok(Err(Outcome::LeaseHeld {
                    job: job.to_string(),
                    holder,
                }))
            }
            Claim::Acquired {
                run,
                lease,
                abandoned,
            } => {
                let prepared = match self.owner().await {
                    Ok(owner) => self.sink.prepare(owner).await.map_err(|e| {
                        let t = matches!(e, SinkError::Transient(_));
                        (anyhow::Error::new(e).context("preparing the sink"), t)
                    }),
                    Err(e) => {
                        let t = e.is_transient();
                        Err((
                            anyhow::Error::new(e).context("reading the run store's identity"),
                            t,
                        ))
                    }
                };
                let notes = match prepared {
                    Ok(n) => n,
                    Err((cause, transient)) => {
                        let summary = RunSummary {
                            run_id: Some(run),
                            job: job.to_string(),
                            ..Default::default()
                        };
                        return Err(self
                            .record_failure(run, lease, job, cause, transient, &summary)
                            .await);
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
        }
    }

    /// Records a run as succeeded with its cursors. If the store refuses, the sink has the rows
    /// but the run stays unrecorded until [`Pipeline::settle`].
    async fn commit(
        &self,
        lease: crate::store::Lease,
        run: RunId,
        fin: Finish<'_>,
    ) -> Result<(), RunError> {
        self.store.finish(lease, run, fin).await.map_err(|e| {
            tracing::error!(error = %e, "the sink has the rows, but the run could not be committed");
            RunError {
                run: Some(run),
                transient: e.is_transient(),
                unrecorded: true,
                cause: anyhow::Error::new(e).context("the run could not be committed"),
            }
        })
    }

    async fn claim_and_run(&self, spec: &RunSpec) -> Result<Outcome, RunError> {
        let Claimed { run, lease, notes } = match self.take_lease(&spec.job, spec.trigger).await? {
            Ok(claimed) => claimed,
            Err(held) => return Ok(held),
        };
        *self.current.lock().expect("current run lock") = Some(run);
        let span = tracing::info_span!("run", run_id = run.0, job = %spec.job);
        self.claimed(spec, run, lease, notes).instrument(span).await
    }

    async fn claimed(
        &self,
        spec: &RunSpec,
        run: RunId,
        lease: crate::store::Lease,
        sink_notes: Vec<String>,
    ) -> Result<Outcome, RunError> {
        let job = &spec.job;
        let started = Instant::now();
        let source_job = self.source.job();
        let cursor = match spec.window {
            Some(_) => None,
            None => match self.store.cursor(&source_job, EVENTS_PARTITION).await {
                Ok(c) => c,
                Err(e) => {
                    let e = anyhow::Error::new(e).context("reading the events cursor");
                    return Err(self
                        .fail(run, lease, job, e, true, &RunSummary::default())
                        .await);
                }
            },
        };
        let req = ReadRequest {
            cursor,
            window: spec.window,
            now: Timestamp::now(),
            max_future_micros: self.max_future_micros,
            lookback_micros: self.plan.lookback_micros,
            training_micros: self.training_micros,
        };
        match self.cycle(run, job, &req, sink_notes, started).await {
            Ok((summary, next, window)) => {
                failpoint::hit(failpoint::BEFORE_COMMIT).await;
                let counts = summary.counts();
                let cursors: Vec<CursorPosition> = match &spec.progress {
                    Some(p) => vec![p.clone()],
                    None => next
                        .map(|c| vec![CursorPosition::new(&source_job, EVENTS_PARTITION, c)])
                        .unwrap_or_default(),
                };
                let fin = Finish {
                    status: RunStatus::Succeeded,
                    counts: &counts,
                    error: None,
                    window,
                    cursors: &cursors,
                };
                self.commit(lease, run, fin).await?;
                self.prune().await;
                Ok(Outcome::Completed(Box::new(summary)))
            }
            Err((err, partial)) => {
                let transient = err.transient();
                Err(self
                    .fail(run, lease, job, err.into_anyhow(), transient, &partial)
                    .await)
            }
        }
    }

    async fn fail(
        &self,
        run: RunId,
        lease: crate::store::Lease,
        job: &str,
        cause: anyhow::Error,
        transient: bool,
        partial: &RunSummary,
    ) -> RunError {
        if let Err(e) = self.sink.discard(run).await {
            tracing::warn!(error = %e, "could not discard the failed run's rows");
        }
        self.record_failure(run, lease, job, cause, transient, partial)
            .await
    }

    /// Records a failed run and releases its lease; the sink is left as it is (a sink that
    /// belongs to another store must not lose that store's files).
    async fn record_failure(
        &self,
        run: RunId,
        lease: crate::store::Lease,
        job: &str,
        cause: anyhow::Error,
        transient: bool,
        partial: &RunSummary,
    ) -> RunError {
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
            transient,
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
        if self.keep_runs_days == 0 {
            return;
        }
        let before = Timestamp::now().add_micros(-(self.keep_runs_days as i64) * MICROS_PER_DAY);
        match self.store.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                pruned = n,
                keep_runs_days = self.keep_runs_days,
                "pruned old runs"
            ),
            Err(e) => tracing::warn!(error = %e, "could not prune old runs"),
        }
    }

    /// Extract, attribute, load. On success: the summary, the source's next cursor and the
    /// window the run covered.
    #[allow(clippy::type_complexity)]
    async fn cycle(
        &self,
        run: RunId,
        job: &str,
        req: &ReadRequest,
        sink_notes: Vec<String>,
        started: Instant,
    ) -> Result<
        (
            RunSummary,
            Option<String>,
            (Option<Timestamp>, Option<Timestamp>),
        ),
        (CycleError, RunSummary),
    > {
        let mut summary = RunSummary {
            run_id: Some(run),
            job: job.to_string(),
            ..Default::default()
        };
        let t = Instant::now();
        let mut extract = match self.source.extract(req, &self.parse).await {
            Ok(e) => e,
            Err(e) => return Err((CycleError::Source(e), summary)),
        };
        summary.read = extract.counts.clone();
        failpoint::hit(failpoint::AFTER_EXTRACT).await;
        for n in &extract.notes {
            tracing::warn!(note = %n, "source");
        }
        tracing::info!(
            events = extract.counts.read,
            skipped = extract.counts.skipped_total(),
            sessions = extract.sessions.len(),
            conversions = extract.conversions.len(),
            secs = t.elapsed().as_secs_f64(),
            "extracted"
        );
        let t = Instant::now();
        let plan = Arc::clone(&self.plan);
        let next = extract.next_cursor.take();
        let mut notes = std::mem::take(&mut extract.notes);
        notes.extend(sink_notes);
        let cursor_label = extract.cursor_label.take();
        let span = extract.fresh_span;
        let window = (
            extract.read_from.or(span.map(|s| s.0)),
            extract.read_until.or(span.map(|s| s.1)),
        );
        let att = match tokio::task::spawn_blocking(move || attribute(&extract, &plan)).await {
            Ok(a) => a,
            Err(e) => {
                return Err((
                    CycleError::Other(anyhow::Error::new(e).context("attribution panicked")),
                    summary,
                ))
            }
        };
        summary.persons = att.identities.persons() as u64;
        summary.conversions = att.credited.len() as u64;
        summary.touchpoints = att.new_touchpoints().count() as u64;
        let mut by_model: BTreeMap<String, u64> = BTreeMap::new();
        for (_, _, credits) in &att.credited {
            for c in credits {
                *by_model.entry(c.model.as_str().to_string()).or_default() += 1;
            }
        }
        summary.credits_by_model = by_model;
        let mut quality = quality::Quality::assess(&summary.read, &att, &self.quality);
        quality.notes = notes;
        quality.evaluate(&self.quality);
        if quality.failed() {
            let reasons = quality.reasons.join("; ");
            summary.quality = Some(quality);
            return Err((CycleError::Quality(reasons), summary));
        }
        tracing::info!(
            conversions = summary.conversions,
            touchpoints = summary.touchpoints,
            credits = summary.credits(),
            secs = t.elapsed().as_secs_f64(),
            "attributed"
        );
        let t = Instant::now();
        let meta = RowMeta {
            run_id: run,
            loaded_at: Timestamp::now(),
        };
        let written = load::load(&self.sink, meta, &att).await;
        match written {
            Ok(w) => {
                for (table, l) in w {
                    quality.reconciliation.rows.insert(
                        table.clone(),
                        quality::RowCounts {
                            produced: l.produced,
                            acknowledged: l.acknowledged,
                        },
                    );
                    quality.checksums.insert(table.clone(), l.checksum.finish());
                    summary.rows_by_table.insert(table, l.acknowledged);
                }
            }
            Err(e) => return Err((CycleError::Sink(e), summary)),
        }
        quality.evaluate(&self.quality);
        for w in &quality.warnings {
            tracing::warn!(warning = %w, "data quality");
        }
        if quality.failed() {
            let reasons = quality.reasons.join("; ");
            summary.quality = Some(quality);
            return Err((CycleError::Quality(reasons), summary));
        }
        // Only now do the rows become final (and, in BigQuery, visible).
        failpoint::hit(failpoint::BEFORE_SINK_COMMIT).await;
        if let Err(e) = self.sink.commit(run, job).await {
            return Err((CycleError::Sink(e), summary));
        }
        summary.quality = Some(quality);
        *self.campaigns.lock().expect("campaign index lock") =
            Some(Arc::new(campaigns::CampaignIndex::from_attributed(&att)));
        tracing::info!(
            rows = summary.rows_written(),
            secs = t.elapsed().as_secs_f64(),
            "loaded and acknowledged"
        );
        summary.window_end = window.1;
        summary.cursor = cursor_label;
        summary.duration = started.elapsed();
        Ok((summary, next, window))
    }
}

/// Builds the plan from settings.
pub fn plan_from(settings: &crate::config::Settings) -> anyhow::Result<(Plan, ParseRules)> {
    use crate::domain::attribution::ModelKind;
    use crate::domain::conversion::{ConversionDef, ConversionRules, PropertySlots};
    use crate::engine::channels::ChannelRules;
    use crate::engine::models::shapley::PathTransform;
    use crate::engine::models::RuleModel;

    let channels = ChannelRules::compile(&settings.channels).context("channels")?;
    let a = &settings.attribution;
    let mut rule_models = Vec::new();
    let (mut markov, mut shapley) = (None, None);
    for m in &a.models {
        let rm = match m {
            ModelKind::FirstTouch => RuleModel::FirstTouch,
            ModelKind::LastTouch => RuleModel::LastTouch,
            ModelKind::LastNonDirect => RuleModel::LastNonDirect,
            ModelKind::Linear => RuleModel::Linear,
            ModelKind::TimeDecay => RuleModel::TimeDecay {
                half_life_micros: (a.time_decay_half_life_days * MICROS_PER_DAY as f64) as i64,
            },
            ModelKind::PositionBased => RuleModel::PositionBased {
                first: a.position_based_first,
                last: a.position_based_last,
            },
            ModelKind::Markov => {
                markov = Some(a.markov_order as usize);
                continue;
            }
            ModelKind::Shapley => {
                shapley = Some(
                    PathTransform::parse(&a.shapley_path_transform)
                        .context("attribution.shapley_path_transform")?,
                );
                continue;
            }
        };
        if !rule_models.contains(&rm) {
            rule_models.push(rm);
        }
    }
    let mut slots = PropertySlots::default();
    let mut defs = Vec::new();
    let mut names = Vec::new();
    for c in &settings.conversions {
        let filters = c
            .filters
            .iter()
            .map(|(k, v)| (slots.slot(k), v.values()))
            .collect();
        defs.push(ConversionDef {
            name: c.name.clone(),
            event: c.event.clone(),
            filters,
            value_slot: c
                .value_property
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| slots.slot(p)),
            currency_slot: c
                .currency_property
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| slots.slot(p)),
            default_currency: c.default_currency,
        });
        names.push((
            std::sync::Arc::from(c.name.as_str()),
            std::sync::Arc::from(c.event.as_str()),
        ));
    }
    let stitch_slot = settings
        .identity
        .stitch_property
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| slots.slot(p));
    let parse = ParseRules {
        slots,
        extract: crate::domain::extract::ExtractRules {
            conversions: ConversionRules { defs },
            stitch_slot,
        },
    };
    let plan = Plan {
        channels,
        rule_models,
        markov,
        shapley,
        lookback_micros: settings.lookback_micros(),
        conversion_names: names,
    };
    Ok((plan, parse))
}
