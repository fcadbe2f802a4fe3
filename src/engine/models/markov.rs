//! Markov-chain removal-effect attribution, solved exactly (no simulation).
//!
//! States follow ChannelAttribution: order-k states are sliding windows of k channels (a path
//! shorter than k is one state), consecutive identical states collapse, every path adds its
//! conversions + nulls to each transition, and its last state goes to (conversion) and (null).
//! P(conversion) is the absorption probability from (start), found by solving
//! x_s = P(s→conv) + Σ_t P(s→t)·x_t. Removing channel c sends every state containing c to
//! (null): RE_c = 1 − P_c / P. Value follows the same chain with the (conversion) step from s
//! worth the mean value of conversions whose path ends in s.

use std::collections::HashMap;

use crate::engine::paths::{ChannelTotals, PathSet, PathStats};

/// How far a journey through the chain may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepLimit {
    /// No limit: the exact absorption probabilities.
    Exact,
    /// At most this many channel states per journey (ChannelAttribution's `max_step`).
    Steps(usize),
    /// ChannelAttribution's default when `max_step` is unset: the longest path's number of
    /// states plus one. Its simulated walks stop there, which biases chains with loops.
    ChannelAttributionDefault,
}

/// A fitted chain and its removal effects.
#[derive(Debug, Clone)]
pub struct MarkovFit {
    pub order: usize,
    /// P(conversion) and expected value from (start), nothing removed.
    pub p_conversion: f64,
    pub value: f64,
    /// Per channel id: 1 − P(conversion | removed)/P(conversion).
    pub removal_conversion: Vec<f64>,
    /// Per channel id: 1 − V(removed)/V.
    pub removal_value: Vec<f64>,
    /// Total conversions and value credited per channel (RE / ΣRE × total).
    pub totals: ChannelTotals,
    /// Number of transient states (without start).
    pub states: usize,
}

struct Chain {
    /// Per state (0 = start): outgoing (target, probability); targets are state ids.
    next: Vec<Vec<(u32, f64)>>,
    /// The most states any path visits.
    longest: usize,
    p_conv: Vec<f64>,
    mean_value: Vec<f64>,
    /// Per state: the channels it contains (sorted, deduplicated).
    channels: Vec<Vec<u32>>,
}

/// The chain's structure over a fixed list of paths: states, edges and each path's route.
/// Fitting it to path counts is cheap, so the bootstrap refits it for every resample.
#[derive(Debug, Clone)]
pub struct Compiled {
    order: usize,
    n_channels: usize,
    /// Per state (0 = start): the channels it contains (sorted, deduplicated).
    channels: Vec<Vec<u32>>,
    /// Every edge (from, to), sorted.
    edges: Vec<(u32, u32)>,
    /// Per path: its edges (ids into `edges`) from `offsets[i]` to `offsets[i + 1]`.
    path_edges: Vec<u32>,
    offsets: Vec<u32>,
    /// Per path: its last state (where it converts or ends) and its number of states.
    last: Vec<u32>,
    len: Vec<u32>,
}

impl Compiled {
    /// States of `order` over `paths` (channel ids, in the caller's fixed order).
    pub fn new(paths: &[&[u32]], order: usize, n_channels: usize) -> Self {
        let k = order.max(1);
        let mut ids: HashMap<&[u32], u32> = HashMap::new();
        let mut channels: Vec<Vec<u32>> = vec![Vec::new()];
        let mut edge_ids: HashMap<(u32, u32), u32> = HashMap::new();
        let mut raw_edges: Vec<(u32, u32)> = Vec::new();
        let mut path_edges = Vec::new();
        let mut offsets = vec![0u32];
        let (mut last, mut len) = (
            Vec::with_capacity(paths.len()),
            Vec::with_capacity(paths.len()),
        );
        let mut seq: Vec<u32> = Vec::new();
        for path in paths {
            seq.clear();
            let windows: Vec<&[u32]> = if path.len() < k {
                vec![path]
            } else {
                path.windows(k).collect()
            };
            for w in windows {
                let id = *ids.entry(w).or_insert_with(|| {
                    let mut cs = w.to_vec();
                    cs.sort_unstable();
                    cs.dedup();
                    channels.push(cs);
                    (channels.len() - 1) as u32
                });
                if seq.last() != Some(&id) {
                    seq.push(id);
                }
            }
            let mut prev = 0u32;
            for &st in &seq {
                let e = *edge_ids.entry((prev, st)).or_insert_with(|| {
                    raw_edges.push((prev, st));
                    (raw_edges.len() - 1) as u32
                });
                path_edges.push(e);
                prev = st;
            }
            offsets.push(path_edges.len() as u32);
            last.push(prev);
            len.push(seq.len() as u32);
        }
        // Edges sorted by (from, to), so every fit sums in the same order.
        let mut order_of: Vec<u32> = (0..raw_edges.len() as u32).collect();
        order_of.sort_unstable_by_key(|&e| raw_edges[e as usize]);
        let mut rank = vec![0u32; raw_edges.len()];
        for (r, &e) in order_of.iter().enumerate() {
            rank[e as usize] = r as u32;
        }
        for e in &mut path_edges {
            *e = rank[*e as usize];
        }
        let edges = order_of.iter().map(|&e| raw_edges[e as usize]).collect();
        Self {
            order: k,
            n_channels,
            channels,
            edges,
            path_edges,
            offsets,
            last,
            len,
        }
    }

