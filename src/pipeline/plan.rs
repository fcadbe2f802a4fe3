//! From settings to what runs need: the attribution plan, the event parse rules and the
//! options every run reads.

use std::sync::Arc;

use anyhow::Context;

use super::attribute::Plan;
use crate::config::{QualitySettings, Settings};
use crate::domain::time::MICROS_PER_DAY;
use crate::sources::ParseRules;
use crate::store::RunnerMeta;

/// The bootstrap's seed: fixed, so the same data gives the same intervals on every run.
const BOOTSTRAP_SEED: u64 = 0x05EE_DA77;

/// How runs are made: fixed for a pipeline's life.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub parse: ParseRules,
    pub plan: Arc<Plan>,
    pub meta: RunnerMeta,
    /// Extra history read to train markov and shapley.
    pub training_micros: i64,
    /// How far past now an event may be stamped before it is skipped as `future`.
    pub max_future_micros: i64,
    pub keep_runs_days: u32,
    pub quality: QualitySettings,
    /// `run_store.url` without a password, to name the store in messages.
    pub store_label: String,
    /// The channel shares' bootstrap (`attribution.bootstrap_samples`, `.confidence`).
    pub bootstrap: crate::engine::bootstrap::Options,
    /// `attribution.max_interval_width`.
    pub max_interval_width: f64,
}

impl RunOptions {
    /// The options `settings` describe, for this process.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let (plan, parse) = plan_from(settings).context("building the attribution plan")?;
        Ok(Self {
            parse,
            plan: Arc::new(plan),
            meta: RunnerMeta::current(),
            training_micros: settings.attribution.training_days as i64 * MICROS_PER_DAY,
            max_future_micros: settings.source.max_future.as_micros() as i64,
            keep_runs_days: settings.run_store.keep_runs_days,
            quality: settings.quality.clone(),
            store_label: settings.run_store.redacted_url(),
            bootstrap: crate::engine::bootstrap::Options {
                samples: settings.attribution.bootstrap_samples,
                confidence: settings.attribution.confidence,
                seed: BOOTSTRAP_SEED,
            },
            max_interval_width: settings.attribution.max_interval_width,
        })
    }
}

/// Builds the plan from settings.
pub fn plan_from(settings: &Settings) -> anyhow::Result<(Plan, ParseRules)> {
    use crate::domain::attribution::ModelKind;
    use crate::domain::conversion::{ConversionDef, ConversionRules, PropertySlots};
    use crate::engine::channels::ChannelRules;
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
                shapley = Some(a.shapley_path_transform);
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
        conversion_lookback: settings
            .conversions
            .iter()
            .map(|c| {
                c.lookback_days
                    .map_or(settings.lookback_micros(), |d| d as i64 * MICROS_PER_DAY)
            })
            .collect(),
    };
    Ok((plan, parse))
}
