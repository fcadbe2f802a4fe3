//! A run's headline numbers: per model and channel, the conversions and value credited, the
//! channel's share with a bootstrap interval, and the journeys behind it (`channel_credit`).
//!
//! Every resample weighs each of the run's conversions by Poisson(1) (one draw per conversion,
//! shared by all models). Rule models re-sum their fixed credits; markov and shapley are also
//! refitted on their training paths resampled the same way, and their journey weights
//! recomputed, so an interval covers the uncertainty of the fit too.

use crate::domain::collections::FastMap as HashMap;

use super::attribute::{known_ids, Attributed, Plan};
use super::credit_groups::{CreditGroups, Csr};
use super::quality::ShareRecord;
use crate::domain::attribution::ModelKind;
use crate::domain::money::Currency;
use crate::domain::rng::Rng;
use crate::engine::bootstrap::{self, Options, Resampler, Share};
use crate::engine::models::markov::{self, StepLimit};
use crate::engine::models::shapley;
use crate::engine::paths::PathStats;
use crate::fx::Rates;

/// One model's credit to one channel in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelShare {
    pub model: ModelKind,
    pub channel: String,
    pub conversions: f64,
    /// The credited value, when it is one currency (the reporting currency, or the only one).
    pub value: Option<(i64, Currency)>,
    pub share: Share,
    /// The run's conversions whose window touched the channel (`direct` for none).
    pub journeys: u64,
}

/// The data-driven models' resampling: their training paths and each distinct path of the
/// run's conversions (training ids) with how many conversions took it.
struct Refits {
    markov: Option<markov::Compiled>,
    shapley: Option<shapley::Compiled>,
    stats: Vec<PathStats>,
    /// Distinct conversion paths (ids), their conversions, and each id's channel index.
    paths: Vec<(Vec<u32>, f64)>,
    channel_of_id: Vec<usize>,
    /// Where a conversion without touches goes.
    direct: usize,
}

