//! Per-channel totals of a model over a path set, printed as ChannelAttribution does.

use std::fmt::Write;
use std::io::Read;

use anyhow::Context;

use crate::engine::bootstrap::{self, Refit, Share};
use crate::engine::models::markov::{self, MarkovFit};
use crate::engine::models::rule_tally::RuleTally;
use crate::engine::models::shapley::{self, PathTransform};
use crate::engine::models::{RuleModel, Step};
use crate::engine::paths::{totals_by_position, ChannelTotals, PathSet, PathStats, Tally};
use crate::offline::pathfile::{self, BadRow, PathColumns};
use crate::offline::scan::{self, Scan};

/// A model the offline command can run on paths (no timestamps: no time decay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathModel {
    Rule(RuleModel),
    Markov {
        order: usize,
        limit: markov::StepLimit,
    },
    Shapley(PathTransform),
}

/// A model's result.
#[derive(Debug, Clone)]
pub struct Report {
    pub channels: Vec<String>,
    pub totals: ChannelTotals,
    pub markov: Option<MarkovFit>,
    /// Per channel: its share with a bootstrap interval, and the converting journeys that
    /// touched it (with `--ci`).
    pub intervals: Option<(Vec<Share>, Vec<f64>)>,
}

/// `model` over `set` as a refittable model (for the bootstrap).
fn refit(set: &PathSet, model: PathModel, direct: &str) -> (Refit, Vec<PathStats>, Vec<Vec<u32>>) {
    let sorted = set.sorted();
    let paths: Vec<&[u32]> = sorted.iter().map(|(p, _)| *p).collect();
    let stats: Vec<PathStats> = sorted.iter().map(|(_, s)| **s).collect();
    let n = set.channels.len();
    let refit = match model {
        PathModel::Rule(rule) => {
            let direct_id = set.channels.get(direct);
            let (mut steps, mut w) = (Vec::new(), Vec::new());
            Refit::Rule(
                paths
                    .iter()
                    .map(|path| {
                        steps.clear();
                        steps.extend(path.iter().map(|&c| Step {
                            age_micros: 0,
                            direct: Some(c) == direct_id,
                        }));
                        rule.weights(&steps, &mut w);
                        let mut by: Vec<(u32, f64)> = Vec::new();
                        for (&c, &x) in path.iter().zip(&w) {
                            match by.iter_mut().find(|e| e.0 == c) {
                                Some(e) => e.1 += x,
                                None => by.push((c, x)),
                            }
                        }
                        by
                    })
                    .collect(),
            )
        }
        PathModel::Markov { order, limit } => {
            Refit::Markov(markov::Compiled::new(&paths, order, n), limit)
        }
        PathModel::Shapley(t) => Refit::Shapley(shapley::Compiled::new(&paths, t, n)),
    };
    let owned = paths.iter().map(|p| p.to_vec()).collect();
    (refit, stats, owned)
}

/// Each channel's share of `model`'s credit over `set`, with a bootstrap interval, and the
/// converting journeys that touched it.
pub fn intervals(
    set: &PathSet,
    model: PathModel,
    direct: &str,
    opts: bootstrap::Options,
) -> (Vec<Share>, Vec<f64>) {
    let (refit, stats, paths) = refit(set, model, direct);
    let n = set.channels.len();
    let shares = bootstrap::path_shares(&refit, &stats, n, opts);
    let refs: Vec<&[u32]> = paths.iter().map(|p| p.as_slice()).collect();
    (shares, bootstrap::journeys(&refs, &stats, n))
}

/// Runs `model` over `set`. `direct` names the channel `last_non_direct` skips.
pub fn run(set: &PathSet, model: PathModel, direct: &str) -> Report {
    let channels = set.channels.names().to_vec();
    match model {
        PathModel::Rule(rule) => {
            let direct_id = set.channels.get(direct);
            let mut steps = Vec::new();
            let totals = totals_by_position(set, |path, w| {
                steps.clear();
                steps.extend(path.iter().map(|&c| Step {
                    age_micros: 0,
                    direct: Some(c) == direct_id,
                }));
                rule.weights(&steps, w);
            });
            Report {
                channels,
                totals,
                markov: None,
                intervals: None,
            }
        }
        PathModel::Markov { order, limit } => {
            let fit = markov::fit(set, order, limit);
            Report {
                channels,
                totals: fit.totals.clone(),
                markov: Some(fit),
                intervals: None,
            }
        }
        PathModel::Shapley(t) => {
            let fit = shapley::fit(set, t);
            Report {
                channels,
                totals: fit.totals,
                markov: None,
                intervals: None,
            }
        }
    }
}

/// What a streamed run read.
#[derive(Debug, Clone)]
pub struct Summary {
    pub rows: u64,
    pub bad: Vec<BadRow>,
    /// Distinct paths by their channel sequence.
    pub distinct: u64,
}

