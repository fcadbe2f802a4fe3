use super::*;
use crate::engine::paths::PathStats;

fn set(rows: &[(&str, f64, f64)]) -> PathSet {
    let mut s = PathSet::default();
    for (p, c, n) in rows {
        s.add_names(
            p.split('>').map(str::trim),
            PathStats {
                conversions: *c,
                nulls: *n,
                value: *c * 10.0,
            },
        );
    }
    s
}

#[test]
fn transforms_match_fractribution() {
    let (d, a, b, c) = (3u32, 0u32, 1u32, 2u32);
    let p = [d, a, b, b, c, d];
    let names = |v: Vec<Token>| v;
    assert_eq!(names(PathTransform::Unique.apply(&p)).len(), 6);
    assert_eq!(
        PathTransform::Exposure.apply(&p),
        vec![(d, 0), (a, 0), (b, 0), (c, 0), (d, 0)]
    );
    assert_eq!(
        PathTransform::First.apply(&p),
        vec![(d, 0), (a, 0), (b, 0), (c, 0)]
    );
    assert_eq!(
        PathTransform::Frequency.apply(&p),
        vec![(d, 2), (a, 1), (b, 2), (c, 1)]
    );
}

#[test]
fn marginal_contributions_worked_by_hand() {
    // P(a>b) = 3/4, P(a) = 1/4, P(b) = 1/2.
    // a in a>b: 3/4 − P(b) = 1/4; b: 3/4 − P(a) = 1/2 → shares 1/3, 2/3.
    let s = set(&[("a > b", 3.0, 1.0), ("a", 1.0, 3.0), ("b", 2.0, 2.0)]);
    let f = fit(&s, PathTransform::Exposure);
    let (a, b) = (
        s.channels.get("a").unwrap() as usize,
        s.channels.get("b").unwrap() as usize,
    );
    // a: 3·1/3 + 1 (its own single-touch path) = 2; b: 3·2/3 + 2 = 4.
    assert!((f.totals.conversions[a] - 2.0).abs() < 1e-12);
    assert!((f.totals.conversions[b] - 4.0).abs() < 1e-12);
    assert!((f.totals.values[b] - 40.0).abs() < 1e-9);
}

#[test]
fn negative_marginals_floor_at_zero_and_all_zero_goes_last() {
    // P(a>b) = 1/4 is below P(a) = P(b) = 1/2: both marginals floor to 0 → last touch.
    let s = set(&[("a > b", 1.0, 3.0), ("a", 1.0, 1.0), ("b", 1.0, 1.0)]);
    let f = fit(&s, PathTransform::Unique);
    let (a, b) = (s.channels.get("a").unwrap(), s.channels.get("b").unwrap());
    let mut w = Vec::new();
    f.journey_weights(&[a, b], &mut w);
    assert_eq!(w, [0.0, 1.0]);
    f.journey_weights(&[a], &mut w);
    assert_eq!(w, [1.0]);
}

#[test]
fn counterfactuals_that_never_happened_count_as_zero() {
    let s = set(&[("a > b > c", 2.0, 2.0)]);
    let f = fit(&s, PathTransform::Exposure);
    // Every path without one touch is unseen (P = 0): marginals equal, shares 1/3 each.
    let mut w = Vec::new();
    let ids: Vec<u32> = ["a", "b", "c"]
        .iter()
        .map(|c| s.channels.get(c).unwrap())
        .collect();
    f.journey_weights(&ids, &mut w);
    for x in &w {
        assert!((x - 1.0 / 3.0).abs() < 1e-12);
    }
}

#[test]
fn streamed_counts_credit_like_the_compiled_fit_whole_or_in_parts() {
    use crate::engine::paths::sample;
    let rows = sample::rows(11, 3_000, 5);
    let set = sample::set(&rows);
    for t in PathTransform::ALL {
        let (whole, merged, channels) = sample::whole_and_merged(&rows, || Counts::new(t));
        assert_eq!(set.channels.names(), channels.names());
        let want = fit(&set, t).totals;
        assert_eq!(whole.len(), merged.len());
        for got in [whole.totals(channels.len()), merged.totals(channels.len())] {
            for c in 0..channels.len() {
                let (g, w) = (got.conversions[c], want.conversions[c]);
                assert!((g - w).abs() < 1e-9 * (1.0 + w), "{t:?} {c}: {g} vs {w}");
                let (g, w) = (got.values[c], want.values[c]);
                assert!((g - w).abs() < 1e-9 * (1.0 + w), "{t:?} {c}: {g} vs {w}");
            }
        }
    }
}
