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
    // The key hash of `name`, U+001F, `canonical`, without building that text.
    hash_parts(&[name.as_bytes(), b"\x1f", canonical.as_bytes()])
}

/// The canonical text of a number as `ryu` printed it: the printed text itself, or its
/// integer part for a whole number, when it has no exponent and at most 15 significant
/// digits; [`canonical_number`] otherwise. (`ryu` and the standard library both print the
/// shortest text that reads back. With 15 digits or fewer that text is the only one of its
/// length, so only the `.0` of whole numbers differs; with more, two texts can be equally
/// near and the two break the tie differently: `1921042297860208.2` against `.3`.)
pub fn canonical_ryu(text: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let digits = text
        .bytes()
        .skip_while(|&b| matches!(b, b'-' | b'0' | b'.'))
        .filter(u8::is_ascii_digit)
        .count();
    if digits > 15 || text.bytes().any(|b| b == b'e' || b == b'E') {
        return Cow::Owned(canonical_number(text));
    }
    match text.strip_suffix(".0") {
        Some("-0") => Cow::Borrowed("0"),
        Some(int) => Cow::Borrowed(int),
        None => Cow::Borrowed(text),
    }
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
    hash_parts(&[key.as_bytes()])
}

/// [`key_hash`] of the concatenation of `parts`.
fn hash_parts(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
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
    fn field_hash_is_the_key_hash_of_name_separator_value() {
        for (name, value) in [
            ("credit", "0.5"),
            ("model", "first_touch"),
            ("", ""),
            ("é", "∅"),
        ] {
            assert_eq!(
                field_hash(name, value),
                key_hash(&format!("{name}\u{1f}{value}"))
            );
        }
    }

    #[test]
    fn ryu_text_canonicalises_as_the_parsed_number_does() {
        let mut rng = crate::domain::rng::Rng::new(7);
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -2.0,
            0.1,
            1.0 / 3.0,
            1e-7,
            2.5e15,
            9.1e15,
            1e16,
        ];
        values.extend((0..20_000).map(|_| rng.f64()));
        values.extend((0..20_000).map(|_| (rng.f64() * 1e6).round() / 64.0));
        values.extend(
            (0..20_000)
                .map(|_| f64::from_bits(rng.next_u64()))
                .filter(|f| f.is_finite()),
        );
        for v in values {
            let mut b = ryu::Buffer::new();
            let t = b.format_finite(v);
            assert_eq!(canonical_ryu(t), canonical_number(t), "{t}");
        }
    }

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
