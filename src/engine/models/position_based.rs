//! Position based (U-shaped): `first` to the first touch, `last` to the last, the rest split
//! evenly over the middle. One touch gets everything; two touches split first:last renormalised.

/// `out` has one slot per touch.
pub fn weights(first: f64, last: f64, out: &mut [f64]) {
    let n = out.len();
    match n {
        1 => out[0] = 1.0,
        2 => {
            let total = first + last;
            let (f, l) = if total > 0.0 {
                (first / total, last / total)
            } else {
                (0.5, 0.5)
            };
            out[0] = f;
            out[1] = l;
        }
        _ => {
            let middle = (1.0 - first - last) / (n - 2) as f64;
            out.fill(middle);
            out[0] = first;
            out[n - 1] = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::models::{steps, RuleModel};

    #[test]
    fn forty_twenty_forty() {
        let mut out = Vec::new();
        let m = RuleModel::PositionBased {
            first: 0.4,
            last: 0.4,
        };
        m.weights(&steps(&[4.0, 3.0, 2.0, 1.0], &[false; 4]), &mut out);
        let want = [0.4, 0.1, 0.1, 0.4];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{out:?}");
        }
        m.weights(&steps(&[1.0], &[false]), &mut out);
        assert_eq!(out, [1.0]);
    }

    #[test]
    fn two_touches_renormalise() {
        let mut out = Vec::new();
        let m = RuleModel::PositionBased {
            first: 0.3,
            last: 0.5,
        };
        m.weights(&steps(&[2.0, 1.0], &[false; 2]), &mut out);
        assert!(
            (out[0] - 0.375).abs() < 1e-12 && (out[1] - 0.625).abs() < 1e-12,
            "{out:?}"
        );
    }
}
