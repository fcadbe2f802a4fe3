//! From an extract to touchpoints, conversions and credits: the pure middle of the cycle.

use std::sync::Arc;

use rayon::prelude::*;

use crate::domain::attribution::{Conversion, Credit, ModelKind};
use crate::domain::extract::{Extract, Position, SessionStart};
use crate::domain::touchpoint::{Channel, DIRECT};
use crate::engine::attribute::rule_credits;
use crate::engine::channels::ChannelRules;
use crate::engine::identity::Identities;
use crate::engine::journeys::Journeys;
use crate::engine::models::RuleModel;
use crate::engine::touchpoints::{classify, ChannelNames};

/// How to attribute: channel rules, models and window.
#[derive(Debug, Clone)]
pub struct Plan {
    pub channels: ChannelRules,
    pub rule_models: Vec<RuleModel>,
    pub data_driven: Vec<ModelKind>,
    pub lookback_micros: i64,
    /// (name, event) per conversion definition, by index.
    pub conversion_names: Vec<(Arc<str>, Arc<str>)>,
}

/// The result of attributing one extract.
#[derive(Debug, Default)]
pub struct Attributed {
    pub journeys: Journeys,
    /// Every conversion the extract held, resolved, in (timestamp, uuid) order.
    pub conversions: Vec<Conversion>,
    /// Indices into `conversions` of those after the cursor, each with its credits (all models)
    /// and the number of touchpoints in its window.
    pub credited: Vec<(usize, usize, Vec<Credit>)>,
    pub identities: Identities,
}

impl Attributed {
    /// Touchpoints after the cursor.
    pub fn new_touchpoints<'a>(
        &'a self,
        cursor: Option<Position>,
    ) -> impl Iterator<Item = &'a crate::domain::touchpoint::Touchpoint> + 'a {
        self.journeys
            .touchpoints()
            .iter()
            .filter(move |t| cursor.is_none_or(|c| (t.timestamp, t.uuid) > c))
    }
}

/// Resolves identities, classifies touchpoints, builds journeys and credits the conversions
/// after `cursor` under every rule-based model of the plan.
pub fn attribute(ex: &Extract, plan: &Plan, cursor: Option<Position>) -> Attributed {
    let identities = Identities::resolve(ex);
    let mut starts: Vec<&SessionStart> = ex.starts().collect();
    starts.par_sort_unstable_by_key(|s| s.uuid);
    starts.dedup_by_key(|s| s.uuid);
    let touchpoints = starts
        .par_iter()
        .map_init(ChannelNames::default, |names, s| {
            classify(s, identities.key(&s.distinct_id), &plan.channels, names)
        })
        .collect();
    let journeys = Journeys::new(touchpoints);
    let mut conversions: Vec<Conversion> = ex
        .conversions
        .iter()
        .map(|c| {
            let (name, event) = plan.conversion_names[c.def as usize].clone();
            Conversion {
                uuid: c.uuid,
                timestamp: c.timestamp,
                person: identities.key(&c.distinct_id),
                name,
                event,
                value: c.value,
            }
        })
        .collect();
    conversions.par_sort_unstable_by_key(|c| (c.timestamp, c.uuid));
    let direct = Channel::new(DIRECT);
    let credited = conversions
        .par_iter()
        .enumerate()
        .filter(|(_, c)| cursor.is_none_or(|cur| (c.timestamp, c.uuid) > cur))
        .map_init(Vec::new, |scratch, (i, c)| {
            let window = journeys.window(c, plan.lookback_micros);
            let mut credits = Vec::with_capacity(plan.rule_models.len() * window.len().max(1));
            for m in &plan.rule_models {
                rule_credits(m, c, window, &direct, scratch, &mut credits);
            }
            (i, window.len(), credits)
        })
        .collect();
    Attributed {
        journeys,
        conversions,
        credited,
        identities,
    }
}
