//! Linear: every touch in the window gets an equal share.

/// `out` has one slot per touch.
pub fn weights(out: &mut [f64]) {
    let w = 1.0 / out.len() as f64;
    out.fill(w);
}

#[cfg(test)]
mod tests {
    use crate::engine::models::{steps, RuleModel};

    #[test]
    fn equal_shares() {
        let mut out = Vec::new();
        RuleModel::Linear.weights(&steps(&[4.0, 3.0, 2.0, 1.0], &[false; 4]), &mut out);
        assert_eq!(out, [0.25; 4]);
    }
}
