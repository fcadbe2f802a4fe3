//! Simplified Shapley attribution as in Google's Fractribution and Snowplow's fractribution:
//! per converting path, P(path) = conversions / (conversions + nulls) over identical
//! (transformed) paths; each touch's marginal contribution is max(P(path) − P(path without
//! that touch), 0), with unseen paths at probability 0; contributions are normalised within
//! the path; all zero → last touch; a single touch gets everything.

use std::collections::HashMap;

use crate::engine::paths::{ChannelTotals, PathSet};

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

/// Counts transformed paths and credits every converting one.
pub fn fit(set: &PathSet, transform: PathTransform) -> ShapleyFit {
    let mut counts: HashMap<Vec<Token>, (f64, f64, f64)> = HashMap::new();
    for (path, s) in set.sorted() {
        let e = counts.entry(transform.apply(path)).or_default();
        e.0 += s.conversions;
        e.1 += s.nulls;
        e.2 += s.value;
    }
    let probability = counts
        .iter()
        .map(|(k, (c, n, _))| (k.clone(), if c + n > 0.0 { c / (c + n) } else { 0.0 }))
        .collect();
    let mut fit = ShapleyFit {
        transform,
        probability,
        totals: ChannelTotals::zero(set.channels.len()),
    };
    let mut keys: Vec<&Vec<Token>> = counts.keys().collect();
    keys.sort_unstable();
    for k in keys {
        let (c, _, v) = counts[k];
        if c <= 0.0 {
            continue;
        }
        for (t, share) in k.iter().zip(fit.token_shares(k)) {
            fit.totals.conversions[t.0 as usize] += share * c;
            fit.totals.values[t.0 as usize] += share * v;
        }
    }
    fit
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
