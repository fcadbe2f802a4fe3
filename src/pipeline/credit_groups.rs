//! A rule model's credits of a run grouped by pattern, for the bootstrap. Most conversions
//! carry the same credits as many others (under `first_touch` there are as many patterns as
//! channels), so a resample adds up each group's Poisson weights once and spreads the sum over
//! the group's credits, instead of walking every credit of every conversion. The bootstrap
//! runs beside the load and takes CPU from it.

use crate::domain::collections::FastMap as HashMap;

/// One model's credits: per conversion (or group) an offset into (channel, credit) pairs.
pub type Csr = (Vec<u32>, Vec<(u32, f64)>);

/// Each model's conversions grouped by their credits under it.
#[derive(Debug)]
pub struct CreditGroups {
    models: Vec<Grouped>,
    joint: Joint,
}

/// The grouped models' groups taken together: conversions in one joint group share a group
/// under every grouped model, so a resample adds each weight once, not once per model.
#[derive(Debug, Default)]
struct Joint {
    /// Each conversion's joint group.
    of: Vec<u32>,
    /// Per model (empty where ungrouped): each joint group's group under that model.
    to_group: Vec<Vec<u32>>,
    len: usize,
}

impl Joint {
    fn new(models: &[Grouped], n_conv: usize) -> Self {
        // (model, its conversions' groups) for each grouped model.
        let grouped: Vec<(usize, &Vec<u32>)> = models
            .iter()
            .enumerate()
            .filter_map(|(m, g)| g.group_of.as_ref().map(|g| (m, g)))
            .collect();
        if grouped.is_empty() {
            return Self::default();
        }
        let mut index: HashMap<Vec<u32>, u32> = HashMap::default();
        let mut of = Vec::with_capacity(n_conv);
        let mut to_group: Vec<Vec<u32>> = vec![Vec::new(); models.len()];
        let mut key = Vec::with_capacity(grouped.len());
        for j in 0..n_conv {
            key.clear();
            key.extend(grouped.iter().map(|(_, g)| g[j]));
            let next = index.len() as u32;
            let g = *index.entry(key.clone()).or_insert_with(|| {
                for (&(m, _), &k) in grouped.iter().zip(&key) {
                    to_group[m].push(k);
                }
                next
            });
            of.push(g);
        }
        Self {
            of,
            to_group,
            len: index.len(),
        }
    }
}

/// One model's groups: each conversion's group (none where nearly every conversion is its own
/// group, as under `time_decay`, whose credits depend on the hours between touches), and each
/// group's (channel, credit) pairs.
#[derive(Debug)]
struct Grouped {
    group_of: Option<Vec<u32>>,
    patterns: Csr,
}

impl Grouped {
    fn new(m: &Csr, n_conv: usize) -> Self {
        let (offsets, entries) = m;
        let mut index: HashMap<Vec<(u32, u64)>, u32> = HashMap::default();
        let mut group_of = Vec::with_capacity(n_conv);
        let mut patterns: Csr = (vec![0], Vec::new());
        let mut key: Vec<(u32, u64)> = Vec::new();
        for j in 0..n_conv {
            let e = &entries[offsets[j] as usize..offsets[j + 1] as usize];
            key.clear();
            key.extend(e.iter().map(|&(c, x)| (c, x.to_bits())));
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    let g = index.len() as u32;
                    index.insert(key.clone(), g);
                    patterns.1.extend_from_slice(e);
                    patterns.0.push(patterns.1.len() as u32);
                    g
                }
            };
            group_of.push(g);
        }
        if index.len() * 2 > n_conv {
            // Grouping would save little: weigh the conversions themselves.
            return Self {
                group_of: None,
                patterns: (offsets[..=n_conv].to_vec(), entries.clone()),
            };
        }
        Self {
            group_of: Some(group_of),
            patterns,
        }
    }

    /// Spreads each group's summed weight (`by_group`) over its credits, in group order.
    fn spread(&self, by_group: &[f64], out: &mut [f64]) {
        let (offsets, entries) = &self.patterns;
        for (g, &w) in by_group.iter().enumerate() {
            if w != 0.0 {
                for &(c, x) in &entries[offsets[g] as usize..offsets[g + 1] as usize] {
                    out[c as usize] += w * x;
                }
            }
        }
    }
}

impl CreditGroups {
    /// Groups the first `n_conv` conversions of each of `models` (one credit array each).
    pub fn new(models: &[&Csr], n_conv: usize) -> Self {
        let models: Vec<Grouped> = models.iter().map(|m| Grouped::new(m, n_conv)).collect();
        let joint = Joint::new(&models, n_conv);
        Self { models, joint }
    }

    /// How many distinct credit patterns each model has (its conversions, where ungrouped).
    pub fn patterns(&self) -> Vec<usize> {
        self.models.iter().map(|m| m.patterns.0.len() - 1).collect()
    }

