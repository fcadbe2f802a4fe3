//! The fitted chain and its solution: absorption probabilities by Gauss–Seidel sweeps.

use super::{MarkovFit, StepLimit};
use crate::engine::paths::{ChannelTotals, PathStats};

pub(super) struct Chain {
    /// Per state (0 = start): outgoing (target, probability); targets are state ids.
    next: Vec<Vec<(u32, f64)>>,
    /// The most states any path visits.
    longest: usize,
    p_conv: Vec<f64>,
    mean_value: Vec<f64>,
    /// Per state: the channels it contains (sorted, deduplicated).
    channels: Vec<Vec<u32>>,
}

/// Per state: the conversions, nulls, value and converting count of the paths that end there.
#[derive(Debug, Clone)]
pub(super) struct Ends {
    pub to_conv: Vec<f64>,
    pub to_null: Vec<f64>,
    pub value_sum: Vec<f64>,
    pub conv_sum: Vec<f64>,
}

impl Ends {
    pub fn zero(n: usize) -> Self {
        Self {
            to_conv: vec![0.0; n],
            to_null: vec![0.0; n],
            value_sum: vec![0.0; n],
            conv_sum: vec![0.0; n],
        }
    }

    /// Room for `n` states.
    pub fn grow(&mut self, n: usize) {
        for v in [
            &mut self.to_conv,
            &mut self.to_null,
            &mut self.value_sum,
            &mut self.conv_sum,
        ] {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        }
    }

    /// Adds state `from` of `other` to this one's `state`.
    pub fn add_from(&mut self, state: usize, other: &Ends, from: usize) {
        self.to_conv[state] += other.to_conv[from];
        self.to_null[state] += other.to_null[from];
        self.value_sum[state] += other.value_sum[from];
        self.conv_sum[state] += other.conv_sum[from];
    }

    /// A path that ends in `state` with these counts.
    pub fn add(&mut self, state: usize, s: PathStats) {
        self.to_conv[state] += s.conversions;
        self.to_null[state] += s.nulls;
        self.value_sum[state] += s.value;
        self.conv_sum[state] += s.conversions;
    }
}

impl Chain {
    /// The chain of states `channels` (0 = start) with these edge weights (`edges` sorted by
    /// (from, to), so every fit sums in the same order) and path ends.
    pub fn build(
        channels: Vec<Vec<u32>>,
        edges: &[(u32, u32)],
        edge_w: &[f64],
        ends: &Ends,
        longest: usize,
    ) -> Self {
        let n = channels.len();
        let mut out_total: Vec<f64> = (0..n).map(|i| ends.to_conv[i] + ends.to_null[i]).collect();
        for (&(a, _), w) in edges.iter().zip(edge_w) {
            out_total[a as usize] += w;
        }
        let mut next: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for (&(a, b), &w) in edges.iter().zip(edge_w) {
            if w > 0.0 {
                next[a as usize].push((b, w / out_total[a as usize]));
            }
        }
        let ratio = |num: &[f64], den: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|i| if den[i] > 0.0 { num[i] / den[i] } else { 0.0 })
                .collect()
        };
        Chain {
            next,
            longest,
            p_conv: ratio(&ends.to_conv, &out_total),
            mean_value: ratio(&ends.value_sum, &ends.conv_sum),
            channels,
        }
    }
}

impl Chain {
    /// One update of state `s`: its conversion probability and value given `x` and `y` for
    /// the states it leads to.
    fn step(&self, s: usize, x: &[f64], y: &[f64]) -> (f64, f64) {
        let mut xs = self.p_conv[s];
        let mut ys = self.p_conv[s] * self.mean_value[s];
        for &(t, p) in &self.next[s] {
            xs += p * x[t as usize];
            ys += p * y[t as usize];
        }
        (xs, ys)
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
            let (xs, ys) = chain.step(s, &x, &y);
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
            let (xs, ys) = chain.step(s, &x, &y);
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

pub(super) fn fit_chain(
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

    // Each channel's removal effect over their sum, times the total.
    let spread = |effect: &dyn Fn(&(f64, f64)) -> f64, total: f64| -> Vec<f64> {
        let sum: f64 = effects.iter().map(effect).sum();
        effects
            .iter()
            .map(|e| {
                if sum > 0.0 {
                    effect(e) / sum * total
                } else {
                    0.0
                }
            })
            .collect()
    };
    let totals = ChannelTotals {
        conversions: spread(&|e| e.0, total.conversions),
        values: spread(&|e| e.1, total.value),
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