    /// The chain for the counts `stat_of(i)` of each path i (called once per path, in order).
    fn chain(&self, mut stat_of: impl FnMut(usize) -> PathStats) -> (Chain, PathStats) {
        let n = self.channels.len();
        let mut edge_w = vec![0.0f64; self.edges.len()];
        let (mut to_conv, mut to_null) = (vec![0.0f64; n], vec![0.0f64; n]);
        let (mut value_sum, mut conv_sum) = (vec![0.0f64; n], vec![0.0f64; n]);
        let mut longest = 0;
        let mut total = PathStats::default();
        for i in 0..self.last.len() {
            let s = stat_of(i);
            total.add(s);
            let weight = s.conversions + s.nulls;
            if weight <= 0.0 {
                continue;
            }
            let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
            for &e in &self.path_edges[a..b] {
                edge_w[e as usize] += weight;
            }
            longest = longest.max(self.len[i] as usize);
            let l = self.last[i] as usize;
            to_conv[l] += s.conversions;
            to_null[l] += s.nulls;
            value_sum[l] += s.value;
            conv_sum[l] += s.conversions;
        }
        let mut out_total: Vec<f64> = (0..n).map(|i| to_conv[i] + to_null[i]).collect();
        for (&(a, _), w) in self.edges.iter().zip(&edge_w) {
            out_total[a as usize] += w;
        }
        let mut next: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for (&(a, b), &w) in self.edges.iter().zip(&edge_w) {
            if w > 0.0 {
                next[a as usize].push((b, w / out_total[a as usize]));
            }
        }
        let ratio = |num: &[f64], den: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|i| if den[i] > 0.0 { num[i] / den[i] } else { 0.0 })
                .collect()
        };
        let chain = Chain {
            next,
            longest,
            p_conv: ratio(&to_conv, &out_total),
            mean_value: ratio(&value_sum, &conv_sum),
            channels: self.channels.clone(),
        };
        (chain, total)
    }

    /// Fits the chain to these counts (`stats[i]` of path i) and computes every channel's
    /// removal effect.
    pub fn fit(&self, stats: &[PathStats], limit: StepLimit) -> MarkovFit {
        self.fit_with(|i| stats[i], limit)
    }

    /// Fits the chain to the counts `stat_of(i)` (called once per path, in order: the
    /// bootstrap draws them as it goes).
    pub fn fit_with(&self, stat_of: impl FnMut(usize) -> PathStats, limit: StepLimit) -> MarkovFit {
        let (chain, total) = self.chain(stat_of);
        fit_chain(&chain, self.order, self.n_channels, total, limit)
    }
}

/// Solves x_s = a_s + Σ_t P(s→t)·x_t (and the same for value) with removed states fixed at 0,
/// by Gauss–Seidel sweeps in reverse discovery order until the iterate stops changing.
fn solve(chain: &Chain, order: &[u32], removed: &[bool]) -> (f64, f64) {
    let n = chain.next.len();
    let mut x = vec![0.0f64; n];
    let mut y = vec![0.0f64; n];
    for _sweep in 0..1_000_000 {
        let mut delta = 0.0f64;
        let mut scale = 0.0f64;
        for &s in order.iter().rev() {
            let s = s as usize;
            if removed[s] {
                continue;
            }
            let mut xs = chain.p_conv[s];
            let mut ys = chain.p_conv[s] * chain.mean_value[s];
            for &(t, p) in &chain.next[s] {
                xs += p * x[t as usize];
                ys += p * y[t as usize];
            }
            delta = delta.max((xs - x[s]).abs()).max((ys - y[s]).abs());
            scale = scale.max(xs.abs()).max(ys.abs());
            x[s] = xs;
            y[s] = ys;
        }
        if delta <= scale * 1e-15 {
            break;
        }
    }
    (x[0], y[0])
}

