//! Transformed-path counts gathered path by path, keeping no list of paths: each distinct
//! transformed path is a few bytes in one arena plus its counts, so a million of them fit in
//! tens of megabytes.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;

use super::{marginal_shares, PathTransform, Token};
use crate::engine::paths::{ChannelTotals, PathStats, Tally};

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The key's bytes: where in the arena, how many.
    at: u32,
    len: u32,
    stats: PathStats,
}

const CHUNK_BITS: u32 = 20;
const CHUNK: usize = 1 << CHUNK_BITS;
const ENTRY_BITS: u32 = 16;

/// Keys in 1 MiB chunks (a longer key gets chunks of its own): growing never copies, so the
/// memory a million keys take is what they hold, not twice that.
#[derive(Debug, Clone, Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
}

impl Arena {
    fn push(&mut self, key: &[u8]) -> u32 {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.len() + key.len() <= CHUNK);
        if !fits {
            let mut chunk = Vec::with_capacity(CHUNK.max(key.len()));
            if key.len() > CHUNK {
                // Addresses count whole chunks: a long key spans placeholders for the rest.
                chunk.extend_from_slice(key);
                let at = self.chunks.len();
                self.chunks.push(chunk);
                self.chunks
                    .extend((1..key.len().div_ceil(CHUNK)).map(|_| Vec::new()));
                return Self::address(at, 0);
            }
            self.chunks.push(chunk);
        }
        let at = self.chunks.len() - 1;
        let chunk = &mut self.chunks[at];
        let offset = chunk.len();
        chunk.extend_from_slice(key);
        Self::address(at, offset)
    }

    fn address(chunk: usize, offset: usize) -> u32 {
        u32::try_from((chunk << CHUNK_BITS) | offset)
            .expect("under 4 GiB of distinct transformed paths")
    }

    fn get(&self, at: u32, len: u32) -> &[u8] {
        let chunk = &self.chunks[(at >> CHUNK_BITS) as usize];
        let offset = (at as usize) & (CHUNK - 1);
        &chunk[offset..offset + len as usize]
    }
}

/// Entries in chunks of 65,536, for the same reason.
#[derive(Debug, Clone, Default)]
struct Entries {
    chunks: Vec<Vec<Entry>>,
    len: usize,
}

impl Entries {
    fn push(&mut self, e: Entry) -> u32 {
        if self.len & ((1 << ENTRY_BITS) - 1) == 0 {
            self.chunks.push(Vec::with_capacity(1 << ENTRY_BITS));
        }
        self.chunks.last_mut().expect("a chunk").push(e);
        self.len += 1;
        (self.len - 1) as u32
    }

    fn get(&self, i: u32) -> &Entry {
        &self.chunks[(i >> ENTRY_BITS) as usize][(i & ((1 << ENTRY_BITS) - 1)) as usize]
    }

    fn get_mut(&mut self, i: u32) -> &mut Entry {
        &mut self.chunks[(i >> ENTRY_BITS) as usize][(i & ((1 << ENTRY_BITS) - 1)) as usize]
    }

    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.chunks.iter().flatten()
    }
}

/// Conversions, nulls and value per transformed path.
#[derive(Debug, Clone)]
pub struct Counts {
    transform: PathTransform,
    hasher: foldhash::fast::FixedState,
    /// Entry ids, found by their key's bytes.
    table: HashTable<u32>,
    /// Keys: tokens as LEB128 varints (channel, and its count under `frequency`).
    arena: Arena,
    /// In order of first appearance, so sums over them come out the same on every run.
    entries: Entries,
    tokens: Vec<Token>,
    key: Vec<u8>,
}

fn put_varint(out: &mut Vec<u8>, mut x: u32) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn varints(mut b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    std::iter::from_fn(move || {
        let mut x = 0u32;
        let mut shift = 0;
        loop {
            let (&byte, rest) = b.split_first()?;
            b = rest;
            x |= ((byte & 0x7f) as u32) << shift;
            if byte < 0x80 {
                return Some(x);
            }
            shift += 7;
        }
    })
}

impl Counts {
    pub fn new(transform: PathTransform) -> Self {
        Self {
            transform,
            hasher: foldhash::fast::FixedState::with_seed(0x5eed),
            table: HashTable::new(),
            arena: Arena::default(),
            entries: Entries::default(),
            tokens: Vec::new(),
            key: Vec::new(),
        }
    }

    /// Distinct transformed paths.
    pub fn len(&self) -> usize {
        self.entries.len
    }

