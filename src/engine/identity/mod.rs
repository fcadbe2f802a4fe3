//! Identity resolution: one person key per distinct_id.
//!
//! distinct ids are joined by `$identify` / `$create_alias` links, by a shared PostHog
//! person_id, and (optionally) by a shared stitching property such as email. A joined group's
//! key is its smallest person_id, else its smallest identified distinct_id, else its smallest
//! distinct_id, so the key is the same whatever order the events arrived in.

mod interner;

use crate::domain::collections::FastMap as HashMap;
use interner::Interned;
use rayon::slice::ParallelSliceMut;
use std::sync::Arc;

use crate::domain::extract::{Extract, SessionStart};
use crate::domain::touchpoint::PersonKey;

/// A resolved person: the key, and its index among the run's persons (dense, in the keys'
/// text order), which journeys are grouped by.
#[derive(Debug, Clone)]
pub struct Person {
    pub key: PersonKey,
    pub ix: u32,
}

/// What identity resolution counted, for quality reports.
#[derive(Debug, Default)]
pub struct Identities {
    /// Groups that contain both an anonymous and an identified distinct_id.
    pub merged_groups: u64,
    /// distinct ids joined to another only through the stitching property.
    pub stitched_ids: u64,
    /// Distinct persons among the resolved ids.
    persons: usize,
}

/// distinct_id → person key for every id of an extract (the run itself gets its keys by index,
/// from [`Identities::resolve_keys`]; this map is for looking ids up, e.g. in cross-checks).
#[derive(Debug, Default)]
pub struct KeyMap {
    keys: HashMap<Box<str>, PersonKey>,
    pub identities: Identities,
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

/// What resolution decides: a key per interned distinct id, and the index of each start's and
/// each conversion's id.
struct Resolved<'a> {
    names: Vec<&'a str>,
    /// Person key by index into `names`.
    key_of: Vec<PersonKey>,
    /// Person index (see [`person_indexes`]) by index into `names`.
    ix_of: Vec<u32>,
    starts: Vec<u32>,
    conversions: Vec<u32>,
    persons: usize,
    merged_groups: u64,
    stitched_ids: u64,
}

/// Numbers each distinct value of `pairs` (distinct id → person id or stitch value) from
/// `next` on, with an edge from its distinct id's number to it.
fn value_nodes<'a>(
    pairs: &'a HashMap<Box<str>, Box<str>>,
    ids: &Interned<'_>,
    next: &mut u32,
    edges: &mut Vec<(u32, u32)>,
) -> HashMap<&'a str, u32> {
    let mut nodes: HashMap<&str, u32> = HashMap::default();
    for (d, v) in pairs {
        if let Some(di) = ids.get(d) {
            let vi = *nodes.entry(v).or_insert_with(|| {
                *next += 1;
                *next - 1
            });
            edges.push((di, vi));
        }
    }
    nodes
}