    /// How many joint groups the grouped models make together.
    pub fn joint_groups(&self) -> usize {
        self.joint.len
    }

    /// Every model's credit per channel (`n` channels) for one resample, `draw` giving each
    /// conversion's weight in conversion order. One pass draws and adds up: no weight vector.
    /// Weights are whole numbers (Poisson counts), so a group's sum is exact whatever order
    /// it is added in: the same sums as adding each weight into every model's group.
    pub fn sums_drawn(
        &self,
        n_conv: usize,
        n: usize,
        mut draw: impl FnMut() -> f64,
    ) -> Vec<Vec<f64>> {
        let mut by_group: Vec<Vec<f64>> = self
            .models
            .iter()
            .map(|m| match m.group_of {
                Some(_) => vec![0.0; m.patterns.0.len() - 1],
                None => Vec::new(),
            })
            .collect();
        let mut out: Vec<Vec<f64>> = vec![vec![0.0; n]; self.models.len()];
        let mut joint = vec![0.0; self.joint.len];
        for j in 0..n_conv {
            let w = draw();
            if w == 0.0 {
                continue;
            }
            debug_assert_eq!(w.fract(), 0.0, "resample weights are counts");
            if let Some(&g) = self.joint.of.get(j) {
                joint[g as usize] += w;
            }
            for (m, o) in self.models.iter().zip(&mut out) {
                if m.group_of.is_none() {
                    let (offsets, entries) = &m.patterns;
                    for &(c, x) in &entries[offsets[j] as usize..offsets[j + 1] as usize] {
                        o[c as usize] += w * x;
                    }
                }
            }
        }
        for ((m, sums), to_group) in self
            .models
            .iter()
            .zip(&mut by_group)
            .zip(&self.joint.to_group)
        {
            if m.group_of.is_some() {
                for (&g, &w) in to_group.iter().zip(&joint) {
                    sums[g as usize] += w;
                }
            }
        }
        for ((m, sums), o) in self.models.iter().zip(&by_group).zip(&mut out) {
            if m.group_of.is_some() {
                m.spread(sums, o);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Credit arrays from per-conversion lists.
    fn csr(rows: &[&[(u32, f64)]]) -> Csr {
        let mut offsets = vec![0];
        let mut entries = Vec::new();
        for r in rows {
            entries.extend_from_slice(r);
            offsets.push(entries.len() as u32);
        }
        (offsets, entries)
    }

    #[test]
    fn grouped_sums_equal_the_sums_over_every_conversion() {
        let first: [&[(u32, f64)]; 6] = [
            &[(0, 1.0)],
            &[(1, 1.0)],
            &[(0, 1.0)],
            &[],
            &[(2, 1.0)],
            &[(0, 1.0)],
        ];
        let linear: [&[(u32, f64)]; 6] = [
            &[(0, 1.0)],
            &[(1, 1.0)],
            &[(0, 0.5), (2, 0.5)],
            &[],
            &[(2, 1.0)],
            &[(0, 1.0)],
        ];
        let rows = |r: &[&[(u32, f64)]; 6]| -> Vec<Vec<(u32, f64)>> {
            (0..18).map(|j| r[j % 6].to_vec()).collect()
        };
        // Every conversion its own credit, as under time_decay.
        let decay: Vec<Vec<(u32, f64)>> = (0..18).map(|j| vec![(1, j as f64 / 100.0)]).collect();
        let models: Vec<Csr> = [rows(&first), rows(&linear), decay]
            .iter()
            .map(|r| csr(&r.iter().map(Vec::as_slice).collect::<Vec<_>>()))
            .collect();
        let groups = CreditGroups::new(&models.iter().collect::<Vec<_>>(), 18);
        assert_eq!(groups.patterns(), [4, 5, 18]);
        // first and linear together: (0), (1), (0 | 0,2), (), (2); time_decay is not grouped.
        assert_eq!(groups.joint_groups(), 5);
        let weights: Vec<f64> = (0..18).map(|j| ((j * 7) % 4) as f64).collect();
        let direct = |(offsets, entries): &Csr| {
            let mut out = vec![0.0; 3];
            for (j, w) in weights.iter().enumerate() {
                for &(c, x) in &entries[offsets[j] as usize..offsets[j + 1] as usize] {
                    out[c as usize] += w * x;
                }
            }
            out
        };
        let mut next = weights.iter().copied();
        let sums = groups.sums_drawn(18, 3, || next.next().unwrap());
        for (got, m) in sums.iter().zip(&models) {
            let want = direct(m);
            assert!(
                got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12),
                "{got:?} {want:?}"
            );
        }
        assert_eq!(sums[0], vec![13.0, 7.0, 2.0]);
    }
}
