//! distinct ids numbered on every core. A run resolves millions of ids; hashing and comparing
//! them one after another was the longest serial step of attribution. Each id goes to the shard
//! its hash picks, every shard numbers its own ids at once, and a shard's numbers follow the
//! shards before it. The numbering differs from one-by-one interning; nothing downstream
//! depends on it (groups, their keys and the persons' order come from the texts).

use hashbrown::hash_table::{Entry, HashTable};
use rayon::prelude::*;
use std::hash::BuildHasher;

/// One shard's table, its texts, and (item, number in the shard) for each of its items.
type Shard<'a> = (HashTable<u32>, Vec<&'a str>, Vec<(u32, u32)>);

/// Numbered distinct ids, with their texts.
pub(super) struct Interned<'a> {
    state: foldhash::fast::RandomState,
    /// Per shard: its table of numbers (local to the shard) and its first global number.
    shards: Vec<(HashTable<u32>, u32)>,
    /// Texts by global number.
    pub names: Vec<&'a str>,
}

impl<'a> Interned<'a> {
    /// Numbers `items`; returns the interner and each item's number, in order.
    pub fn new(items: &[&'a str]) -> (Self, Vec<u32>) {
        let state = foldhash::fast::RandomState::default();
        let hashes: Vec<u64> = items.par_iter().map(|s| state.hash_one(s)).collect();
        let k = rayon::current_num_threads().clamp(1, 64);
        let parts: Vec<Shard<'a>> = (0..k)
            .into_par_iter()
            .map(|shard| {
                let mut table: HashTable<u32> = HashTable::with_capacity(items.len() / k / 2);
                let mut names: Vec<&'a str> = Vec::with_capacity(items.len() / k / 2);
                let mut numbered = Vec::with_capacity(items.len() / k + 1);
                for (i, (&text, &h)) in items.iter().zip(&hashes).enumerate() {
                    if shard_of(h, k) != shard {
                        continue;
                    }
                    let hash_of = |&j: &u32| state.hash_one(names[j as usize]);
                    let n = match table.entry(h, |&j| names[j as usize] == text, hash_of) {
                        Entry::Occupied(e) => *e.get(),
                        Entry::Vacant(v) => {
                            let n = names.len() as u32;
                            v.insert(n);
                            names.push(text);
                            n
                        }
                    };
                    numbered.push((i as u32, n));
                }
                (table, names, numbered)
            })
            .collect();
        let mut numbers = vec![0; items.len()];
        let mut all_names = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
        let mut shards = Vec::with_capacity(k);
        for (table, names, numbered) in parts {
            let first = all_names.len() as u32;
            for (i, n) in numbered {
                numbers[i as usize] = first + n;
            }
            all_names.extend(names);
            shards.push((table, first));
        }
        let interned = Self {
            state,
            shards,
            names: all_names,
        };
        (interned, numbers)
    }

    /// The number of `text`, if it was among the items.
    pub fn get(&self, text: &str) -> Option<u32> {
        let h = self.state.hash_one(text);
        let (table, first) = &self.shards[shard_of(h, self.shards.len())];
        table
            .find(h, |&j| self.names[(first + j) as usize] == text)
            .map(|&j| first + j)
    }
}

/// The shard of a hash: its high bits (the table uses the low ones), spread over `k`.
fn shard_of(h: u64, k: usize) -> usize {
    (((h >> 32) * k as u64) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::Interned;

    #[test]
    fn equal_texts_share_a_number_and_different_ones_do_not() {
        let texts: Vec<String> = (0..5_000).map(|i| format!("id-{}", i % 1_234)).collect();
        let items: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (interned, numbers) = Interned::new(&items);
        assert_eq!(interned.names.len(), 1_234);
        for (text, &n) in items.iter().zip(&numbers) {
            assert_eq!(interned.names[n as usize], *text);
            assert_eq!(interned.get(text), Some(n));
        }
        let mut distinct = numbers.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 1_234);
        assert_eq!(interned.get("id-1234"), None);
    }
}
