//! Aggregated channel paths: the training data of the data-driven models, and the input of
//! `attrsync attribute` (ChannelAttribution's format).

use crate::domain::collections::FastMap as HashMap;

/// Channel names interned to small ids.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Channels {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), i);
        i
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// How often a path ended in conversion or not, and the conversions' total value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PathStats {
    pub conversions: f64,
    pub nulls: f64,
    pub value: f64,
}

impl PathStats {
    pub fn add(&mut self, o: PathStats) {
        self.conversions += o.conversions;
        self.nulls += o.nulls;
        self.value += o.value;
    }
}

/// Distinct paths with their totals.
#[derive(Debug, Clone, Default)]
pub struct PathSet {
    pub channels: Channels,
    pub paths: HashMap<Box<[u32]>, PathStats>,
}

impl PathSet {
    /// Adds a path of channel names; empty paths are ignored.
    pub fn add_names<'a>(&mut self, names: impl IntoIterator<Item = &'a str>, stats: PathStats) {
        let ids: Vec<u32> = names.into_iter().map(|n| self.channels.id(n)).collect();
        self.add_ids(&ids, stats);
    }

    /// Adds a path of channel ids (from [`PathSet::channels`]).
    pub fn add_ids(&mut self, ids: &[u32], stats: PathStats) {
        if ids.is_empty() {
            return;
        }
        match self.paths.get_mut(ids) {
            Some(s) => s.add(stats),
            None => {
                self.paths.insert(ids.into(), stats);
            }
        }
    }

    pub fn total(&self) -> PathStats {
        let mut t = PathStats::default();
        for s in self.paths.values() {
            t.add(*s);
        }
        t
    }

    /// Paths in a stable order (by ids), so sums come out the same on every run.
    pub fn sorted(&self) -> Vec<(&[u32], &PathStats)> {
        let mut v: Vec<(&[u32], &PathStats)> = self.paths.iter().map(|(k, s)| (&**k, s)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }
}

/// What a model needs from paths, gathered one path at a time without keeping them: tallies
/// of parts of an input (each with its own channel ids) merge into the tally of the whole.
/// Parts merge in input order, so sums come out the same whatever the number of threads.
pub trait Tally: Send {
    /// Channel `id` of this tally stands for `name` (called once per id, in id order, before
    /// any path that uses it).
    fn channel(&mut self, _id: u32, _name: &str) {}
    /// At most `paths` more paths are coming (a hint: a tally may size its tables once).
    fn expect(&mut self, _paths: usize) {}
    /// One path (channel ids, in order) with its counts.
    fn add(&mut self, path: &[u32], stats: PathStats);
    /// Adds `part`, whose channel `c` is this tally's `ids[c]`.
    fn merge(&mut self, part: Self, ids: &[u32])
    where
        Self: Sized;
}

impl Tally for PathSet {
    fn channel(&mut self, id: u32, name: &str) {
        let own = self.channels.id(name);
        debug_assert_eq!(own, id, "channels are announced in id order");
    }

    fn add(&mut self, path: &[u32], stats: PathStats) {
        self.add_ids(path, stats);
    }

    fn merge(&mut self, part: Self, ids: &[u32]) {
        let mut mapped = Vec::new();
        for (path, stats) in part.sorted() {
            mapped.clear();
            mapped.extend(path.iter().map(|&c| ids[c as usize]));
            self.add_ids(&mapped, *stats);
        }
    }
}

/// Per-channel totals a model credits over a path set.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelTotals {
    pub conversions: Vec<f64>,
    pub values: Vec<f64>,
}

impl ChannelTotals {
    pub fn zero(n: usize) -> Self {
        Self {
            conversions: vec![0.0; n],
            values: vec![0.0; n],
        }
    }
}

/// Distributes each path's conversions and value by per-position weights.
pub fn totals_by_position(
    set: &PathSet,
    mut weights: impl FnMut(&[u32], &mut Vec<f64>),
) -> ChannelTotals {
    let mut t = ChannelTotals::zero(set.channels.len());
    let mut w = Vec::new();
    for (path, s) in set.sorted() {
        if s.conversions == 0.0 && s.value == 0.0 {
            continue;
        }
        weights(path, &mut w);
        for (c, x) in path.iter().zip(&w) {
            t.conversions[*c as usize] += x * s.conversions;
            t.values[*c as usize] += x * s.value;
        }
    }
    t
}

/// Random path sets, and tallies of them taken whole and in parts, for the models' tests.
#[cfg(test)]
pub(crate) mod sample {
    use super::{Channels, PathStats, Tally};
    use crate::domain::rng::Rng;

    pub type Row = (Vec<String>, PathStats);

    /// `n` paths of 1–6 steps over `k` channels, repeats included.
    pub fn rows(seed: u64, n: usize, k: u64) -> Vec<Row> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let len = 1 + rng.below(6) as usize;
                let path = (0..len).map(|_| format!("c{}", rng.below(k))).collect();
                let conversions = rng.below(3) as f64;
                let stats = PathStats {
                    conversions,
                    nulls: rng.below(4) as f64,
                    value: conversions * (1.0 + rng.below(10_000) as f64 / 100.0),
                };
                (path, stats)
            })
            .collect()
    }

    fn feed<T: Tally>(rows: &[Row], tally: &mut T, channels: &mut Channels) {
        let mut ids = Vec::new();
        for (path, stats) in rows {
            ids.clear();
            for name in path {
                let before = channels.len();
                let id = channels.id(name);
                if channels.len() > before {
                    tally.channel(id, name);
                }
                ids.push(id);
            }
            tally.add(&ids, *stats);
        }
    }

    /// `rows` tallied in one go, and tallied in three parts (each numbering channels its own
    /// way) then merged; channels are numbered by first appearance in both.
    pub fn whole_and_merged<T: Tally>(rows: &[Row], make: impl Fn() -> T) -> (T, T, Channels) {
        let mut whole = make();
        let mut channels = Channels::default();
        feed(rows, &mut whole, &mut channels);
        let mut merged = make();
        let mut global = Channels::default();
        let third = rows.len() / 3 + 1;
        for part_rows in rows.chunks(third) {
            let mut part = make();
            let mut local = Channels::default();
            feed(part_rows, &mut part, &mut local);
            let ids: Vec<u32> = local
                .names()
                .iter()
                .map(|name| {
                    let before = global.len();
                    let id = global.id(name);
                    if global.len() > before {
                        merged.channel(id, name);
                    }
                    id
                })
                .collect();
            merged.merge(part, &ids);
        }
        assert_eq!(channels.names(), global.names());
        (whole, merged, channels)
    }

    /// The same rows as a path set.
    pub fn set(rows: &[Row]) -> super::PathSet {
        let mut s = super::PathSet::default();
        for (path, stats) in rows {
            s.add_names(path.iter().map(String::as_str), *stats);
        }
        s
    }
}
