//! Simplified Shapley attribution as in Google's Fractribution and Snowplow's fractribution:
//! per converting path, P(path) = conversions / (conversions + nulls) over identical
//! (transformed) paths; each touch's marginal contribution is max(P(path) − P(path without
//! that touch), 0), with unseen paths at probability 0; contributions are normalised within
//! the path; all zero → last touch; a single touch gets everything.

use std::collections::HashMap;

use crate::engine::paths::{ChannelTotals, PathSet, PathStats};

/// How a path is simplified before counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathTransform {
    /// Collapse consecutive repeats: a > a > b > a → a > b > a.
    Exposure,
    /// Leave the path as it is.
    Unique,
    /// Keep only each channel's first occurrence: a > b > a → a > b.
    First,
    /// Keep first occurrences, each tagged with its count: a > b > a → a(2) > b(1).
    Frequency,
}

impl<'de> serde::Deserialize<'de> for PathTransform {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "'{s}' is not one of {}",
                Self::ALL.map(Self::as_str).join(", ")
            ))
        })
    }
}

impl PathTransform {
    pub const ALL: [Self; 4] = [Self::Exposure, Self::Unique, Self::First, Self::Frequency];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exposure => "exposure",
            Self::Unique => "unique",
            Self::First => "first",
            Self::Frequency => "frequency",
        }
    }

    /// The transformed path as (channel, count) tokens; count is 0 except for `Frequency`.
    pub fn apply(self, path: &[u32]) -> Vec<(u32, u32)> {
        match self {
            Self::Unique => path.iter().map(|&c| (c, 0)).collect(),
            Self::Exposure => {
                let mut v: Vec<(u32, u32)> = Vec::with_capacity(path.len());
                for &c in path {
                    if v.last().map(|t| t.0) != Some(c) {
                        v.push((c, 0));
                    }
                }
                v
            }
            Self::First | Self::Frequency => {
                let mut v: Vec<(u32, u32)> = Vec::with_capacity(path.len());
                for &c in path {
                    match v.iter_mut().find(|t| t.0 == c) {
                        Some(t) => t.1 += 1,
                        None => v.push((c, 1)),
                    }
                }
                if self == Self::First {
                    v.iter_mut().for_each(|t| t.1 = 0);
                }
                v
            }
        }
    }
}

type Token = (u32, u32);

/// Conversion probabilities of the transformed paths of a training set.
#[derive(Debug, Clone)]
pub struct ShapleyFit {
    pub transform: PathTransform,
    probability: HashMap<Vec<Token>, f64>,
    /// Conversions and value credited per channel over the training set.
    pub totals: ChannelTotals,
}

impl ShapleyFit {
    fn p(&self, path: &[Token]) -> f64 {
        self.probability.get(path).copied().unwrap_or(0.0)
    }

    /// Shares of the tokens of a transformed path (sum 1).
    fn token_shares(&self, path: &[Token]) -> Vec<f64> {
        let n = path.len();
        let mut m = vec![0.0; n];
        if n == 0 {
            return m;
        }
        if n == 1 {
            m[0] = 1.0;
            return m;
        }
        let p = self.p(path);
        let mut without: Vec<Token> = Vec::with_capacity(n - 1);
        for (i, mi) in m.iter_mut().enumerate() {
            without.clear();
            without.extend_from_slice(&path[..i]);
            without.extend_from_slice(&path[i + 1..]);
            *mi = (p - self.p(&without)).max(0.0);
        }
        let sum: f64 = m.iter().sum();
        if sum > 0.0 {
            m.iter_mut().for_each(|x| *x /= sum);
        } else {
            m.fill(0.0);
            m[n - 1] = 1.0;
        }
        m
    }

    /// Per-touch weights for a journey (channel ids in time order): each channel's share,
    /// spread evenly over the journey's touches of that channel.
    pub fn journey_weights(&self, path: &[u32], out: &mut Vec<f64>) {
        out.clear();
        out.resize(path.len(), 0.0);
        if path.is_empty() {
            return;
        }
        let tokens = self.transform.apply(path);
        let shares = self.token_shares(&tokens);
        for (t, share) in tokens.iter().zip(shares) {
            let touches = path.iter().filter(|&&c| c == t.0).count() as f64;
            for (o, _) in out.iter_mut().zip(path).filter(|(_, &c)| c == t.0) {
                *o += share / touches;
            }
        }
    }
}

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
        let mut ids: HashMap<Vec<Token>, u32> = HashMap::new();
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
        let n = self.keys[k].len();
        let mut m = vec![0.0; n];
        match n {
            0 => return m,
            1 => {
                m[0] = 1.0;
                return m;
            }
            _ => {}
        }
        for (i, mi) in m.iter_mut().enumerate() {
            let without = self.subs[k][i].map_or(0.0, |j| p[j as usize]);
            *mi = (p[k] - without).max(0.0);
        }
        let sum: f64 = m.iter().sum();
        if sum > 0.0 {
            m.iter_mut().for_each(|x| *x /= sum);
        } else {
            m.fill(0.0);
            m[n - 1] = 1.0;
        }
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

/// Counts transformed paths and credits every converting one.
pub fn fit(set: &PathSet, transform: PathTransform) -> ShapleyFit {
    let sorted = set.sorted();
    let paths: Vec<&[u32]> = sorted.iter().map(|(p, _)| *p).collect();
    let stats: Vec<PathStats> = sorted.iter().map(|(_, s)| **s).collect();
    Compiled::new(&paths, transform, set.channels.len()).fit(&stats)
}

#[cfg(test)]
mod tests {
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
}
