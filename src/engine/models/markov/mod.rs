//! Markov-chain removal-effect attribution, solved exactly (no simulation).
//!
//! States follow ChannelAttribution: order-k states are sliding windows of k channels (a path
//! shorter than k is one state), consecutive identical states collapse, every path adds its
//! conversions + nulls to each transition, and its last state goes to (conversion) and (null).
//! P(conversion) is the absorption probability from (start), found by solving
//! x_s = P(s→conv) + Σ_t P(s→t)·x_t. Removing channel c sends every state containing c to
//! (null): RE_c = 1 − P_c / P. Value follows the same chain with the (conversion) step from s
//! worth the mean value of conversions whose path ends in s.

mod chain;
mod compiled;
mod counts;
#[cfg(test)]
mod tests;

pub use compiled::Compiled;
pub use counts::Counts;

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

/// Fits the chain of `order` on `set` and computes every channel's removal effect.
pub fn fit(set: &PathSet, order: usize, limit: StepLimit) -> MarkovFit {
    let sorted = set.sorted();
    let paths: Vec<&[u32]> = sorted.iter().map(|(p, _)| *p).collect();
    let stats: Vec<PathStats> = sorted.iter().map(|(_, s)| **s).collect();
    Compiled::new(&paths, order, set.channels.len()).fit(&stats, limit)
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
