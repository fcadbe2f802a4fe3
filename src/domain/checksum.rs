//! Order-independent checksums of the rows a run wrote: a count, a sum of 64-bit key hashes,
//! 16 bucket sums that narrow a mismatch down, and a sum over each row's values (the numbers
//! and names that matter: a credit, a value, a spend), so an edited row no longer matches.

use serde::{Deserialize, Serialize};

use super::table::Table;

/// How a value column is compared: as text, or as a number (`1.0` and `1` are equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
}

/// The columns whose values a table's checksum covers.
pub fn value_fields(table: Table) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match table {
        Table::Conversions => &[
            ("conversion_name", Text),
            ("person_key", Text),
            ("value_micros", Number),
            ("currency", Text),
        ],
        Table::Touchpoints => &[
            ("person_key", Text),
            ("channel", Text),
            ("platform", Text),
            ("campaign", Text),
            ("campaign_id", Text),
        ],
        Table::AttributionCredits => &[
            ("model", Text),
            ("channel", Text),
            ("credit", Number),
            ("credited_value_micros", Number),
            ("currency", Text),
        ],
        Table::AdMetrics => &[
            ("spend_micros", Number),
            ("impressions", Number),
            ("clicks", Number),
            ("platform_conversions", Number),
            ("currency", Text),
        ],
        Table::FxRates => &[
            ("currency", Text),
            ("reporting_currency", Text),
            ("rate", Number),
        ],
        Table::ChannelCredit => &[
            ("model", Text),
            ("channel", Text),
            ("conversions", Number),
            ("value_micros", Number),
            ("currency", Text),
            ("share", Number),
            ("share_low", Number),
            ("share_high", Number),
            ("journeys", Number),
        ],
    }
}

/// The text standing for NULL.
pub const NULL: &str = "\u{2205}";

/// The hash of one column's canonical value.
pub fn field_hash(name: &str, canonical: &str) -> u64 {
    let mut s = String::with_capacity(name.len() + canonical.len() + 1);
    s.push_str(name);
    s.push('\u{1f}');
    s.push_str(canonical);
    key_hash(&s)
}

/// A number's canonical text: integers as such, others as the shortest round-trip form.
pub fn canonical_number(text: &str) -> String {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return i.to_string();
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9e15 => (f as i64).to_string(),
        Ok(f) => format!("{f}"),
        Err(_) => t.to_string(),
    }
}

/// The values digest of a row read back (a JSON object, or cells by name): every value column
/// present, NULL included.
pub fn values_of(table: Table, get: impl Fn(&str) -> Option<serde_json::Value>) -> u64 {
    let mut sum = 0u64;
    for (name, kind) in value_fields(table) {
        let Some(v) = get(name) else { continue };
        let canonical = match (&v, kind) {
            (serde_json::Value::Null, _) => NULL.to_string(),
            (serde_json::Value::String(s), Kind::Text) => s.clone(),
            (serde_json::Value::String(s), Kind::Number) => canonical_number(s),
            (serde_json::Value::Number(n), _) => canonical_number(&n.to_string()),
            (other, _) => other.to_string(),
        };
        sum = sum.wrapping_add(field_hash(name, &canonical));
    }
    sum
}

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

/// The checksum of one table's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub count: u64,
    /// Wrapping sum of key hashes, hex.
    pub sum: String,
    /// Per bucket (top 4 bits of the hash): count and wrapping sum, hex.
    pub buckets: Vec<(u64, String)>,
    /// Wrapping sum of the rows' values digests, hex (absent in runs of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
}

/// Accumulates rows in any order.
#[derive(Debug, Clone, Default)]
pub struct ChecksumBuilder {
    count: u64,
    sum: u64,
    values: u64,
    buckets: [(u64, u64); 16],
}

impl ChecksumBuilder {
    /// Adds a row: its key and the digest of its values (see [`values_of`]).
    pub fn add(&mut self, key: &str, values: u64) {
        let h = key_hash(key);
        self.count += 1;
        self.sum = self.sum.wrapping_add(h);
        self.values = self
            .values
            .wrapping_add(values.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ h);
        let b = &mut self.buckets[(h >> 60) as usize];
        b.0 += 1;
        b.1 = b.1.wrapping_add(h);
    }

    pub fn merge(&mut self, o: &ChecksumBuilder) {
        self.count += o.count;
        self.sum = self.sum.wrapping_add(o.sum);
        self.values = self.values.wrapping_add(o.values);
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
            values: Some(format!("{:016x}", self.values)),
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
        keys.iter().for_each(|k| x.add(k, 1));
        let mut y = ChecksumBuilder::default();
        keys.iter().rev().for_each(|k| y.add(k, 1));
        assert_eq!(x.finish(), y.finish());
        let mut z = ChecksumBuilder::default();
        ["a", "b", "c", "c"].iter().for_each(|k| z.add(k, 1));
        assert_ne!(x.finish().sum, z.finish().sum);
        assert_eq!(key_hash("row"), key_hash("row"));
        assert_eq!(x.finish().buckets.iter().map(|b| b.0).sum::<u64>(), 4);
        let mut edited = ChecksumBuilder::default();
        keys.iter()
            .for_each(|k| edited.add(k, if *k == "c" { 2 } else { 1 }));
        assert_eq!(edited.finish().sum, x.finish().sum, "same keys");
        assert_ne!(edited.finish().values, x.finish().values, "another value");
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(canonical_number("1.0"), "1");
        assert_eq!(canonical_number("203460000"), "203460000");
        assert_eq!(canonical_number("0.3333333333333333"), "0.3333333333333333");
    }
}
