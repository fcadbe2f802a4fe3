//! Order-independent checksums of the row keys a run wrote: a count, a sum of 64-bit hashes,
//! and 16 bucket sums that narrow a mismatch down.

use serde::{Deserialize, Serialize};

/// FNV-1a, then a SplitMix64 finaliser to spread the bits; stable across versions.
pub fn key_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The checksum of one table's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub count: u64,
    /// Wrapping sum of key hashes, hex.
    pub sum: String,
    /// Per bucket (top 4 bits of the hash): count and wrapping sum, hex.
    pub buckets: Vec<(u64, String)>,
}

/// Accumulates keys in any order.
#[derive(Debug, Clone, Default)]
pub struct ChecksumBuilder {
    count: u64,
    sum: u64,
    buckets: [(u64, u64); 16],
}

impl ChecksumBuilder {
    pub fn add(&mut self, key: &str) {
        let h = key_hash(key);
        self.count += 1;
        self.sum = self.sum.wrapping_add(h);
        let b = &mut self.buckets[(h >> 60) as usize];
        b.0 += 1;
        b.1 = b.1.wrapping_add(h);
    }

    pub fn merge(&mut self, o: &ChecksumBuilder) {
        self.count += o.count;
        self.sum = self.sum.wrapping_add(o.sum);
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            a.0 += b.0;
            a.1 = a.1.wrapping_add(b.1);
        }
    }

    pub fn finish(&self) -> Checksum {
        Checksum {
            count: self.count,
            sum: format!("{:016x}", self.sum),
            buckets: self
                .buckets
                .iter()
                .map(|(n, s)| (*n, format!("{s:016x}")))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter_but_a_missing_or_doubled_key_does() {
        let keys = ["a", "b", "c", "d"];
        let mut x = ChecksumBuilder::default();
        keys.iter().for_each(|k| x.add(k));
        let mut y = ChecksumBuilder::default();
        keys.iter().rev().for_each(|k| y.add(k));
        assert_eq!(x.finish(), y.finish());
        let mut z = ChecksumBuilder::default();
        ["a", "b", "c", "c"].iter().for_each(|k| z.add(k));
        assert_ne!(x.finish().sum, z.finish().sum);
        assert_eq!(key_hash("row"), key_hash("row"));
        assert_eq!(x.finish().buckets.iter().map(|b| b.0).sum::<u64>(), 4);
    }
}
