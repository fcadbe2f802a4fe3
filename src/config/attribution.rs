//! `[attribution]`, `[[conversions]]` and `[identity]`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::attribution::ModelKind;
use crate::domain::money::Currency;
use crate::engine::models::shapley::PathTransform;

/// `[attribution]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionSettings {
    pub lookback_days: u32,
    pub models: Vec<ModelKind>,
    pub time_decay_half_life_days: f64,
    pub position_based_first: f64,
    pub position_based_last: f64,
    pub markov_order: u32,
    /// Path transform for shapley: exposure, unique, first, frequency.
    pub shapley_path_transform: PathTransform,
    /// Extra days of journeys before the run's window used to train markov and shapley.
    pub training_days: u32,
    /// Bootstrap resamples behind each channel share's interval (`channel_credit`); 0 = off.
    pub bootstrap_samples: u32,
    /// The intervals' coverage, in (0, 1).
    pub confidence: f64,
    /// A data-driven model's channel share whose interval is wider than this is flagged as too
    /// thin to act on.
    pub max_interval_width: f64,
}

/// One `[[conversions]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionSettings {
    pub name: String,
    pub event: String,
    /// Property equality filters: `filters = { plan = "pro" }` or `{ plan = ["pro", "team"] }`.
    #[serde(default)]
    pub filters: BTreeMap<String, FilterValue>,
    #[serde(default)]
    pub value_property: Option<String>,
    #[serde(default)]
    pub currency_property: Option<String>,
    pub default_currency: Currency,
    /// This conversion's lookback window, overriding `attribution.lookback_days` (sign-ups 7,
    /// purchases 30, say).
    #[serde(default)]
    pub lookback_days: Option<u32>,
}

/// One accepted value or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FilterValue {
    One(String),
    Many(Vec<String>),
}

impl FilterValue {
    pub fn values(&self) -> Vec<String> {
        match self {
            FilterValue::One(s) => vec![s.clone()],
            FilterValue::Many(v) => v.clone(),
        }
    }
}

/// `[identity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// Event property whose equal values join distinct ids (e.g. `email`); empty = off.
    #[serde(default)]
    pub stitch_property: Option<String>,
}