/// The probability (and value) of converting within `steps` transitions from (start): the
/// same equations iterated exactly `steps` times from zero.
fn solve_bounded(chain: &Chain, steps: usize, removed: &[bool]) -> (f64, f64) {
    let n = chain.next.len();
    let (mut x, mut y) = (vec![0.0f64; n], vec![0.0f64; n]);
    let (mut nx, mut ny) = (vec![0.0f64; n], vec![0.0f64; n]);
    for _ in 0..steps {
        for s in 0..n {
            if removed[s] {
                nx[s] = 0.0;
                ny[s] = 0.0;
                continue;
            }
            let mut xs = chain.p_conv[s];
            let mut ys = chain.p_conv[s] * chain.mean_value[s];
            for &(t, p) in &chain.next[s] {
                xs += p * x[t as usize];
                ys += p * y[t as usize];
            }
            nx[s] = xs;
            ny[s] = ys;
        }
        std::mem::swap(&mut x, &mut nx);
        std::mem::swap(&mut y, &mut ny);
    }
    (x[0], y[0])
}

/// States in breadth-first order from (start), so sweeps follow the flow.
fn discovery_order(chain: &Chain) -> Vec<u32> {
    let n = chain.next.len();
    let mut seen = vec![false; n];
    let mut order = vec![0u32];
    seen[0] = true;
    let mut i = 0;
    while i < order.len() {
        let s = order[i] as usize;
        for &(t, _) in &chain.next[s] {
            if !seen[t as usize] {
                seen[t as usize] = true;
                order.push(t);
            }
        }
        i += 1;
    }
    order
}

/// Fits the chain of `order` on `set` and computes every channel's removal effect.
pub fn fit(set: &PathSet, order: usize, limit: StepLimit) -> MarkovFit {
    let sorted = set.sorted();
    let paths: Vec<&[u32]> = sorted.iter().map(|(p, _)| *p).collect();
    let stats: Vec<PathStats> = sorted.iter().map(|(_, s)| **s).collect();
    Compiled::new(&paths, order, set.channels.len()).fit(&stats, limit)
}

fn fit_chain(
    chain: &Chain,
    order: usize,
    n_channels: usize,
    total: PathStats,
    limit: StepLimit,
) -> MarkovFit {
    let seq = discovery_order(chain);
    let n_states = chain.next.len();
    // A journey of n states takes n + 1 transitions from (start) to absorption.
    let bound = match limit {
        StepLimit::Exact => None,
        StepLimit::Steps(n) => Some(n + 1),
        StepLimit::ChannelAttributionDefault => Some(chain.longest + 2),
    };
    let solve = |removed: &[bool]| match bound {
        None => solve(chain, &seq, removed),
        Some(steps) => solve_bounded(chain, steps, removed),
    };
    let (p, v) = solve(&vec![false; n_states]);
    let effects: Vec<(f64, f64)> = (0..n_channels as u32)
        .map(|c| {
            let removed: Vec<bool> = chain
                .channels
                .iter()
                .map(|cs| cs.binary_search(&c).is_ok())
                .collect();
            let (pc, vc) = solve(&removed);
            let re = if p > 0.0 {
                (1.0 - pc / p).max(0.0)
            } else {
                0.0
            };
            let rv = if v > 0.0 {
                (1.0 - vc / v).max(0.0)
            } else {
                0.0
            };
            (re, rv)
        })
        .collect();

    let sum_re: f64 = effects.iter().map(|e| e.0).sum();
    let sum_rv: f64 = effects.iter().map(|e| e.1).sum();
    let totals = ChannelTotals {
        conversions: effects
            .iter()
            .map(|e| {
                if sum_re > 0.0 {
                    e.0 / sum_re * total.conversions
                } else {
                    0.0
                }
            })
            .collect(),
        values: effects
            .iter()
            .map(|e| {
                if sum_rv > 0.0 {
                    e.1 / sum_rv * total.value
                } else {
                    0.0
                }
            })
            .collect(),
    };
    MarkovFit {
        order,
        p_conversion: p,
        value: v,
        removal_conversion: effects.iter().map(|e| e.0).collect(),
        removal_value: effects.iter().map(|e| e.1).collect(),
        totals,
        states: seq.len() - 1,
    }
}

impl MarkovFit {
    /// Per-touch weights for one journey (channel ids in time order): each channel's share is
    /// its removal effect over the sum of those of the journey's channels, spread evenly over
    /// its touches; when every effect is zero the last touch gets all.
    pub fn journey_weights(&self, path: &[u32], out: &mut Vec<f64>) {
        out.clear();
        out.resize(path.len(), 0.0);
        if path.is_empty() {
            return;
        }
        let re = |c: u32| {
            self.removal_conversion
                .get(c as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let mut distinct: Vec<u32> = path.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let sum: f64 = distinct.iter().map(|&c| re(c)).sum();
        if sum <= 0.0 {
            out[path.len() - 1] = 1.0;
            return;
        }
        for &c in &distinct {
            let touches = path.iter().filter(|&&x| x == c).count() as f64;
            let share = re(c) / sum / touches;
            for (o, _) in out.iter_mut().zip(path).filter(|(_, &x)| x == c) {
                *o = share;
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
