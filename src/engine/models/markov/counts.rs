//! A chain's counts gathered path by path, keeping no list of paths: memory grows with the
//! number of states and edges, not with the input.

use super::chain::{fit_chain, Chain, Ends};
use super::{MarkovFit, StepLimit};
use crate::domain::collections::FastMap;
use crate::engine::paths::{PathStats, Tally};

/// Transitions, path ends and totals of the order-`order` chain over the paths added.
#[derive(Debug, Clone)]
pub struct Counts {
    order: usize,
    /// Window of channels → state id; 0 is (start), whose window is empty.
    ids: FastMap<Box<[u32]>, u32>,
    windows: Vec<Box<[u32]>>,
    /// Order 1: channel → state id (`u32::MAX` until seen), so a step costs no hashing.
    by_channel: Vec<u32>,
    edges: FastMap<(u32, u32), f64>,
    ends: Ends,
    longest: usize,
    total: PathStats,
    seq: Vec<u32>,
}

impl Counts {
    pub fn new(order: usize) -> Self {
        Self {
            order: order.max(1),
            ids: FastMap::default(),
            windows: vec![Box::default()],
            by_channel: Vec::new(),
            edges: FastMap::default(),
            ends: Ends::zero(1),
            longest: 0,
            total: PathStats::default(),
            seq: Vec::new(),
        }
    }

    fn state(&mut self, window: &[u32]) -> u32 {
        if self.order == 1 {
            let c = window[0] as usize;
            if let Some(&s) = self.by_channel.get(c) {
                if s != u32::MAX {
                    return s;
                }
            }
        } else if let Some(&s) = self.ids.get(window) {
            return s;
        }
        let s = self.windows.len() as u32;
        self.windows.push(window.into());
        self.ids.insert(window.into(), s);
        self.ends.grow(self.windows.len());
        if self.order == 1 {
            let c = window[0] as usize;
            if self.by_channel.len() <= c {
                self.by_channel.resize(c + 1, u32::MAX);
            }
            self.by_channel[c] = s;
        }
        s
    }

    /// Fits the chain over `n_channels` channels and computes every removal effect.
    pub fn fit(self, n_channels: usize, limit: StepLimit) -> MarkovFit {
        let channels: Vec<Vec<u32>> = self
            .windows
            .iter()
            .map(|w| {
                let mut cs = w.to_vec();
                cs.sort_unstable();
                cs.dedup();
                cs
            })
            .collect();
        let mut edges: Vec<((u32, u32), f64)> = self.edges.into_iter().collect();
        edges.sort_unstable_by_key(|e| e.0);
        let (keys, weights): (Vec<(u32, u32)>, Vec<f64>) = edges.into_iter().unzip();
        let chain = Chain::build(channels, &keys, &weights, &self.ends, self.longest);
        fit_chain(&chain, self.order, n_channels, self.total, limit)
    }
}

impl Tally for Counts {
    fn add(&mut self, path: &[u32], s: PathStats) {
        self.total.add(s);
        let weight = s.conversions + s.nulls;
        if weight <= 0.0 || path.is_empty() {
            return;
        }
        let mut seq = std::mem::take(&mut self.seq);
        seq.clear();
        let k = self.order;
        let n_windows = if path.len() < k {
            1
        } else {
            path.len() - k + 1
        };
        for i in 0..n_windows {
            let w = &path[i..(i + k).min(path.len())];
            let id = self.state(w);
            if seq.last() != Some(&id) {
                seq.push(id);
            }
        }
        let mut prev = 0u32;
        for &st in &seq {
            *self.edges.entry((prev, st)).or_insert(0.0) += weight;
            prev = st;
        }
        self.longest = self.longest.max(seq.len());
        self.ends.add(prev as usize, s);
        self.seq = seq;
    }

    fn merge(&mut self, part: Self, ids: &[u32]) {
        let mut to = vec![0u32; part.windows.len()];
        let mut w = Vec::new();
        for (s, window) in part.windows.iter().enumerate().skip(1) {
            w.clear();
            w.extend(window.iter().map(|&c| ids[c as usize]));
            to[s] = self.state(&w);
        }
        let mut edges: Vec<((u32, u32), f64)> = part.edges.into_iter().collect();
        // Part order, so a merged edge's weight sums in the same order on every run.
        edges.sort_unstable_by_key(|e| e.0);
        for ((a, b), x) in edges {
            *self
                .edges
                .entry((to[a as usize], to[b as usize]))
                .or_insert(0.0) += x;
        }
        for (s, &t) in to.iter().enumerate() {
            self.ends.add_from(t as usize, &part.ends, s);
        }
        self.longest = self.longest.max(part.longest);
        self.total.add(part.total);
    }
}