fn resolve_ids<'a>(start_ids: impl Iterator<Item = &'a str>, ex: &'a Extract) -> Resolved<'a> {
    let mut items: Vec<&str> = start_ids.collect();
    let n_starts = items.len();
    items.extend(ex.conversions.iter().map(|c| c.distinct_id.as_ref()));
    items.extend(ex.links.iter().flat_map(|(a, b)| [a.as_ref(), b.as_ref()]));
    let (ids, mut numbers) = Interned::new(&items);
    drop(items);
    numbers.truncate(n_starts + ex.conversions.len());
    let conversions = numbers.split_off(n_starts);
    let starts = numbers;
    let names = &ids.names;
    let n_distinct = names.len();
    // person ids and stitch values become extra nodes after the distinct ids.
    let mut next = n_distinct as u32;
    let mut edges: Vec<(u32, u32)> = Vec::new();
    let person_nodes = value_nodes(&ex.person_ids, &ids, &mut next, &mut edges);
    let first_stitch = next;
    let stitch_nodes = value_nodes(&ex.stitch_values, &ids, &mut next, &mut edges);
    let mut uf = UnionFind {
        parent: (0..next).collect(),
    };
    for (a, b) in &ex.links {
        let number = |t: &str| ids.get(t).expect("every linked id was numbered");
        uf.union(number(a), number(b));
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

    // Choose each group's key: (rank, text), smallest wins. Groups are indexed by root.
    let mut best: Vec<Option<(u8, &str)>> = vec![None; next as usize];
    let mut consider = |r: u32, cand: (u8, &'a str)| {
        let b = &mut best[r as usize];
        if b.is_none_or(|b| cand < b) {
            *b = Some(cand);
        }
    };
    for (p, &pi) in &person_nodes {
        consider(uf.find(pi), (0, p));
    }
    // (has an anonymous id, has an identified id) per group.
    let mut kinds: Vec<(bool, bool)> = vec![(false, false); next as usize];
    let roots: Vec<u32> = (0..n_distinct as u32).map(|i| uf.find(i)).collect();
    for (name, &r) in names.iter().zip(&roots) {
        let identified = ex.identified.contains(*name);
        consider(r, (if identified { 1 } else { 2 }, name));
        let e = &mut kinds[r as usize];
        if identified {
            e.1 = true;
        } else {
            e.0 = true;
        }
    }
    let merged_groups = kinds.iter().filter(|(a, i)| *a && *i).count() as u64;
    let mut interned: Vec<Option<PersonKey>> = vec![None; next as usize];
    let key_of: Vec<PersonKey> = roots
        .iter()
        .map(|&r| {
            interned[r as usize]
                .get_or_insert_with(|| {
                    let (_, text) = best[r as usize].expect("every group has a member");
                    PersonKey(Arc::from(text))
                })
                .clone()
        })
        .collect();
    // Journeys are keyed by the key's text: two groups whose keys read the same (a person_id
    // that is also another group's distinct id) are one person there, so they count once and
    // share an index. Indexes follow the keys' text order, so anything walked by index (the
    // journeys, the rows written) keeps the order sorting by key gave.
    let (ix_of_root, persons) = person_indexes(&interned);
    let ix_of = roots.iter().map(|&r| ix_of_root[r as usize]).collect();
    Resolved {
        names: ids.names,
        key_of,
        ix_of,
        starts,
        conversions,
        persons,
        merged_groups,
        stitched_ids,
    }
}

/// Each group's person index (by root; `u32::MAX` for a node that is no root) and how many
/// persons there are: keys numbered in their text order, equal texts sharing a number.
fn person_indexes(interned: &[Option<PersonKey>]) -> (Vec<u32>, usize) {
    let mut by_text: Vec<(&str, u32)> = interned
        .iter()
        .enumerate()
        .filter_map(|(r, k)| k.as_ref().map(|k| (k.as_str(), r as u32)))
        .collect();
    by_text.par_sort_unstable();
    let mut ix_of_root = vec![u32::MAX; interned.len()];
    let mut persons = 0;
    for (i, &(text, root)) in by_text.iter().enumerate() {
        if i == 0 || by_text[i - 1].0 != text {
            persons += 1;
        }
        ix_of_root[root as usize] = persons as u32 - 1;
    }
    (ix_of_root, persons)
}

impl KeyMap {
    /// Resolves every distinct_id the extract mentions.
    pub fn resolve(ex: &Extract) -> Self {
        let r = resolve_ids(ex.starts().map(|s| s.distinct_id()), ex);
        let keys = r
            .names
            .iter()
            .zip(r.key_of)
            .map(|(name, key)| (Box::from(*name), key))
            .collect();
        Self {
            keys,
            identities: Identities {
                merged_groups: r.merged_groups,
                stitched_ids: r.stitched_ids,
                persons: r.persons,
            },
        }
    }

    /// The person key of a distinct_id (the id itself when nothing joined it).
    pub fn key(&self, distinct_id: &str) -> PersonKey {
        self.keys
            .get(distinct_id)
            .cloned()
            .unwrap_or_else(|| PersonKey(Arc::from(distinct_id)))
    }
}

impl Identities {
    /// Resolves every distinct_id of `starts` (taken out of `ex`) and of `ex`, and returns the
    /// person key of each start and of each of `ex.conversions`, in their order, without
    /// building a map of every distinct id.
    pub fn resolve_keys(starts: &[SessionStart], ex: &Extract) -> (Self, Vec<Person>, Vec<Person>) {
        let r = resolve_ids(starts.iter().map(SessionStart::distinct_id), ex);
        let key = |i: &u32| Person {
            key: r.key_of[*i as usize].clone(),
            ix: r.ix_of[*i as usize],
        };
        let (of_starts, of_conversions) = (
            r.starts.iter().map(key).collect(),
            r.conversions.iter().map(key).collect(),
        );
        let ids = Self {
            merged_groups: r.merged_groups,
            stitched_ids: r.stitched_ids,
            persons: r.persons,
        };
        (ids, of_starts, of_conversions)
    }

    /// Number of distinct persons among resolved ids.
    pub fn persons(&self) -> usize {
        self.persons
    }
}
