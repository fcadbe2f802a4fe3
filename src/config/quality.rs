//! `[quality]`.

use serde::Deserialize;

use super::lenient;

/// What a reconciliation score below the threshold does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLowScore {
    /// The run fails before loading, with the reasons.
    Fail,
    /// The run loads and succeeds, with the reasons as warnings.
    Warn,
}

lenient::named_enum!(OnLowScore { Fail => "fail", Warn => "warn" });

/// Weights of the three parts in the overall score.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityWeights {
    pub reconciliation: f64,
    pub identity: f64,
    pub coverage: f64,
}

/// `[quality]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySettings {
    /// Minimum share of events read that a run may use (the reconciliation score).
    pub threshold: f64,
    pub on_low_score: OnLowScore,
    pub weights: QualityWeights,
    /// Identity and coverage shares below this are reported as warnings.
    pub coverage_warn_below: f64,
}
