//! Resolved conversions, attribution models and the credits they give.

use std::fmt;

use super::ids::Uuid;
use super::money::Money;
use super::time::Timestamp;
use super::touchpoint::{Channel, PersonKey};

/// A conversion after identity resolution.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub uuid: Uuid,
    pub timestamp: Timestamp,
    pub person: PersonKey,
    /// The person's index among the run's persons (its journey is found by it).
    pub person_ix: u32,
    /// The configured conversion name.
    pub name: std::sync::Arc<str>,
    /// The PostHog event name.
    pub event: std::sync::Arc<str>,
    pub value: Option<Money>,
    /// No earlier run credited it: the run credits it and writes its rows.
    pub fresh: bool,
    /// How far back its touches count (its definition's `lookback_days`, else the global).
    pub lookback_micros: i64,
}

/// An attribution model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    FirstTouch,
    LastTouch,
    LastNonDirect,
    Linear,
    TimeDecay,
    PositionBased,
    Markov,
    Shapley,
}

impl ModelKind {
    pub const ALL: [ModelKind; 8] = [
        ModelKind::FirstTouch,
        ModelKind::LastTouch,
        ModelKind::LastNonDirect,
        ModelKind::Linear,
        ModelKind::TimeDecay,
        ModelKind::PositionBased,
        ModelKind::Markov,
        ModelKind::Shapley,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::FirstTouch => "first_touch",
            ModelKind::LastTouch => "last_touch",
            ModelKind::LastNonDirect => "last_non_direct",
            ModelKind::Linear => "linear",
            ModelKind::TimeDecay => "time_decay",
            ModelKind::PositionBased => "position_based",
            ModelKind::Markov => "markov",
            ModelKind::Shapley => "shapley",
        }
    }

    /// Parses a model name; `first-touch` is accepted for `first_touch`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().replace('-', "_");
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl<'de> serde::Deserialize<'de> for ModelKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "'{s}' is not a model; use one of: {}",
                Self::ALL.map(|m| m.as_str()).join(", ")
            ))
        })
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The share of one conversion given to one touchpoint (or to `direct` when the journey is empty).
#[derive(Debug, Clone)]
pub struct Credit {
    pub model: ModelKind,
    /// `None` when the conversion had no touchpoint in the lookback window.
    pub touchpoint: Option<Uuid>,
    pub channel: Channel,
    pub credit: f64,
    /// This touch's part of the conversion value; parts of one conversion sum to its value exactly.
    pub value_micros: Option<i64>,
}
