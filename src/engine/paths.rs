//! Aggregated channel paths: the training data of the data-driven models, and the input of
//! `attrsync attribute` (ChannelAttribution's format).

use std::collections::HashMap;

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
