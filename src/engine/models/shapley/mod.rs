//! Simplified Shapley attribution as in Google's Fractribution and Snowplow's fractribution:
//! per converting path, P(path) = conversions / (conversions + nulls) over identical
//! (transformed) paths; each touch's marginal contribution is max(P(path) − P(path without
//! that touch), 0), with unseen paths at probability 0; contributions are normalised within
//! the path; all zero → last touch; a single touch gets everything.

mod compiled;
mod counts;
#[cfg(test)]
mod tests;

pub use compiled::Compiled;
pub use counts::Counts;

use crate::domain::collections::FastMap as HashMap;

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
        let mut v = Vec::with_capacity(path.len());
        self.apply_into(path, &mut v);
        v
    }

    /// [`PathTransform::apply`] into a buffer the caller reuses.
    pub fn apply_into(self, path: &[u32], v: &mut Vec<(u32, u32)>) {
        v.clear();
        match self {
            Self::Unique => v.extend(path.iter().map(|&c| (c, 0))),
            Self::Exposure => {
                for &c in path {
                    if v.last().map(|t| t.0) != Some(c) {
                        v.push((c, 0));
                    }
                }
            }
            Self::First | Self::Frequency => {
                for &c in path {
                    match v.iter_mut().find(|t| t.0 == c) {
                        Some(t) => t.1 += 1,
                        None => v.push((c, 1)),
                    }
                }
                if self == Self::First {
                    v.iter_mut().for_each(|t| t.1 = 0);
                }
            }
        }
    }
}

type Token = (u32, u32);

/// Shares of the `n` tokens of a path that converts with probability `p`, where `without(i)`
/// is the probability of the path without token i: marginals floored at 0 and normalised;
/// all zero → the last token gets everything; a single token gets everything.
fn marginal_shares(n: usize, p: f64, mut without: impl FnMut(usize) -> f64, m: &mut Vec<f64>) {
    m.clear();
    m.resize(n, 0.0);
    match n {
        0 => return,
        1 => {
            m[0] = 1.0;
            return;
        }
        _ => {}
    }
    for (i, mi) in m.iter_mut().enumerate() {
        *mi = (p - without(i)).max(0.0);
    }
    let sum: f64 = m.iter().sum();
    if sum > 0.0 {
        m.iter_mut().for_each(|x| *x /= sum);
    } else {
        m.fill(0.0);
        m[n - 1] = 1.0;
    }
}

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
        let mut without: Vec<Token> = Vec::with_capacity(path.len());
        let mut m = Vec::new();
        marginal_shares(
            path.len(),
            self.p(path),
            |i| {
                without.clear();
                without.extend_from_slice(&path[..i]);
                without.extend_from_slice(&path[i + 1..]);
                self.p(&without)
            },
            &mut m,
        );
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
    let sorted = set.sorted();
    let paths: Vec<&[u32]> = sorted.iter().map(|(p, _)| *p).collect();
    let stats: Vec<PathStats> = sorted.iter().map(|(_, s)| **s).collect();
    Compiled::new(&paths, transform, set.channels.len()).fit(&stats)
}
