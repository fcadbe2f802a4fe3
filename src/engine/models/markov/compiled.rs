//! The chain's structure over a fixed list of paths, refitted cheaply per bootstrap resample.

use crate::domain::collections::FastMap as HashMap;

use super::chain::{fit_chain, Chain, Ends};
use super::{MarkovFit, StepLimit};
use crate::engine::paths::PathStats;

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
        let mut ids: HashMap<&[u32], u32> = HashMap::default();
        let mut channels: Vec<Vec<u32>> = vec![Vec::new()];
        let mut edge_ids: HashMap<(u32, u32), u32> = HashMap::default();
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
        let mut ends = Ends::zero(n);
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
            ends.add(self.last[i] as usize, s);
        }
        let chain = Chain::build(self.channels.clone(), &self.edges, &edge_w, &ends, longest);
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
