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
        let b = s.as_bytes();
        let hyphenated = b.len() == 36;
        if !(hyphenated || b.len() == 32) {
            return Err(UuidError(s.chars().take(48).collect()));
        }
        if hyphenated && [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return Err(UuidError(s.to_string()));
        }
        let mut v: u128 = 0;
        // Every event and session id passes here: a table lookup per digit, and one test
        // for a bad digit at the end.
        let mut bad = 0u8;
        for (i, &c) in b.iter().enumerate() {
            if hyphenated && matches!(i, 8 | 13 | 18 | 23) {
                continue;
            }
            let d = HEX_VALUE[c as usize];
            bad |= d;
            v = (v << 4) | (d & 0x0f) as u128;
        }
        if bad & 0xf0 != 0 {
            return Err(UuidError(s.to_string()));
        }
        Ok(Self(v))
    }

    /// Writes the hyphenated lower-case form.
    pub fn write_to(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = self.0.to_be_bytes();
        let mut buf = [b'-'; 36];
        let mut j = 0;
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                j += 1;
            }
            buf[j] = HEX[(byte >> 4) as usize];
            buf[j + 1] = HEX[(byte & 0x0f) as usize];
            j += 2;
        }
        out.push_str(std::str::from_utf8(&buf).expect("hex digits and hyphens"));
    }
}

/// Each byte's value as a hex digit; 0xff for a byte that is not one.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

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
        assert!(Uuid::parse("g190f3a2-7b1c-7def-8123-456789abcdef").is_err());
        assert!(Uuid::parse("0190f3a2-7b1c-7def-8123-456789abcd-f").is_err());
        assert!(Uuid::parse("0190f3a2-7b1c-7def+8123-456789abcdef").is_err());
        assert!(Uuid::parse("0190f3a27b1c7def8123456789abcd-f").is_err());
        assert!(Uuid::parse("0190f3a27b1c7def8123456789abcdéf").is_err());
        for v in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            assert_eq!(Uuid::parse(&Uuid(v).to_string()), Ok(Uuid(v)));
        }
    }
}
