//! From an extract to touchpoints, conversions and credits: the pure middle of the cycle.

use std::sync::Arc;

use rayon::prelude::*;

use crate::domain::attribution::{Conversion, Credit, ModelKind};
use crate::domain::extract::Extract;
use crate::domain::touchpoint::{Channel, Touchpoint, DIRECT};
use crate::engine::attribute::{credits_from_weights, direct_credit, rule_credits};
use crate::engine::channels::ChannelRules;
use crate::engine::identity::Identities;
use crate::engine::journeys::Journeys;
use crate::engine::models::markov::{self, MarkovFit, StepLimit};
use crate::engine::models::shapley::{self, PathTransform, ShapleyFit};
use crate::engine::models::RuleModel;
use crate::engine::paths::PathSet;
use crate::engine::touchpoints::{classify, ChannelNames};
use crate::engine::training::training_paths;

/// How to attribute: channel rules, models and window.
#[derive(Debug, Clone)]
pub struct Plan {
    pub channels: ChannelRules,
    pub rule_models: Vec<RuleModel>,
    /// Markov order, when markov is enabled.
    pub markov: Option<usize>,
    /// Shapley path transform, when shapley is enabled.
    pub shapley: Option<PathTransform>,
    /// `attribution.lookback_days`: non-converting journeys, and conversions without their own.
    pub lookback_micros: i64,
    /// (name, event) per conversion definition, by index.
    pub conversion_names: Vec<(Arc<str>, Arc<str>)>,
    /// The lookback of each conversion definition (its `lookback_days`, else the global).
    pub conversion_lookback: Vec<i64>,
}

impl Plan {
    /// The longest lookback of any conversion: how much history a run must read.
    pub fn max_lookback_micros(&self) -> i64 {
        self.conversion_lookback
            .iter()
            .copied()
            .chain([self.lookback_micros])
            .max()
            .unwrap_or(self.lookback_micros)
    }
}

/// The result of attributing one extract.
#[derive(Debug, Default)]
pub struct Attributed {
    pub journeys: Journeys,
    /// Every conversion the extract held, resolved, in (timestamp, uuid) order.
    pub conversions: Vec<Conversion>,
    /// The conversions this run credits (those after the cursor).
    pub credited: Vec<CreditedConversion>,
    pub identities: Identities,
    /// The data-driven fits, when enabled.
    pub markov: Option<MarkovFit>,
    pub shapley: Option<ShapleyFit>,
    /// Distinct training paths of the data-driven models.
    pub training_paths: usize,
    /// The training set itself (empty without data-driven models), for their bootstrap.
    pub training: PathSet,
    /// The plan's lookback window.
    pub lookback_micros: i64,
}

/// A conversion this run credits, under every model of the plan.
#[derive(Debug, Clone)]
pub struct CreditedConversion {
    /// Index into [`Attributed::conversions`].
    pub index: usize,
    /// Touchpoints in its lookback window.
    pub touches_in_window: usize,
    pub credits: Vec<Credit>,
}

impl Attributed {
    /// Touchpoints no earlier run wrote.
    pub fn new_touchpoints(&self) -> impl Iterator<Item = &Touchpoint> + '_ {
        self.journeys.touchpoints().iter().filter(|t| t.fresh)
    }
}

