//! First touch: the earliest touch in the window gets all the credit.

/// `out` has one slot per touch, zeroed.
pub fn weights(out: &mut [f64]) {
    out[0] = 1.0;
}

#[cfg(test)]
mod tests {
    use crate::engine::models::{steps, RuleModel};

    #[test]
    fn all_to_the_first() {
        let mut out = Vec::new();
        RuleModel::FirstTouch.weights(&steps(&[9.0, 3.0, 1.0], &[false, true, false]), &mut out);
        assert_eq!(out, [1.0, 0.0, 0.0]);
        RuleModel::FirstTouch.weights(&steps(&[2.0], &[true]), &mut out);
        assert_eq!(out, [1.0]);
    }
}
