//! Credit one conversion under every enabled model.

use super::models::{RuleModel, Step};
use crate::domain::attribution::{Conversion, Credit, ModelKind};
use crate::domain::touchpoint::{Channel, Touchpoint};

/// Splits `total` micros by `weights` so the parts sum to `total` exactly (largest remainder).
pub fn split_micros(total: i64, weights: &[f64]) -> Vec<i64> {
    let abs = total.unsigned_abs() as i128;
    let sign = if total < 0 { -1 } else { 1 };
    let mut parts: Vec<i128> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(f64, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = abs as f64 * w.max(0.0);
        let floor = exact.floor();
        parts.push(floor as i128);
        rems.push((exact - floor, i));
    }
    let assigned: i128 = parts.iter().sum();
    let mut left = abs - assigned;
    rems.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut k = 0;
    while left > 0 && !rems.is_empty() {
        parts[rems[k % rems.len()].1] += 1;
        left -= 1;
        k += 1;
    }
    while left < 0 {
        // Float rounding overshoot: take back from the largest parts.
        let i = (0..parts.len())
            .max_by_key(|&i| parts[i])
            .expect("non-empty");
        parts[i] -= 1;
        left += 1;
    }
    parts.into_iter().map(|p| (p * sign) as i64).collect()
}

/// Per-touch weights that some model produced, turned into credit rows.
pub fn credits_from_weights(
    model: ModelKind,
    conversion: &Conversion,
    touches: &[Touchpoint],
    weights: &[f64],
    out: &mut Vec<Credit>,
) {
    let values = conversion.value.map(|v| split_micros(v.micros, weights));
    for (i, (t, w)) in touches.iter().zip(weights).enumerate() {
        out.push(Credit {
            model,
            touchpoint: Some(t.uuid),
            channel: t.channel.clone(),
            credit: *w,
            value_micros: values.as_ref().map(|v| v[i]),
        });
    }
}

/// The credit of a conversion with no touchpoint in its window: all to `direct`.
pub fn direct_credit(model: ModelKind, conversion: &Conversion, direct: &Channel) -> Credit {
    Credit {
        model,
        touchpoint: None,
        channel: direct.clone(),
        credit: 1.0,
        value_micros: conversion.value.map(|v| v.micros),
    }
}

/// Credits of `conversion` under a rule-based model.
pub fn rule_credits(
    model: &RuleModel,
    conversion: &Conversion,
    touches: &[Touchpoint],
    direct: &Channel,
    scratch: &mut Vec<f64>,
    out: &mut Vec<Credit>,
) {
    if touches.is_empty() {
        out.push(direct_credit(model.kind(), conversion, direct));
        return;
    }
    let steps: Vec<Step> = touches
        .iter()
        .map(|t| Step {
            age_micros: (conversion.timestamp.micros() - t.timestamp.micros()).max(0),
            direct: t.channel.is_direct(),
        })
        .collect();
    model.weights(&steps, scratch);
    credits_from_weights(model.kind(), conversion, touches, scratch, out);
}

#[cfg(test)]
mod tests {
    use super::split_micros;

    #[test]
    fn parts_sum_exactly() {
        assert_eq!(split_micros(100, &[1.0 / 3.0; 3]), [34, 33, 33]);
        assert_eq!(split_micros(-100, &[1.0 / 3.0; 3]), [-34, -33, -33]);
        assert_eq!(
            split_micros(49_990_000, &[0.4, 0.2, 0.4]),
            [19_996_000, 9_998_000, 19_996_000]
        );
        let w = [0.1, 0.2, 0.3, 0.4];
        for total in [0i64, 1, 7, 999_999_999, i64::MAX / 2] {
            assert_eq!(split_micros(total, &w).iter().sum::<i64>(), total);
        }
    }
}
