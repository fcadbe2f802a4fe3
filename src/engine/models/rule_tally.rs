//! A rule-based model's per-channel totals over streamed paths: what `attrsync attribute`
//! gathers from a file without keeping its paths.

use super::{RuleModel, Step};
use crate::engine::paths::{ChannelTotals, PathStats, Tally};

/// Conversions and value a rule credits per channel, path by path.
#[derive(Debug, Clone)]
pub struct RuleTally {
    rule: RuleModel,
    /// The channel `last_non_direct` skips, by name (ids differ between parts).
    direct_name: String,
    direct: Option<u32>,
    totals: ChannelTotals,
    steps: Vec<Step>,
    weights: Vec<f64>,
}

impl RuleTally {
    pub fn new(rule: RuleModel, direct_name: &str) -> Self {
        Self {
            rule,
            direct_name: direct_name.to_string(),
            direct: None,
            totals: ChannelTotals::zero(0),
            steps: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// The totals, one entry per channel id announced.
    pub fn totals(self) -> ChannelTotals {
        self.totals
    }

    fn grow(&mut self, n: usize) {
        if self.totals.conversions.len() < n {
            self.totals.conversions.resize(n, 0.0);
            self.totals.values.resize(n, 0.0);
        }
    }
}

impl Tally for RuleTally {
    fn channel(&mut self, id: u32, name: &str) {
        if name == self.direct_name {
            self.direct = Some(id);
        }
        self.grow(id as usize + 1);
    }

    fn add(&mut self, path: &[u32], s: PathStats) {
        if s.conversions == 0.0 && s.value == 0.0 {
            return;
        }
        let direct = self.direct;
        self.steps.clear();
        self.steps.extend(path.iter().map(|&c| Step {
            age_micros: 0,
            direct: Some(c) == direct,
        }));
        self.rule.weights(&self.steps, &mut self.weights);
        for (&c, &x) in path.iter().zip(&self.weights) {
            self.totals.conversions[c as usize] += x * s.conversions;
            self.totals.values[c as usize] += x * s.value;
        }
    }

    fn merge(&mut self, part: Self, ids: &[u32]) {
        let n = ids.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
        self.grow(n);
        for (c, &to) in ids.iter().enumerate().take(part.totals.conversions.len()) {
            self.totals.conversions[to as usize] += part.totals.conversions[c];
            self.totals.values[to as usize] += part.totals.values[c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::paths::{totals_by_position, PathSet};

    fn stats(c: f64, v: f64) -> PathStats {
        PathStats {
            conversions: c,
            nulls: 1.0,
            value: v,
        }
    }

    #[test]
    fn merged_parts_equal_the_whole_and_direct_is_found_by_name() {
        let rule = RuleModel::LastNonDirect;
        // Part one knows a=0, direct=1; part two knows direct=0, b=1: ids differ by part.
        let mut one = RuleTally::new(rule, "direct");
        one.channel(0, "a");
        one.channel(1, "direct");
        one.add(&[0, 1], stats(2.0, 20.0));
        let mut two = RuleTally::new(rule, "direct");
        two.channel(0, "direct");
        two.channel(1, "b");
        two.add(&[1, 0], stats(1.0, 5.0));
        two.add(&[0], stats(1.0, 1.0));
        // The whole: a=0, direct=1, b=2.
        let mut whole = RuleTally::new(rule, "direct");
        for (id, name) in ["a", "direct", "b"].iter().enumerate() {
            whole.channel(id as u32, name);
        }
        whole.merge(one, &[0, 1]);
        whole.merge(two, &[1, 2]);
        let t = whole.totals();
        // a > direct: a gets it; b > direct: b; direct alone: direct.
        assert_eq!(t.conversions, [2.0, 1.0, 1.0]);
        assert_eq!(t.values, [20.0, 1.0, 5.0]);

        let mut set = PathSet::default();
        set.add_names(["a", "direct"], stats(2.0, 20.0));
        set.add_names(["b", "direct"], stats(1.0, 5.0));
        set.add_names(["direct"], stats(1.0, 1.0));
        let direct = set.channels.get("direct");
        let mut steps = Vec::new();
        let by_position = totals_by_position(&set, |p, w| {
            steps.clear();
            steps.extend(p.iter().map(|&c| Step {
                age_micros: 0,
                direct: Some(c) == direct,
            }));
            rule.weights(&steps, w);
        });
        assert_eq!(by_position.conversions, t.conversions);
    }
}
