use super::*;
use crate::engine::paths::PathStats;

fn set(rows: &[(&str, f64, f64, f64)]) -> PathSet {
    let mut s = PathSet::default();
    for (p, c, v, n) in rows {
        s.add_names(
            p.split('>').map(str::trim),
            PathStats {
                conversions: *c,
                nulls: *n,
                value: *v,
            },
        );
    }
    s
}

fn re(fit: &MarkovFit, s: &PathSet, ch: &str) -> f64 {
    fit.removal_conversion[s.channels.get(ch).unwrap() as usize]
}

#[test]
fn two_channels_in_sequence() {
    // start→a (1); a→b (1); b→conv 1/2, b→null 1/2. P = 1/2.
    // Removing either channel cuts the only route: both effects are 1.
    let s = set(&[("a > b", 1.0, 10.0, 1.0)]);
    let f = fit(&s, 1, StepLimit::Exact);
    assert!((f.p_conversion - 0.5).abs() < 1e-15);
    assert!((re(&f, &s, "a") - 1.0).abs() < 1e-15);
    assert!((re(&f, &s, "b") - 1.0).abs() < 1e-15);
    assert!((f.totals.conversions.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn three_channels_worked_by_hand() {
    // Paths: a>b conv 1; a>c null 1; c conv 1 null 1.
    // start→a 2/4, start→c 2/4; a→b 1/2, a→c 1/2; b→conv 1; c→conv 1/3, c→null 2/3.
    // x_c = 1/3, x_b = 1, x_a = 1/2·1 + 1/2·1/3 = 2/3, P = 1/2·2/3 + 1/2·1/3 = 1/2.
    // Without a: P = 1/2·x_c = 1/6 → RE_a = 2/3. Without b: x_a = 1/6, P = 1/12 + 1/6 = 1/4 → 1/2.
    // Without c: x_a = 1/2, P = 1/4 → 1/2.
    let s = set(&[
        ("a > b", 1.0, 0.0, 0.0),
        ("a > c", 0.0, 0.0, 1.0),
        ("c", 1.0, 0.0, 1.0),
    ]);
    let f = fit(&s, 1, StepLimit::Exact);
    assert!((f.p_conversion - 0.5).abs() < 1e-14, "{}", f.p_conversion);
    for (ch, want) in [("a", 2.0 / 3.0), ("b", 0.5), ("c", 0.5)] {
        assert!(
            (re(&f, &s, ch) - want).abs() < 1e-14,
            "{ch}: {}",
            re(&f, &s, ch)
        );
    }
    // Credits: RE / ΣRE × 2 conversions.
    let a = f.totals.conversions[s.channels.get("a").unwrap() as usize];
    assert!((a - (2.0 / 3.0) / (5.0 / 3.0) * 2.0).abs() < 1e-12);
}

#[test]
fn loops_are_solved_exactly() {
    // a>b>a>b... style cycles: start→a; a→b; b→a or conv/null. Closed form:
    // paths "a > b > a" conv 1, "a > b" null 1 → a→b (2), b→a (1), b→null (1), a→conv (1).
    // From a: out a→b 2, a→conv 1: P(a→b)=2/3, P(a→conv)=1/3. b: b→a 1/2, b→null 1/2.
    // x_a = 1/3 + 2/3·x_b, x_b = 1/2·x_a → x_a = 1/3 + 1/3·x_a → x_a = 1/2.
    let s = set(&[("a > b > a", 1.0, 0.0, 0.0), ("a > b", 0.0, 0.0, 1.0)]);
    let f = fit(&s, 1, StepLimit::Exact);
    assert!((f.p_conversion - 0.5).abs() < 1e-14);
    // Removing b: x_a = 1/3. RE_b = 1/3.
    assert!((re(&f, &s, "b") - 1.0 / 3.0).abs() < 1e-14);
}

#[test]
fn second_order_states_are_windows() {
    // "a > b > c" with k=2: states (a,b), (b,c). "a" alone is one state (a).
    let s = set(&[
        ("a > b > c", 1.0, 0.0, 1.0),
        ("a", 0.0, 0.0, 1.0),
        ("b > c", 1.0, 0.0, 0.0),
    ]);
    let f = fit(&s, 2, StepLimit::Exact);
    assert_eq!(f.states, 3);
    // P = 2/3 (every path that reaches (b,c) converts half the time... by hand):
    // start→(a,b) 2/4, →(a) 1/4, →(b,c) 1/4; (a,b)→(b,c) 1; (b,c)→conv 2/3, null 1/3; (a)→null.
    // P = 2/4·2/3 + 1/4·2/3 = 1/2. Removing a kills (a,b) and (a): P = 1/4·2/3 = 1/6 → RE 2/3.
    assert!((f.p_conversion - 0.5).abs() < 1e-14);
    assert!((re(&f, &s, "a") - 2.0 / 3.0).abs() < 1e-14);
    assert!((re(&f, &s, "c") - 1.0).abs() < 1e-14);
}

#[test]
fn value_uses_mean_value_per_last_state() {
    // Two converting paths ending in b with values 10 and 30 → mean 20; one in c worth 100.
    let s = set(&[
        ("a > b", 1.0, 10.0, 0.0),
        ("b", 1.0, 30.0, 0.0),
        ("c", 1.0, 100.0, 0.0),
    ]);
    let f = fit(&s, 1, StepLimit::Exact);
    // V = P(via b)·20 + P(via c)·100 = 2/3·20 + 1/3·100 = 140/3.
    assert!((f.value - 140.0 / 3.0).abs() < 1e-12, "{}", f.value);
    // Removing a: start→a (1/3) lost: V = 1/3·20 + 1/3·100 = 40 → RE = 1 − 40/(140/3) = 1/7.
    let a = f.removal_value[s.channels.get("a").unwrap() as usize];
    assert!((a - 1.0 / 7.0).abs() < 1e-12, "{a}");
}

#[test]
fn bounded_walks_match_channel_attributions_max_step() {
    // The loop example: within 1 state only a→conv counts (1/3); within 2 states also
    // a→b→… which cannot convert from b: still 1/3; within 3 states a→b→a→conv adds
    // 2/3·1/2·1/3 = 1/9.
    let s = set(&[("a > b > a", 1.0, 0.0, 0.0), ("a > b", 0.0, 0.0, 1.0)]);
    for (steps, want) in [(1, 1.0 / 3.0), (2, 1.0 / 3.0), (3, 4.0 / 9.0)] {
        let f = fit(&s, 1, StepLimit::Steps(steps));
        assert!(
            (f.p_conversion - want).abs() < 1e-15,
            "{steps}: {}",
            f.p_conversion
        );
    }
    // The default bound is the longest path (3 states) + 1 = 4 states: 4/9 + 0 (b cannot convert).
    let f = fit(&s, 1, StepLimit::ChannelAttributionDefault);
    assert!((f.p_conversion - 4.0 / 9.0).abs() < 1e-15);
    assert!((fit(&s, 1, StepLimit::Steps(200)).p_conversion - 0.5).abs() < 1e-12);
}

#[test]
fn journey_weights_spread_shares_over_a_channels_touches() {
    let s = set(&[
        ("a > b", 1.0, 0.0, 0.0),
        ("a > c", 0.0, 0.0, 1.0),
        ("c", 1.0, 0.0, 1.0),
    ]);
    let f = fit(&s, 1, StepLimit::Exact);
    let (a, c) = (s.channels.get("a").unwrap(), s.channels.get("c").unwrap());
    let mut w = Vec::new();
    f.journey_weights(&[a, c, a], &mut w);
    // RE_a = 2/3, RE_c = 1/2: a's share 4/7 split over two touches, c gets 3/7.
    assert!((w[0] - 2.0 / 7.0).abs() < 1e-12 && (w[2] - 2.0 / 7.0).abs() < 1e-12);
    assert!((w[1] - 3.0 / 7.0).abs() < 1e-12);
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * (1.0 + x.abs()))
}

#[test]
fn streamed_counts_fit_like_the_compiled_chain_whole_or_in_parts() {
    use crate::engine::paths::sample;
    let rows = sample::rows(7, 3_000, 6);
    for order in 1..=3 {
        let (whole, merged, channels) = sample::whole_and_merged(&rows, || Counts::new(order));
        // The path set numbers channels by first appearance too: the same ids.
        let set = sample::set(&rows);
        assert_eq!(set.channels.names(), channels.names());
        let want = fit(&set, order, StepLimit::Exact);
        for got in [whole, merged] {
            let got = got.fit(channels.len(), StepLimit::Exact);
            assert_eq!(got.states, want.states, "order {order}");
            assert!((got.p_conversion - want.p_conversion).abs() < 1e-12);
            assert!(close(
                &got.removal_conversion,
                &want.removal_conversion,
                1e-9
            ));
            assert!(close(&got.removal_value, &want.removal_value, 1e-9));
            assert!(close(
                &got.totals.conversions,
                &want.totals.conversions,
                1e-9
            ));
            assert!(close(&got.totals.values, &want.totals.values, 1e-9));
        }
    }
}