/// The summary of `att` under every model it credited.
pub fn summarize(
    att: &Attributed,
    plan: &Plan,
    opts: Options,
    rates: Option<&Rates>,
) -> Vec<ChannelShare> {
    // Channels by name, in first-seen order; then per conversion its credits per model.
    let mut channels: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::default();
    let mut id = |name: &str, channels: &mut Vec<String>| -> usize {
        if let Some(&i) = index.get(name) {
            return i;
        }
        channels.push(name.to_string());
        index.insert(name.to_string(), channels.len() - 1);
        channels.len() - 1
    };
    let mut models: Vec<ModelKind> = Vec::new();
    // Per model, every conversion's credits in one array (offsets per conversion), so a
    // resample's weighted sum runs through memory in order (and a run's millions of credits
    // take 16 bytes each, not a vector per conversion and model).
    let mut flat: Vec<Csr> = Vec::new();
    let mut values: Vec<HashMap<usize, i64>> = Vec::new();
    let mut value_ok: Vec<bool> = Vec::new();
    let mut currencies: std::collections::BTreeSet<Currency> = Default::default();
    let mut journeys: HashMap<usize, u64> = HashMap::default();
    let reporting = rates.map(|r| r.reporting);
    for (j, cc) in att.credited.iter().enumerate() {
        let conv = &att.conversions[cc.index];
        let window = att.journeys.window(conv);
        let mut touched: Vec<usize> = if window.is_empty() {
            vec![id(crate::domain::touchpoint::DIRECT, &mut channels)]
        } else {
            window
                .iter()
                .map(|t| id(t.channel.as_str(), &mut channels))
                .collect()
        };
        touched.sort_unstable();
        touched.dedup();
        for c in touched {
            *journeys.entry(c).or_default() += 1;
        }
        if let Some(v) = conv.value {
            currencies.insert(v.currency);
        }
        for cr in &cc.credits {
            let m = match models.iter().position(|m| *m == cr.model) {
                Some(m) => m,
                None => {
                    models.push(cr.model);
                    // Conversions before this one had no credit under the model.
                    flat.push((vec![0; j + 1], Vec::new()));
                    values.push(HashMap::default());
                    value_ok.push(true);
                    models.len() - 1
                }
            };
            let c = id(cr.channel.as_str(), &mut channels);
            flat[m].1.push((c as u32, cr.credit));
            if let (Some(v), Some(money)) = (cr.value_micros, conv.value) {
                let converted = match (rates, reporting) {
                    (Some(fx), Some(_)) => fx.convert(v, money.currency, conv.timestamp.date()),
                    _ => Some(v),
                };
                match converted {
                    Some(x) => *values[m].entry(c).or_default() += x,
                    None => value_ok[m] = false,
                }
            }
        }
        for (offsets, entries) in &mut flat {
            offsets.push(entries.len() as u32);
        }
    }
    let value_currency = reporting.or_else(|| {
        (currencies.len() == 1)
            .then(|| currencies.iter().next().copied())
            .flatten()
    });
    let refits = refits(att, plan, &mut channels, &mut id);
    let n = channels.len();
    let n_conv = att.credited.len();
    // Each model's point credit per channel (resamples are summed by `CreditGroups`).
    let points: Vec<Vec<f64>> = flat
        .iter()
        .map(|(offsets, entries)| {
            let mut out = vec![0.0; n];
            for j in 0..n_conv {
                for &(c, x) in &entries[offsets[j] as usize..offsets[j + 1] as usize] {
                    out[c as usize] += x;
                }
            }
            out
        })
        .collect();
    // Markov and Shapley are refitted on resampled training paths; every other model is
    // resampled by conversion, and the rule models share each resample's weights.
    let refitted = |m: usize| -> Option<&Refits> {
        matches!(models[m], ModelKind::Markov | ModelKind::Shapley)
            .then_some(refits.as_ref())
            .flatten()
    };
    let rules: Vec<usize> = (0..models.len())
        .filter(|&m| refitted(m).is_none())
        .collect();
    let rule_points: Vec<Vec<f64>> = rules.iter().map(|&m| points[m].clone()).collect();
    let rule_credits: Vec<&Csr> = rules.iter().map(|&m| &flat[m]).collect();
    let groups = CreditGroups::new(&rule_credits, n_conv);
    tracing::debug!(
        conversions = n_conv,
        patterns = ?groups.patterns(),
        joint_groups = groups.joint_groups(),
        "channel shares: conversions grouped by their rule-model credits"
    );
    let mut rule_shares = bootstrap::intervals_of_many(&rule_points, opts, |rng| {
        groups
            .sums_drawn(n_conv, n, || rng.poisson_with(1.0, LIMIT_1))
            .into_iter()
            .map(Some)
            .collect()
    })
    .into_iter();
    let mut out = Vec::new();
    for (m, model) in models.iter().enumerate() {
        let point = &points[m];
        let shares = match refitted(m) {
            Some(r) => {
                let draws = Resampler::new(&r.stats);
                bootstrap::intervals(point, opts, |rng| {
                    Some(refit_credit(*model, r, &draws, rng, n))
                })
            }
            // Rules are in model order: the next interval set is this model's.
            None => rule_shares.next().expect("one interval set per rule model"),
        };
        for (c, name) in channels.iter().enumerate() {
            if point[c] == 0.0 && !journeys.contains_key(&c) {
                continue;
            }
            out.push(ChannelShare {
                model: *model,
                channel: name.clone(),
                conversions: point[c],
                value: value_currency
                    .filter(|_| value_ok[m])
                    .map(|cur| (values[m].get(&c).copied().unwrap_or(0), cur)),
                share: shares[c],
                journeys: journeys.get(&c).copied().unwrap_or(0),
            });
        }
    }
    out
}

/// e^−1, for Poisson(1) draws.
const LIMIT_1: f64 = 0.367_879_441_171_442_33;

fn refits(
    att: &Attributed,
    plan: &Plan,
    channels: &mut Vec<String>,
    id: &mut impl FnMut(&str, &mut Vec<String>) -> usize,
) -> Option<Refits> {
    if att.markov.is_none() && att.shapley.is_none() {
        return None;
    }
    let training = &att.training;
    let sorted = training.sorted();
    let tpaths: Vec<&[u32]> = sorted.iter().map(|(p, _)| *p).collect();
    let stats: Vec<PathStats> = sorted.iter().map(|(_, s)| **s).collect();
    let n_ids = training.channels.len();
    let channel_of_id = (0..n_ids as u32)
        .map(|i| id(training.channels.name(i), channels))
        .collect();
    let direct = id(crate::domain::touchpoint::DIRECT, channels);
    let mut by_path: HashMap<Vec<u32>, f64> = HashMap::default();
    for cc in &att.credited {
        let window = att.journeys.window(&att.conversions[cc.index]);
        *by_path.entry(known_ids(training, window)).or_default() += 1.0;
    }
    let mut paths: Vec<(Vec<u32>, f64)> = by_path.into_iter().collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    Some(Refits {
        markov: plan
            .markov
            .map(|order| markov::Compiled::new(&tpaths, order, n_ids)),
        shapley: plan
            .shapley
            .map(|t| shapley::Compiled::new(&tpaths, t, n_ids)),
        stats,
        paths,
        channel_of_id,
        direct,
    })
}

/// Per-touch weights of a journey (channel ids) under a fitted model.
type Weigh = dyn FnMut(&[u32], &mut Vec<f64>);

