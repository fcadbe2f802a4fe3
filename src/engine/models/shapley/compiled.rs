//! The transformed paths of a fixed list of paths, refitted cheaply per bootstrap resample.

use crate::domain::collections::FastMap as HashMap;

use super::{marginal_shares, PathTransform, ShapleyFit, Token};
use crate::engine::paths::{ChannelTotals, PathStats};

/// The transformed paths of a fixed list of paths, each with the ids of its one-token-shorter
/// coalitions: fitting it to path counts needs no hashing, so the bootstrap refits it for
/// every resample.
#[derive(Debug, Clone)]
pub struct Compiled {
    transform: PathTransform,
    n_channels: usize,
    /// Distinct transformed paths (coalitions).
    keys: Vec<Vec<Token>>,
    /// Key ids in sorted key order, so sums come out the same on every run.
    sorted: Vec<u32>,
    /// Per path: its key.
    key_of_path: Vec<u32>,
    /// Per key, per token: the key without that token, when it is one of the keys.
    subs: Vec<Vec<Option<u32>>>,
}

impl Compiled {
    pub fn new(paths: &[&[u32]], transform: PathTransform, n_channels: usize) -> Self {
        let mut ids: HashMap<Vec<Token>, u32> = HashMap::default();
        let mut keys: Vec<Vec<Token>> = Vec::new();
        let key_of_path = paths
            .iter()
            .map(|p| {
                let k = transform.apply(p);
                *ids.entry(k.clone()).or_insert_with(|| {
                    keys.push(k);
                    (keys.len() - 1) as u32
                })
            })
            .collect();
        let mut without: Vec<Token> = Vec::new();
        let subs = keys
            .iter()
            .map(|k| {
                (0..k.len())
                    .map(|i| {
                        without.clear();
                        without.extend_from_slice(&k[..i]);
                        without.extend_from_slice(&k[i + 1..]);
                        ids.get(&without).copied()
                    })
                    .collect()
            })
            .collect();
        let mut sorted: Vec<u32> = (0..keys.len() as u32).collect();
        sorted.sort_unstable_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
        Self {
            transform,
            n_channels,
            keys,
            sorted,
            key_of_path,
            subs,
        }
    }

    /// Conversions, nulls and value per key, and each key's conversion probability, for the
    /// counts `stat_of(i)` of each path i.
    fn counts(
        &self,
        mut stat_of: impl FnMut(usize) -> PathStats,
    ) -> (Vec<(f64, f64, f64)>, Vec<f64>) {
        let mut counts = vec![(0.0, 0.0, 0.0); self.keys.len()];
        for (i, k) in self.key_of_path.iter().enumerate() {
            let s = stat_of(i);
            let e = &mut counts[*k as usize];
            e.0 += s.conversions;
            e.1 += s.nulls;
            e.2 += s.value;
        }
        let p = counts
            .iter()
            .map(|(c, n, _)| if c + n > 0.0 { c / (c + n) } else { 0.0 })
            .collect();
        (counts, p)
    }

    /// Shares of the tokens of key `k` (sum 1).
    fn shares(&self, k: usize, p: &[f64]) -> Vec<f64> {
        let mut m = Vec::new();
        marginal_shares(
            self.keys[k].len(),
            p[k],
            |i| self.subs[k][i].map_or(0.0, |j| p[j as usize]),
            &mut m,
        );
        m
    }

    /// Conversions and value credited per channel for the counts `stat_of(i)` of each path i
    /// (called once per path, in order).
    pub fn totals_with(&self, stat_of: impl FnMut(usize) -> PathStats) -> ChannelTotals {
        let (counts, p) = self.counts(stat_of);
        self.totals_of(&counts, &p)
    }

    fn totals_of(&self, counts: &[(f64, f64, f64)], p: &[f64]) -> ChannelTotals {
        let mut totals = ChannelTotals::zero(self.n_channels);
        for &k in &self.sorted {
            let k = k as usize;
            let (c, _, v) = counts[k];
            if c <= 0.0 {
                continue;
            }
            for (t, share) in self.keys[k].iter().zip(self.shares(k, p)) {
                totals.conversions[t.0 as usize] += share * c;
                totals.values[t.0 as usize] += share * v;
            }
        }
        totals
    }

    /// The fit for these counts, with the conversion probabilities journeys are weighted by.
    pub fn fit(&self, stats: &[PathStats]) -> ShapleyFit {
        self.fit_with(|i| stats[i])
    }

    /// The fit for the counts `stat_of(i)` of each path i (called once per path, in order).
    pub fn fit_with(&self, stat_of: impl FnMut(usize) -> PathStats) -> ShapleyFit {
        let (counts, p) = self.counts(stat_of);
        let totals = self.totals_of(&counts, &p);
        ShapleyFit {
            transform: self.transform,
            probability: self
                .keys
                .iter()
                .zip(&p)
                .map(|(k, p)| (k.clone(), *p))
                .collect(),
            totals,
        }
    }
}
