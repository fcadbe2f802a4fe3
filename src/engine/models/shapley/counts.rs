//! Transformed-path counts gathered path by path, keeping no list of paths: each distinct
//! transformed path is 32 bytes (its key in place when short, its counts) and 9 bytes per table
//! bucket (about two buckets per path), so a million of them fit in about 50 MB.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;

use super::{marginal_shares, PathTransform, Token};
use crate::engine::paths::{ChannelTotals, PathStats, Tally};

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// A key of up to 7 bytes in place (byte 7 holds its length), so most lookups compare one
    /// word and never touch the arena; a longer one's arena address (bytes 0–3), length (4–6)
    /// and `STORED` in byte 7.
    key: [u8; 8],
    stats: PathStats,
}

const INLINE: usize = 7;
const STORED: u8 = 0xff;

/// `key` packed in place, when it is short enough.
fn packed(key: &[u8]) -> Option<[u8; 8]> {
    (key.len() <= INLINE).then(|| {
        let mut k = [0u8; 8];
        k[..key.len()].copy_from_slice(key);
        k[7] = key.len() as u8;
        k
    })
}

impl Entry {
    fn bytes<'a>(&'a self, arena: &'a Arena) -> &'a [u8] {
        let k = &self.key;
        if k[7] == STORED {
            let at = u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
            let len = u32::from_le_bytes([k[4], k[5], k[6], 0]);
            arena.get(at, len)
        } else {
            &k[..k[7] as usize]
        }
    }

    /// The entry's key is `key` (`short`: its packed form, if any).
    fn is(&self, arena: &Arena, key: &[u8], short: Option<[u8; 8]>) -> bool {
        match short {
            Some(p) => self.key == p,
            None => self.key[7] == STORED && self.bytes(arena) == key,
        }
    }
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

/// The hash the table files an entry under, from the half it keeps: the high half stays on
/// top (the table's tags) and is repeated below (its bucket index), so a table of up to 2^32
/// buckets spreads as with the full hash.
fn rehash(hi: u32) -> u64 {
    ((hi as u64) << 32) | hi as u64
}

/// The keys: a table of entry ids, the long keys' bytes, the entries.
#[derive(Debug, Clone, Default)]
struct Shard {
    /// Entry id and the high half of its key's hash: growing the table rehashes from these
    /// alone, and most mismatches are told without reading the entry.
    table: HashTable<(u32, u32)>,
    arena: Arena,
    /// In order of first appearance, so sums over them come out the same on every run.
    entries: Entries,
}

impl Shard {
    fn find(&self, hi: u32, key: &[u8], short: Option<[u8; 8]>) -> Option<&Entry> {
        self.table
            .find(rehash(hi), |&(i, x)| {
                x == hi && self.entries.get(i).is(&self.arena, key, short)
            })
            .map(|&(i, _)| self.entries.get(i))
    }

    fn add(&mut self, hi: u32, key: &[u8], stats: PathStats) {
        let Self {
            table,
            arena,
            entries,
        } = self;
        let short = packed(key);
        let found = table
            .find(rehash(hi), |&(i, x)| {
                x == hi && entries.get(i).is(arena, key, short)
            })
            .copied();
        match found {
            Some((i, _)) => entries.get_mut(i).stats.add(stats),
            None => {
                let key = short.unwrap_or_else(|| {
                    let at = arena.push(key);
                    let len = u32::try_from(key.len())
                        .ok()
                        .filter(|&l| l < 1 << 24)
                        .expect("a transformed path under 16 MiB");
                    let (a, l) = (at.to_le_bytes(), len.to_le_bytes());
                    [a[0], a[1], a[2], a[3], l[0], l[1], l[2], STORED]
                });
                let id = entries.push(Entry { key, stats });
                table.insert_unique(rehash(hi), (id, hi), |&(_, x)| rehash(x));
            }
        }
    }
}

/// Conversions, nulls and value per transformed path.
#[derive(Debug, Clone)]
pub struct Counts {
    transform: PathTransform,
    hasher: foldhash::fast::FixedState,
    keys: Shard,
    tokens: Vec<Token>,
    /// Keys: tokens as LEB128 varints (channel, and its count under `frequency`).
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
            keys: Shard::default(),
            tokens: Vec::new(),
            key: Vec::new(),
        }
    }

    /// Distinct transformed paths.
    pub fn len(&self) -> usize {
        self.keys.entries.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// The high half of the key's hash: all the table keeps of it.
    fn high(&self, key: &[u8]) -> u32 {
        (self.hasher.hash_one(key) >> 32) as u32
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

    fn find(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.find(self.high(key), key, packed(key))
    }

    /// Conversions and value credited per channel (`n_channels` of them).
    pub fn totals(&self, n_channels: usize) -> ChannelTotals {
        let arena = &self.keys.arena;
        let parts: Vec<ChannelTotals> = self
            .keys
            .entries
            .chunks
            .par_iter()
            .map(|chunk| {
                let mut t = ChannelTotals::zero(n_channels);
                let (mut tokens, mut key, mut shares) = (Vec::new(), Vec::new(), Vec::new());
                for e in chunk.iter() {
                    let (c, v) = (e.stats.conversions, e.stats.value);
                    if c <= 0.0 {
                        continue;
                    }
                    self.decode(e.bytes(arena), &mut tokens);
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
    fn expect(&mut self, paths: usize) {
        self.keys.table.reserve(paths, |&(_, x)| rehash(x));
    }

    fn add(&mut self, path: &[u32], stats: PathStats) {
        // A path never seen and one seen with no outcome both have probability 0.
        if (stats.conversions == 0.0 && stats.nulls == 0.0) || path.is_empty() {
            return;
        }
        let mut tokens = std::mem::take(&mut self.tokens);
        self.transform.apply_into(path, &mut tokens);
        let mut key = std::mem::take(&mut self.key);
        self.encode(tokens.iter().copied(), &mut key);
        self.keys.add(self.high(&key), &key, stats);
        self.key = key;
        self.tokens = tokens;
    }

    fn merge(&mut self, part: Self, ids: &[u32]) {
        // Parts usually number channels as the whole does: their keys are ours as they are.
        let same_ids = ids.iter().enumerate().all(|(i, &c)| c as usize == i);
        let (mut tokens, mut key) = (Vec::new(), Vec::new());
        for e in part.keys.entries.iter() {
            let bytes = e.bytes(&part.keys.arena);
            let key: &[u8] = if same_ids {
                bytes
            } else {
                part.decode(bytes, &mut tokens);
                self.encode(tokens.iter().map(|&(c, n)| (ids[c as usize], n)), &mut key);
                &key
            };
            self.keys.add(self.high(key), key, e.stats);
        }
    }
}