/// Opens the input again from its start (a file with quoted fields is read twice).
pub type Open<'a> = dyn Fn() -> std::io::Result<Box<dyn Read + Send + 'a>> + 'a;

/// Scans the input into `make`'s tallies; quoted files go through the CSV reader whole.
fn tally<T: Tally>(
    open: &Open<'_>,
    cols: &PathColumns,
    make: impl Fn() -> T + Sync,
) -> anyhow::Result<Scan<T>> {
    let mut input = open().context("cannot open the path file")?;
    if let Some(scan) = scan::scan(&mut *input, cols, &make)? {
        return Ok(scan);
    }
    let input = open().context("cannot open the path file")?;
    let (set, bad, rows) = pathfile::read_csv(input, cols)?;
    let mut t = make();
    for (id, name) in set.channels.names().iter().enumerate() {
        t.channel(id as u32, name);
    }
    for (path, stats) in set.sorted() {
        t.add(path, *stats);
    }
    Ok(Scan {
        tally: t,
        channels: set.channels.clone(),
        bad,
        rows,
        distinct: set.paths.len() as u64,
    })
}

/// Runs `model` over a path file as it is read, keeping only what the model needs (per-channel
/// sums, the chain's counts, or the transformed paths' counts), never the paths themselves.
pub fn stream(
    open: &Open<'_>,
    cols: &PathColumns,
    model: PathModel,
    direct: &str,
) -> anyhow::Result<(Report, Summary)> {
    let summary = |rows, bad, distinct| Summary {
        rows,
        bad,
        distinct,
    };
    let (channels, totals, markov, summary) = match model {
        PathModel::Rule(rule) => {
            let s = tally(open, cols, || RuleTally::new(rule, direct))?;
            let n = s.channels.len();
            let mut totals = s.tally.totals();
            totals.conversions.resize(n, 0.0);
            totals.values.resize(n, 0.0);
            (s.channels, totals, None, summary(s.rows, s.bad, s.distinct))
        }
        PathModel::Markov { order, limit } => {
            let s = tally(open, cols, || markov::Counts::new(order))?;
            let fit = s.tally.fit(s.channels.len(), limit);
            let totals = fit.totals.clone();
            (
                s.channels,
                totals,
                Some(fit),
                summary(s.rows, s.bad, s.distinct),
            )
        }
        PathModel::Shapley(t) => {
            let s = tally(open, cols, || shapley::Counts::new(t))?;
            let totals = s.tally.totals(s.channels.len());
            (s.channels, totals, None, summary(s.rows, s.bad, s.distinct))
        }
    };
    let report = Report {
        channels: channels.names().to_vec(),
        totals,
        markov,
        intervals: None,
    };
    Ok((report, summary))
}

impl Report {
    /// CSV `channel_name,total_conversions,total_conversion_value` (+ removal effects for
    /// markov), channels sorted by name.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("channel_name,total_conversions,total_conversion_value");
        if self.markov.is_some() {
            out.push_str(",removal_effects_conversion,removal_effects_conversion_value");
        }
        if self.intervals.is_some() {
            out.push_str(",share,share_low,share_high,journeys");
        }
        out.push('\n');
        let mut order: Vec<usize> = (0..self.channels.len()).collect();
        order.sort_by(|a, b| self.channels[*a].cmp(&self.channels[*b]));
        for i in order {
            let _ = write!(
                out,
                "{},{},{}",
                csv_field(&self.channels[i]),
                num(self.totals.conversions[i]),
                num(self.totals.values[i])
            );
            if let Some(m) = &self.markov {
                let _ = write!(
                    out,
                    ",{},{}",
                    num(m.removal_conversion[i]),
                    num(m.removal_value[i])
                );
            }
            if let Some((shares, journeys)) = &self.intervals {
                let s = shares[i];
                let _ = write!(
                    out,
                    ",{},{},{},{}",
                    num(s.share),
                    num(s.low),
                    num(s.high),
                    num(journeys[i])
                );
            }
            out.push('\n');
        }
        out
    }
}

/// A number as people read it: 12 significant digits (no `3178.3599999999997`), and values
/// below 1e-9 as 0 (no 300-digit `0.000…1` from float dust).
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.abs() < 1e-9 {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor() as i32 + 1;
    let decimals = (12 - magnitude).clamp(0, 15);
    let scale = 10f64.powi(decimals);
    let rounded = (x * scale).round() / scale;
    format!("{rounded}")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_print_without_float_noise() {
        assert_eq!(num(3178.3599999999997), "3178.36");
        assert_eq!(num(1e-300), "0");
        assert_eq!(num(-2.5e-10), "0");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(123456789012345.0), "123456789012345");
        assert_eq!(num(2.0 / 3.0), "0.666666666667");
    }
}
