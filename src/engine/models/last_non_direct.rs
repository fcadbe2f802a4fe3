//! Last non-direct touch: direct visits are ignored unless the journey is all direct
//! (then the last direct touch gets the credit), as in GA4's cross-channel last click.

use super::Step;

/// `out` has one slot per touch, zeroed.
pub fn weights(steps: &[Step], out: &mut [f64]) {
    let i = steps
        .iter()
        .rposition(|s| !s.direct)
        .unwrap_or(steps.len() - 1);
    out[i] = 1.0;
}

#[cfg(test)]
mod tests {
    use crate::engine::models::{steps, RuleModel};

    #[test]
    fn skips_trailing_direct_visits() {
        let mut out = Vec::new();
        RuleModel::LastNonDirect.weights(&steps(&[9.0, 3.0, 1.0], &[false, true, true]), &mut out);
        assert_eq!(out, [1.0, 0.0, 0.0]);
        RuleModel::LastNonDirect.weights(&steps(&[9.0, 3.0, 1.0], &[true, false, true]), &mut out);
        assert_eq!(out, [0.0, 1.0, 0.0]);
    }

    #[test]
    fn all_direct_goes_to_the_last() {
        let mut out = Vec::new();
        RuleModel::LastNonDirect.weights(&steps(&[9.0, 3.0], &[true, true]), &mut out);
        assert_eq!(out, [0.0, 1.0]);
    }
}
