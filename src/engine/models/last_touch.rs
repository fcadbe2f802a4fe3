//! Last touch: the latest touch before the conversion gets all the credit.

/// `out` has one slot per touch, zeroed.
pub fn weights(out: &mut [f64]) {
    let n = out.len();
    out[n - 1] = 1.0;
}

#[cfg(test)]
mod tests {
    use crate::engine::models::{steps, RuleModel};

    #[test]
    fn all_to_the_last() {
        let mut out = Vec::new();
        RuleModel::LastTouch.weights(&steps(&[9.0, 3.0, 1.0], &[false, false, true]), &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0]);
    }
}
