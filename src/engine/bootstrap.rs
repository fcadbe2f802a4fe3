//! How sure a channel's share is: a Poisson bootstrap. Every resample weighs each journey by an
//! independent Poisson(1) count (for a path seen c times, its count becomes Poisson(c)), the
//! model is refitted or re-summed on it, and the channel's share of the credit is taken; the
//! interval is the middle `confidence` of those shares (percentile method). Resamples are
//! seeded per index, so a run's intervals are reproducible and independent of thread count.

use rayon::prelude::*;

use crate::domain::rng::Rng;
use crate::engine::models::markov::{self, StepLimit};
use crate::engine::models::shapley;
use crate::engine::paths::PathStats;

/// How many resamples, and how much of their spread the interval covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// 0 turns intervals off.
    pub samples: u32,
    /// The interval's coverage, in (0, 1): 0.9 takes the 5th to 95th percentile.
    pub confidence: f64,
    pub seed: u64,
}

/// A channel's share of a model's credit, with its interval (equal to the share when there
/// were no resamples).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    pub share: f64,
    pub low: f64,
    pub high: f64,
}

impl Share {
    pub fn width(&self) -> f64 {
        self.high - self.low
    }

    /// Whether `x` lies inside the interval.
    pub fn holds(&self, x: f64) -> bool {
        x >= self.low - 1e-12 && x <= self.high + 1e-12
    }
}

/// The `q` quantile of sorted `v` (linear between order statistics).
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    match v.get(i + 1) {
        Some(next) => v[i] + (next - v[i]) * frac,
        None => v[i],
    }
}

fn shares_of(credit: &[f64]) -> Option<Vec<f64>> {
    let total: f64 = credit.iter().sum();
    (total > 0.0).then(|| credit.iter().map(|c| c / total).collect())
}

/// Shares of `point` (per-channel credit) with intervals from `draw`, which turns one
/// generator into one resample's per-channel credit (`None` for an empty resample, skipped).
pub fn intervals<F>(point: &[f64], opts: Options, draw: F) -> Vec<Share>
where
    F: Fn(&mut Rng) -> Option<Vec<f64>> + Sync,
{
    let mut all = intervals_of_many(&[point.to_vec()], opts, |rng| vec![draw(rng)]);
    all.pop().expect("one model")
}

/// [`intervals`] for several models resampled together: `draw` turns one generator into
/// every model's credit for one resample, so the models can share its draws.
pub fn intervals_of_many<F>(points: &[Vec<f64>], opts: Options, draw: F) -> Vec<Vec<Share>>
where
    F: Fn(&mut Rng) -> Vec<Option<Vec<f64>>> + Sync,
{
    let resamples: Vec<Vec<Option<Vec<f64>>>> = (0..opts.samples)
        .into_par_iter()
        .map(|s| {
            let mut rng = Rng::for_item(opts.seed, s as u64);
            draw(&mut rng)
                .into_iter()
                .map(|c| c.and_then(|c| shares_of(&c)))
                .collect()
        })
        .collect();
    let tail = (1.0 - opts.confidence.clamp(0.0, 1.0)) / 2.0;
    points
        .iter()
        .enumerate()
        .map(|(m, point)| {
            let shares = shares_of(point).unwrap_or_else(|| vec![0.0; point.len()]);
            let kept: Vec<&Vec<f64>> = resamples.iter().filter_map(|r| r[m].as_ref()).collect();
            shares
                .iter()
                .enumerate()
                .map(|(c, &share)| {
                    let mut v: Vec<f64> = kept
                        .iter()
                        .map(|r| r.get(c).copied().unwrap_or(0.0))
                        .collect();
                    if v.is_empty() {
                        return Share {
                            share,
                            low: share,
                            high: share,
                        };
                    }
                    v.sort_unstable_by(f64::total_cmp);
                    Share {
                        share,
                        low: quantile(&v, tail),
                        high: quantile(&v, 1.0 - tail),
                    }
                })
                .collect()
        })
        .collect()
}

/// Draws resampled path counts: conversions and nulls each Poisson of their count, value
/// scaled with the conversions. The e^−λ of every count is computed once, not per draw.
#[derive(Debug, Clone)]
pub struct Resampler<'a> {
    stats: &'a [PathStats],
    limits: Vec<(f64, f64)>,
}

impl<'a> Resampler<'a> {
    pub fn new(stats: &'a [PathStats]) -> Self {
        let limits = stats
            .iter()
            .map(|s| ((-s.conversions).exp(), (-s.nulls).exp()))
            .collect();
        Self { stats, limits }
    }

    /// Path `i`'s counts in one resample.
    #[inline]
    pub fn draw(&self, i: usize, rng: &mut Rng) -> PathStats {
        let s = &self.stats[i];
        let (lc, ln) = self.limits[i];
        let conversions = rng.poisson_with(s.conversions, lc);
        PathStats {
            conversions,
            nulls: rng.poisson_with(s.nulls, ln),
            value: if s.conversions > 0.0 {
                s.value * conversions / s.conversions
            } else {
                0.0
            },
        }
    }
}

