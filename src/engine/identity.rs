//! Identity resolution: one person key per distinct_id.
//!
//! distinct ids are joined by `$identify` / `$create_alias` links, by a shared PostHog
//! person_id, and (optionally) by a shared stitching property such as email. A joined group's
//! key is its smallest person_id, else its smallest identified distinct_id, else its smallest
//! distinct_id, so the key is the same whatever order the events arrived in.

use crate::domain::collections::FastMap as HashMap;
use std::sync::Arc;

use crate::domain::extract::Extract;
use crate::domain::touchpoint::PersonKey;

/// distinct_id → person key, with a little accounting for quality reports.
#[derive(Debug, Default)]
pub struct Identities {
    keys: HashMap<Box<str>, PersonKey>,
    /// Groups that contain both an anonymous and an identified distinct_id.
    pub merged_groups: u64,
    /// distinct ids joined to another only through the stitching property.
    pub stitched_ids: u64,
    /// Persons counted by [`Identities::settle`], once the ids are no longer needed.
    settled: Option<usize>,
}

fn intern<'a>(s: &'a str, ids: &mut HashMap<&'a str, u32>, names: &mut Vec<&'a str>) -> u32 {
    *ids.entry(s).or_insert_with(|| {
        names.push(s);
        names.len() as u32 - 1
    })
}

fn consider<'a>(root: u32, cand: (u8, &'a str), best: &mut HashMap<u32, (u8, &'a str)>) {
    best.entry(root)
        .and_modify(|b| {
            if cand < *b {
                *b = cand;
            }
        })
        .or_insert(cand);
}

struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        true
    }
}

impl Identities {
    /// Resolves every distinct_id the extract mentions.
    pub fn resolve(ex: &Extract) -> Self {
        let mut ids: HashMap<&str, u32> = HashMap::default();
        let mut names: Vec<&str> = Vec::new();
        for s in ex.starts() {
            intern(s.distinct_id(), &mut ids, &mut names);
        }
        for c in &ex.conversions {
            intern(&c.distinct_id, &mut ids, &mut names);
        }
        for (a, b) in &ex.links {
            intern(a, &mut ids, &mut names);
            intern(b, &mut ids, &mut names);
        }
        let n_distinct = names.len();
        // person ids and stitch values become extra nodes after the distinct ids.
        let mut person_nodes: HashMap<&str, u32> = HashMap::default();
        let mut stitch_nodes: HashMap<&str, u32> = HashMap::default();
        let mut next = n_distinct as u32;
        let mut edges: Vec<(u32, u32)> = Vec::new();
        for (d, p) in &ex.person_ids {
            if let Some(&di) = ids.get(d.as_ref()) {
                let pi = *person_nodes.entry(p).or_insert_with(|| {
                    next += 1;
                    next - 1
                });
                edges.push((di, pi));
            }
        }
        let first_stitch = next;
        for (d, v) in &ex.stitch_values {
            if let Some(&di) = ids.get(d.as_ref()) {
                let si = *stitch_nodes.entry(v).or_insert_with(|| {
                    next += 1;
                    next - 1
                });
                edges.push((di, si));
            }
        }
        let mut uf = UnionFind {
            parent: (0..next).collect(),
        };
        for (a, b) in &ex.links {
            uf.union(ids[a.as_ref()], ids[b.as_ref()]);
        }
        for &(a, b) in edges.iter().filter(|(_, b)| *b < first_stitch) {
            uf.union(a, b);
        }
        // Stitching last, so we can count the ids it joined that nothing else did.
        let mut stitched_ids = 0;
        for &(a, b) in edges.iter().filter(|(_, b)| *b >= first_stitch) {
            if uf.union(a, b) {
                stitched_ids += 1;
            }
        }
        // Stitch nodes join one group each time a value is first seen; that is not a join.
        stitched_ids -= stitch_nodes.len() as u64;

        // Choose each group's key: (rank, text), smallest wins.
        let mut best: HashMap<u32, (u8, &str)> = HashMap::default();
        for (p, &pi) in &person_nodes {
            let r = uf.find(pi);
            consider(r, (0, p), &mut best);
        }
        let mut has_anon: HashMap<u32, (bool, bool)> = HashMap::default();
        for (i, name) in names.iter().enumerate() {
            let r = uf.find(i as u32);
            let identified = ex.identified.contains(*name);
            consider(r, (if identified { 1 } else { 2 }, name), &mut best);
            let e = has_anon.entry(r).or_default();
            if identified {
                e.1 = true;
            } else {
                e.0 = true;
            }
        }
        let merged_groups = has_anon.values().filter(|(a, i)| *a && *i).count() as u64;
        let mut interned: HashMap<u32, PersonKey> = HashMap::default();
        let mut keys = HashMap::with_capacity_and_hasher(n_distinct, Default::default());
        for (i, name) in names.iter().enumerate() {
            let r = uf.find(i as u32);
            let key = interned
                .entry(r)
                .or_insert_with(|| PersonKey(Arc::from(best[&r].1)))
                .clone();
            keys.insert(Box::from(*name), key);
        }
        Self {
            keys,
            merged_groups,
            stitched_ids,
            settled: None,
        }
    }

    /// The person key of a distinct_id (the id itself when nothing joined it).
    pub fn key(&self, distinct_id: &str) -> PersonKey {
        self.keys
            .get(distinct_id)
            .cloned()
            .unwrap_or_else(|| PersonKey(Arc::from(distinct_id)))
    }

    /// Number of distinct persons among resolved ids.
    pub fn persons(&self) -> usize {
        if let Some(n) = self.settled {
            return n;
        }
        let mut v: Vec<&str> = self.keys.values().map(|k| k.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    }

    /// Frees the distinct-id map once every id of the run has its key, keeping the counts
    /// (the map holds every distinct id of the run; a run keeps its result until it commits).
    /// Later [`Identities::key`] calls see every id as its own person. Returns the map, for the
    /// caller to drop where it costs nothing (freeing millions of ids takes a while).
    #[must_use = "the freed map is handed back to be dropped"]
    pub fn settle(&mut self) -> impl Send + 'static {
        self.settled = Some(self.persons());
        std::mem::take(&mut self.keys)
    }
}