    pub fn is_empty(&self) -> bool {
        self.entries.len == 0
    }

    fn encode(&self, tokens: impl Iterator<Item = Token>, out: &mut Vec<u8>) {
        out.clear();
        let freq = self.transform == PathTransform::Frequency;
        for (c, n) in tokens {
            put_varint(out, c);
            if freq {
                put_varint(out, n);
            }
        }
    }

    fn decode(&self, key: &[u8], out: &mut Vec<Token>) {
        out.clear();
        let mut it = varints(key);
        if self.transform == PathTransform::Frequency {
            while let (Some(c), Some(n)) = (it.next(), it.next()) {
                out.push((c, n));
            }
        } else {
            out.extend(it.map(|c| (c, 0)));
        }
    }

    fn key_of(&self, e: &Entry) -> &[u8] {
        self.arena.get(e.at, e.len)
    }

    fn find(&self, key: &[u8]) -> Option<&Entry> {
        let h = self.hasher.hash_one(key);
        self.table
            .find(h, |&i| self.key_of(self.entries.get(i)) == key)
            .map(|&i| self.entries.get(i))
    }

    /// Adds `stats` to the entry of the key in `self.key`.
    fn add_key(&mut self, stats: PathStats) {
        let Self {
            hasher,
            table,
            arena,
            entries,
            key,
            ..
        } = self;
        let h = hasher.hash_one(&key[..]);
        let found = table
            .find(h, |&i| {
                let e = entries.get(i);
                arena.get(e.at, e.len) == &key[..]
            })
            .copied();
        match found {
            Some(i) => entries.get_mut(i).stats.add(stats),
            None => {
                let at = arena.push(key);
                let id = entries.push(Entry {
                    at,
                    len: key.len() as u32,
                    stats,
                });
                table.insert_unique(h, id, |&i| {
                    let e = entries.get(i);
                    hasher.hash_one(arena.get(e.at, e.len))
                });
            }
        }
    }

    /// Conversions and value credited per channel (`n_channels` of them).
    pub fn totals(&self, n_channels: usize) -> ChannelTotals {
        let parts: Vec<ChannelTotals> = self
            .entries
            .chunks
            .par_iter()
            .map(|chunk| {
                let mut t = ChannelTotals::zero(n_channels);
                let (mut tokens, mut key, mut shares) = (Vec::new(), Vec::new(), Vec::new());
                for e in chunk {
                    let (c, v) = (e.stats.conversions, e.stats.value);
                    if c <= 0.0 {
                        continue;
                    }
                    self.decode(self.key_of(e), &mut tokens);
                    let p = c / (c + e.stats.nulls);
                    let without = |i: usize| {
                        let rest = tokens
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .map(|(_, t)| *t);
                        self.encode(rest, &mut key);
                        self.find(&key).map_or(0.0, |w| {
                            let s = w.stats;
                            s.conversions / (s.conversions + s.nulls)
                        })
                    };
                    marginal_shares(tokens.len(), p, without, &mut shares);
                    for (tok, share) in tokens.iter().zip(&shares) {
                        t.conversions[tok.0 as usize] += share * c;
                        t.values[tok.0 as usize] += share * v;
                    }
                }
                t
            })
            .collect();
        let mut totals = ChannelTotals::zero(n_channels);
        for p in parts {
            for c in 0..n_channels {
                totals.conversions[c] += p.conversions[c];
                totals.values[c] += p.values[c];
            }
        }
        totals
    }
}

impl Tally for Counts {
    fn add(&mut self, path: &[u32], stats: PathStats) {
        // A path never seen and one seen with no outcome both have probability 0.
        if (stats.conversions == 0.0 && stats.nulls == 0.0) || path.is_empty() {
            return;
        }
        let mut tokens = std::mem::take(&mut self.tokens);
        self.transform.apply_into(path, &mut tokens);
        let mut key = std::mem::take(&mut self.key);
        self.encode(tokens.iter().copied(), &mut key);
        self.key = key;
        self.tokens = tokens;
        self.add_key(stats);
    }

    fn merge(&mut self, part: Self, ids: &[u32]) {
        let mut tokens = Vec::new();
        let mut key = std::mem::take(&mut self.key);
        for e in part.entries.iter() {
            part.decode(part.key_of(e), &mut tokens);
            self.encode(tokens.iter().map(|&(c, n)| (ids[c as usize], n)), &mut key);
            std::mem::swap(&mut self.key, &mut key);
            self.add_key(e.stats);
            std::mem::swap(&mut self.key, &mut key);
        }
        self.key = key;
    }
}