/// A model over a fixed list of paths that can be fitted again to other counts.
#[derive(Debug, Clone)]
pub enum Refit {
    /// A rule model: each path's per-channel weights (sum 1), credited per conversion.
    Rule(Vec<Vec<(u32, f64)>>),
    Markov(markov::Compiled, StepLimit),
    Shapley(shapley::Compiled),
}

impl Refit {
    /// Credited conversions per channel when path i counts `stats[i]`.
    pub fn credit(&self, stats: &[PathStats], n_channels: usize) -> Vec<f64> {
        self.credit_with(|i| stats[i], n_channels)
    }

    /// Credited conversions per channel when path i counts `stat_of(i)` (called once per
    /// path, in order).
    pub fn credit_with(
        &self,
        mut stat_of: impl FnMut(usize) -> PathStats,
        n_channels: usize,
    ) -> Vec<f64> {
        match self {
            Refit::Rule(weights) => {
                let mut out = vec![0.0; n_channels];
                for (i, w) in weights.iter().enumerate() {
                    let s = stat_of(i);
                    if s.conversions > 0.0 {
                        for &(c, x) in w {
                            out[c as usize] += x * s.conversions;
                        }
                    }
                }
                out
            }
            Refit::Markov(m, limit) => m.fit_with(stat_of, *limit).totals.conversions,
            Refit::Shapley(s) => s.totals_with(stat_of).conversions,
        }
    }
}

/// Per-channel shares of a model over paths, with bootstrap intervals.
pub fn path_shares(
    refit: &Refit,
    stats: &[PathStats],
    n_channels: usize,
    opts: Options,
) -> Vec<Share> {
    let point = refit.credit(stats, n_channels);
    let draws = Resampler::new(stats);
    intervals(&point, opts, |rng| {
        Some(refit.credit_with(|i| draws.draw(i, rng), n_channels))
    })
}

/// Converting journeys that touched each channel (a path's conversions count once per
/// channel on it).
pub fn journeys(paths: &[&[u32]], stats: &[PathStats], n_channels: usize) -> Vec<f64> {
    let mut out = vec![0.0; n_channels];
    let mut seen: Vec<u32> = Vec::new();
    for (p, s) in paths.iter().zip(stats) {
        seen.clear();
        seen.extend_from_slice(p);
        seen.sort_unstable();
        seen.dedup();
        for &c in &seen {
            out[c as usize] += s.conversions;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(c: f64, n: f64) -> PathStats {
        PathStats {
            conversions: c,
            nulls: n,
            value: c * 10.0,
        }
    }

    const OPTS: Options = Options {
        samples: 200,
        confidence: 0.9,
        seed: 1,
    };

    #[test]
    fn one_path_gives_intervals_that_collapse_to_the_point() {
        let paths: Vec<&[u32]> = vec![&[0, 1, 1, 2]];
        let st = vec![stats(40.0, 60.0)];
        let linear: Vec<(u32, f64)> = vec![(0, 0.25), (1, 0.5), (2, 0.25)];
        for refit in [
            Refit::Rule(vec![linear]),
            Refit::Markov(markov::Compiled::new(&paths, 1, 3), StepLimit::Exact),
            Refit::Shapley(shapley::Compiled::new(
                &paths,
                shapley::PathTransform::Exposure,
                3,
            )),
        ] {
            let s = path_shares(&refit, &st, 3, OPTS);
            for x in &s {
                assert!(x.width() < 1e-12, "{refit:?}: {s:?}");
            }
            assert!((s.iter().map(|x| x.share).sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn more_data_narrows_the_interval_and_the_seed_reproduces_it() {
        let paths: Vec<&[u32]> = vec![&[0], &[1], &[0, 1]];
        let rule = Refit::Rule(vec![
            vec![(0, 1.0)],
            vec![(1, 1.0)],
            vec![(0, 0.5), (1, 0.5)],
        ]);
        let small = [stats(10.0, 0.0), stats(5.0, 0.0), stats(4.0, 0.0)];
        let big: Vec<PathStats> = small
            .iter()
            .map(|s| stats(s.conversions * 100.0, 0.0))
            .collect();
        let a = path_shares(&rule, &small, 2, OPTS);
        let b = path_shares(&rule, &big, 2, OPTS);
        assert!((a[0].share - b[0].share).abs() < 1e-12, "same point");
        assert!(b[0].width() < a[0].width() / 5.0, "{a:?} {b:?}");
        assert!(a[0].holds(a[0].share) && a[0].low < a[0].share && a[0].share < a[0].high);
        assert_eq!(a, path_shares(&rule, &small, 2, OPTS));
        let other = Options { seed: 2, ..OPTS };
        assert_ne!(a, path_shares(&rule, &small, 2, other));
        let _ = paths;
    }

    #[test]
    fn journeys_count_each_channel_once_per_path() {
        let paths: Vec<&[u32]> = vec![&[0, 0, 1], &[1]];
        let j = journeys(&paths, &[stats(3.0, 1.0), stats(2.0, 0.0)], 3);
        assert_eq!(j, vec![3.0, 5.0, 0.0]);
    }
}
