//! Time decay: a touch's weight halves every `half_life` before the conversion,
//! w_i = 2^(−age_i / half_life), normalised to sum to 1.

use super::Step;

/// `out` has one slot per touch.
pub fn weights(steps: &[Step], half_life_micros: i64, out: &mut [f64]) {
    let hl = half_life_micros.max(1) as f64;
    // Shift ages by the youngest so the largest weight is 1 and nothing underflows.
    let min_age = steps.iter().map(|s| s.age_micros).min().unwrap_or(0);
    let mut sum = 0.0;
    for (o, s) in out.iter_mut().zip(steps) {
        *o = (-((s.age_micros - min_age) as f64) / hl).exp2();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::models::{steps, RuleModel};

    const WEEK: i64 = 7 * 86_400_000_000;

    #[test]
    fn halves_per_half_life() {
        let mut out = Vec::new();
        // Ages 14, 7 and 0 days: raw weights 1/4, 1/2, 1 → 1/7, 2/7, 4/7.
        let m = RuleModel::TimeDecay {
            half_life_micros: WEEK,
        };
        m.weights(&steps(&[14.0, 7.0, 0.0], &[false; 3]), &mut out);
        for (got, want) in out.iter().zip([1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]) {
            assert!((got - want).abs() < 1e-12, "{out:?}");
        }
    }

    #[test]
    fn same_timestamp_touches_share_equally() {
        let mut out = Vec::new();
        let m = RuleModel::TimeDecay {
            half_life_micros: WEEK,
        };
        m.weights(&steps(&[3.0, 3.0], &[false; 2]), &mut out);
        assert_eq!(out, [0.5, 0.5]);
    }

    #[test]
    fn very_old_touches_do_not_underflow_to_nan() {
        let mut out = Vec::new();
        let m = RuleModel::TimeDecay {
            half_life_micros: 1,
        };
        m.weights(&steps(&[30.0, 29.0], &[false; 2]), &mut out);
        assert_eq!(out, [0.0, 1.0]);
    }
}