/// Resolves identities, classifies touchpoints, builds journeys and credits the conversions
/// no earlier run wrote (the extract's fresh ones) under every model of the plan. The extract
/// is consumed: each session start is freed as its touchpoint is made, so the two are never
/// held in full at once.
pub fn attribute(mut ex: Extract, plan: &Plan) -> Attributed {
    let mut lap = Laps::start();
    ex.end_read();
    let mut starts = ex.take_starts();
    starts.par_sort_unstable_by_key(|s| s.uuid);
    starts.dedup_by_key(|s| s.uuid);
    let (identities, start_keys, conversion_keys) = Identities::resolve_keys(&starts, &ex);
    lap.done("starts sorted, identities");
    let touchpoints = starts
        .into_par_iter()
        .zip(start_keys)
        .map_init(ChannelNames::default, |names, (s, person)| {
            classify(&s, person, &plan.channels, names)
        })
        .collect();
    lap.done("touchpoints");
    let journeys = Journeys::new(touchpoints);
    lap.done("journeys");
    let mut conversions: Vec<Conversion> = ex
        .conversions
        .iter()
        .zip(conversion_keys)
        .map(|(c, person)| {
            let (name, event) = plan.conversion_names[c.def as usize].clone();
            Conversion {
                uuid: c.uuid,
                timestamp: c.timestamp,
                person: person.key,
                person_ix: person.ix,
                name,
                event,
                value: c.value,
                fresh: c.fresh,
                lookback_micros: plan
                    .conversion_lookback
                    .get(c.def as usize)
                    .copied()
                    .unwrap_or(plan.lookback_micros),
            }
        })
        .collect();
    conversions.par_sort_unstable_by_key(|c| (c.timestamp, c.uuid));
    // Freeing a million identity links takes a while: off the critical path.
    std::thread::spawn(move || drop(ex));
    lap.done("conversions");
    let (training, markov_fit, shapley_fit) = if plan.markov.is_some() || plan.shapley.is_some() {
        let set = training_paths(&journeys, &conversions, plan.lookback_micros);
        // The two fits are independent: one per core.
        let (m, s) = rayon::join(
            || {
                plan.markov
                    .map(|order| markov::fit(&set, order, StepLimit::Exact))
            },
            || plan.shapley.map(|t| shapley::fit(&set, t)),
        );
        (set, m, s)
    } else {
        (PathSet::default(), None, None)
    };
    lap.done("data-driven fits");
    let direct = Channel::new(DIRECT);
    let credited = conversions
        .par_iter()
        .enumerate()
        .filter(|(_, c)| c.fresh)
        .map_init(Vec::new, |scratch, (i, c)| {
            let window = journeys.window(c);
            let mut credits = Vec::with_capacity(plan.rule_models.len() * window.len().max(1));
            for m in &plan.rule_models {
                rule_credits(m, c, window, &direct, scratch, &mut credits);
            }
            if markov_fit.is_some() || shapley_fit.is_some() {
                let ids = known_ids(&training, window);
                if let Some(f) = &markov_fit {
                    let w = |w: &mut Vec<f64>| f.journey_weights(&ids, w);
                    data_driven_credits(
                        ModelKind::Markov,
                        c,
                        window,
                        &direct,
                        w,
                        scratch,
                        &mut credits,
                    );
                }
                if let Some(f) = &shapley_fit {
                    let w = |w: &mut Vec<f64>| f.journey_weights(&ids, w);
                    data_driven_credits(
                        ModelKind::Shapley,
                        c,
                        window,
                        &direct,
                        w,
                        scratch,
                        &mut credits,
                    );
                }
            }
            CreditedConversion {
                index: i,
                touches_in_window: window.len(),
                credits,
            }
        })
        .collect();
    lap.done("credits");
    Attributed {
        journeys,
        conversions,
        credited,
        identities,
        markov: markov_fit,
        shapley: shapley_fit,
        training_paths: training.paths.len(),
        training,
        lookback_micros: plan.lookback_micros,
    }
}

/// Channel ids of a window in the training set's numbering. Every window with a touch was a
/// training path, so its channels are known; an unknown one gets an id past the end (no effect).
pub(crate) fn known_ids(training: &PathSet, window: &[Touchpoint]) -> Vec<u32> {
    let unknown = training.channels.len() as u32;
    window
        .iter()
        .map(|t| training.channels.get(t.channel.as_str()).unwrap_or(unknown))
        .collect()
}

fn data_driven_credits(
    model: ModelKind,
    c: &Conversion,
    window: &[Touchpoint],
    direct: &Channel,
    weights: impl FnOnce(&mut Vec<f64>),
    scratch: &mut Vec<f64>,
    out: &mut Vec<Credit>,
) {
    if window.is_empty() {
        out.push(direct_credit(model, c, direct));
        return;
    }
    weights(scratch);
    credits_from_weights(model, c, window, scratch, out);
}

/// Seconds per step of [`attribute`], at debug level.
struct Laps(std::time::Instant);

impl Laps {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn done(&mut self, step: &str) {
        tracing::debug!(
            secs = self.0.elapsed().as_secs_f64(),
            step,
            "attribute: step"
        );
        self.0 = std::time::Instant::now();
    }
}