/// One resample's credit per channel under a data-driven model: the model refitted on
/// resampled training paths, then its journey weights over the run's conversions, each path
/// group weighted by Poisson(its conversions).
fn refit_credit(
    model: ModelKind,
    r: &Refits,
    draws: &Resampler<'_>,
    rng: &mut Rng,
    n: usize,
) -> Vec<f64> {
    let mut weigh: Box<Weigh> = match model {
        ModelKind::Markov => {
            let fit = r
                .markov
                .as_ref()
                .expect("markov refit")
                .fit_with(|i| draws.draw(i, rng), StepLimit::Exact);
            Box::new(move |p: &[u32], w: &mut Vec<f64>| fit.journey_weights(p, w))
        }
        _ => {
            let fit = r
                .shapley
                .as_ref()
                .expect("shapley refit")
                .fit_with(|i| draws.draw(i, rng));
            Box::new(move |p: &[u32], w: &mut Vec<f64>| fit.journey_weights(p, w))
        }
    };
    let mut out = vec![0.0; n];
    let mut w = Vec::new();
    for (path, count) in &r.paths {
        let k = rng.poisson(*count);
        if k == 0.0 {
            continue;
        }
        if path.is_empty() {
            out[r.direct] += k;
            continue;
        }
        weigh(path, &mut w);
        for (&i, x) in path.iter().zip(&w) {
            // Ids past the training set (a channel it never saw) have no weight.
            if let Some(&c) = r.channel_of_id.get(i as usize) {
                out[c] += k * x;
            }
        }
    }
    out
}

impl ChannelShare {
    /// The share as the run's quality record keeps it.
    pub fn record(&self) -> ShareRecord {
        ShareRecord {
            model: self.model.as_str().to_string(),
            channel: self.channel.clone(),
            share: self.share.share,
            low: self.share.low,
            high: self.share.high,
            journeys: self.journeys,
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// What a data-driven model's shares say against the previous run's (`prev`, of run
/// `prev_run`): a channel whose interval no longer overlaps the previous one has moved by more
/// than either run's sampling noise; one whose interval is wider than `max_width` is too thin to
/// act on.
pub fn drift(
    prev: &[ShareRecord],
    prev_run: Option<crate::domain::ids::RunId>,
    now: &[ChannelShare],
    max_width: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    let data_driven = |m: ModelKind| matches!(m, ModelKind::Markov | ModelKind::Shapley);
    for s in now.iter().filter(|s| data_driven(s.model)) {
        let model = s.model.as_str();
        let Some(p) = prev
            .iter()
            .find(|p| p.model == model && p.channel == s.channel)
        else {
            continue;
        };
        if s.share.low > p.high || s.share.high < p.low {
            out.push(format!(
                "{model}: {} moved from {} [{}–{}] ({} journeys, run {}) to {} [{}–{}] ({} journeys): outside the previous interval",
                s.channel,
                pct(p.share),
                pct(p.low),
                pct(p.high),
                p.journeys,
                prev_run.map_or("before".into(), |r| r.to_string()),
                pct(s.share.share),
                pct(s.share.low),
                pct(s.share.high),
                s.journeys
            ));
        }
    }
    // A channel the previous run credited that this run's journeys never touched.
    let models_now: std::collections::BTreeSet<&str> =
        now.iter().map(|s| s.model.as_str()).collect();
    for p in prev.iter().filter(|p| {
        ["markov", "shapley"].contains(&p.model.as_str())
            && models_now.contains(p.model.as_str())
            && p.low > 0.0
            && !now
                .iter()
                .any(|s| s.model.as_str() == p.model && s.channel == p.channel)
    }) {
        out.push(format!(
            "{}: {} moved from {} [{}–{}] ({} journeys, run {}) to 0.0%: no journey of this run touched it",
            p.model,
            p.channel,
            pct(p.share),
            pct(p.low),
            pct(p.high),
            p.journeys,
            prev_run.map_or("before".into(), |r| r.to_string()),
        ));
    }
    for model in [ModelKind::Markov, ModelKind::Shapley] {
        let thin: Vec<String> = now
            .iter()
            .filter(|s| s.model == model && s.share.width() > max_width)
            .map(|s| {
                format!(
                    "{} ({}–{}, {} journeys)",
                    s.channel,
                    pct(s.share.low),
                    pct(s.share.high),
                    s.journeys
                )
            })
            .collect();
        if !thin.is_empty() {
            out.push(format!(
                "{}: too thin to act on, intervals wider than attribution.max_interval_width ({}): {}",
                model.as_str(),
                pct(max_width),
                thin.join(", ")
            ));
        }
    }
    out
}
