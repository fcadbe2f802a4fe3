//! Identifiers: event uuids (128-bit) and run ids.

use std::fmt;

/// A PostHog event uuid, kept as 128 bits; printed lower-case and hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid(pub u128);

/// Why a uuid was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a UUID")]
pub struct UuidError(String);

impl Uuid {
    /// Parses the hyphenated or plain 32-hex-digit form, any case.
    pub fn parse(s: &str) -> Result<Self, UuidError> {
        let mut v: u128 = 0;
        let mut n = 0;
        let b = s.as_bytes();
        let hyphenated = b.len() == 36;
        if !(hyphenated || b.len() == 32) {
            return Err(UuidError(s.chars().take(48).collect()));
        }
        for (i, &c) in b.iter().enumerate() {
            if hyphenated && matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return Err(UuidError(s.to_string()));
                }
                continue;
            }
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(UuidError(s.to_string())),
            };
            v = (v << 4) | d as u128;
            n += 1;
        }
        debug_assert_eq!(n, 32);
        Ok(Self(v))
    }

    /// Writes the hyphenated lower-case form.
    pub fn write_to(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 36];
        let mut j = 0;
        for i in 0..32 {
            if matches!(i, 8 | 12 | 16 | 20) {
                buf[j] = b'-';
                j += 1;
            }
            buf[j] = HEX[((self.0 >> (124 - 4 * i)) & 0xf) as usize];
            j += 1;
        }
        out.push_str(std::str::from_utf8(&buf).expect("ascii"));
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(36);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A `sync_runs.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders_like_strings() {
        let a = Uuid::parse("0190F3A2-7B1C-7DEF-8123-456789ABCDEF").unwrap();
        assert_eq!(a.to_string(), "0190f3a2-7b1c-7def-8123-456789abcdef");
        assert_eq!(Uuid::parse("0190f3a27b1c7def8123456789abcdef").unwrap(), a);
        let b = Uuid::parse("0190f3a2-7b1c-7def-8123-456789abcdf0").unwrap();
        assert!(a < b);
        assert!(Uuid::parse("not-a-uuid").is_err());
        assert!(Uuid::parse("0190f3a2-7b1c-7def-8123-456789abcdeg").is_err());
    }
}
