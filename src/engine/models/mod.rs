//! Attribution models: pure functions from a journey to per-touch weights that sum to 1.

pub mod first_touch;
pub mod last_non_direct;
pub mod last_touch;
pub mod linear;
pub mod markov;
pub mod position_based;
pub mod rule_tally;
pub mod shapley;
pub mod time_decay;

use crate::domain::attribution::ModelKind;

/// A touch as the rule-based models see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Microseconds from the touch to the conversion (≥ 0).
    pub age_micros: i64,
    /// The touch is in the `direct` channel.
    pub direct: bool,
}

/// A rule-based model with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleModel {
    FirstTouch,
    LastTouch,
    LastNonDirect,
    Linear,
    TimeDecay { half_life_micros: i64 },
    PositionBased { first: f64, last: f64 },
}

impl RuleModel {
    pub fn kind(&self) -> ModelKind {
        match self {
            RuleModel::FirstTouch => ModelKind::FirstTouch,
            RuleModel::LastTouch => ModelKind::LastTouch,
            RuleModel::LastNonDirect => ModelKind::LastNonDirect,
            RuleModel::Linear => ModelKind::Linear,
            RuleModel::TimeDecay { .. } => ModelKind::TimeDecay,
            RuleModel::PositionBased { .. } => ModelKind::PositionBased,
        }
    }

    /// Weights for `steps` (in time order), written to `out`; empty input gives empty output.
    pub fn weights(&self, steps: &[Step], out: &mut Vec<f64>) {
        out.clear();
        if steps.is_empty() {
            return;
        }
        out.resize(steps.len(), 0.0);
        match *self {
            RuleModel::FirstTouch => first_touch::weights(out),
            RuleModel::LastTouch => last_touch::weights(out),
            RuleModel::LastNonDirect => last_non_direct::weights(steps, out),
            RuleModel::Linear => linear::weights(out),
            RuleModel::TimeDecay { half_life_micros } => {
                time_decay::weights(steps, half_life_micros, out)
            }
            RuleModel::PositionBased { first, last } => position_based::weights(first, last, out),
        }
    }
}

#[cfg(test)]
pub(crate) fn steps(ages_days: &[f64], direct: &[bool]) -> Vec<Step> {
    ages_days
        .iter()
        .zip(direct)
        .map(|(a, d)| Step {
            age_micros: (a * 86_400e6) as i64,
            direct: *d,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_sums_to_one_on_every_length() {
        let models = [
            RuleModel::FirstTouch,
            RuleModel::LastTouch,
            RuleModel::LastNonDirect,
            RuleModel::Linear,
            RuleModel::TimeDecay {
                half_life_micros: 7 * 86_400_000_000,
            },
            RuleModel::PositionBased {
                first: 0.4,
                last: 0.4,
            },
            RuleModel::PositionBased {
                first: 0.3,
                last: 0.5,
            },
        ];
        let mut out = Vec::new();
        for n in 1..12 {
            let ages: Vec<f64> = (0..n).map(|i| (n - i) as f64 * 1.5).collect();
            let direct: Vec<bool> = (0..n).map(|i| i % 3 == 1).collect();
            for m in models {
                m.weights(&steps(&ages, &direct), &mut out);
                let sum: f64 = out.iter().sum();
                assert!((sum - 1.0).abs() < 1e-9, "{m:?} n={n} sum={sum}");
                assert!(out.iter().all(|w| *w >= 0.0));
            }
        }
    }
}
