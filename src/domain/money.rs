//! Money as integer micros of a currency; decimal text converted exactly, never through floats.

use std::fmt;

/// An ISO-4217 style currency code: three ASCII capital letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// An amount in millionths of a currency unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub micros: i64,
    pub currency: Currency,
}

/// Why a money amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not a decimal amount")]
    NotDecimal(String),
    #[error("'{0}' is too large for int64 micros")]
    Overflow(String),
    #[error("'{0}' is not a three-letter currency code")]
    Currency(String),
}

impl Currency {
    /// Parses a code case-insensitively (`usd` → `USD`).
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let b = s.trim().as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(MoneyError::Currency(truncate(s)))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii letters")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Money {
    pub fn new(micros: i64, currency: Currency) -> Self {
        Self { micros, currency }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Converts decimal text (`"11178.61"`, `"-3"`, `"1.5e2"`, `"0.30000000000000004"`) to micros.
///
/// Digits beyond the sixth decimal are rounded half-to-even, so values that went through a
/// JavaScript float on the client still land on the intended micros.
pub fn parse_decimal_micros(text: &str) -> Result<i64, MoneyError> {
    let bad = || MoneyError::NotDecimal(truncate(text));
    let s = text.trim();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (s, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    // All digits as one integer with a decimal point position; shift by the exponent and by 6.
    let digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|c| c - b'0')
        .collect();
    let point = int_part.len() as i64 + exp as i64 + 6; // digits before the micros point
    if point > 40 {
        if digits.iter().all(|&d| d == 0) {
            return Ok(0);
        }
        return Err(MoneyError::Overflow(truncate(text)));
    }
    let mut value: i128 = 0;
    let keep = point.clamp(0, digits.len() as i64) as usize;
    for &d in &digits[..keep] {
        value = value * 10 + d as i128;
        if value > i64::MAX as i128 * 10 {
            return Err(MoneyError::Overflow(truncate(text)));
        }
    }
    for _ in digits.len() as i64..point {
        value *= 10;
        if value > i64::MAX as i128 {
            return Err(MoneyError::Overflow(truncate(text)));
        }
    }
    // Round the dropped digits half-to-even.
    let dropped: &[u8] = if point < 0 {
        &digits[..]
    } else {
        &digits[keep..]
    };
    let leading_zeros_dropped = if point < 0 { (-point) as usize } else { 0 };
    if let Some((&first, rest)) = dropped.split_first() {
        let first = if leading_zeros_dropped > 0 { 0 } else { first };
        let rest_nonzero =
            rest.iter().any(|&d| d != 0) || (leading_zeros_dropped > 0 && first != 0);
        let round_up = first > 5 || (first == 5 && (rest_nonzero || value % 2 == 1));
        if round_up && leading_zeros_dropped == 0 {
            value += 1;
        }
    }
    if value > i64::MAX as i128 {
        return Err(MoneyError::Overflow(truncate(text)));
    }
    let v = value as i64;
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_exact_micros() {
        let cases = [
            ("11178.61", 11_178_610_000),
            ("0", 0),
            ("-3", -3_000_000),
            ("49.99", 49_990_000),
            (".5", 500_000),
            ("7.", 7_000_000),
            ("1.5e2", 150_000_000),
            ("1234567e-6", 1_234_567),
            ("0.30000000000000004", 300_000),
            ("0.0000005", 0),
            ("0.0000015", 2),
            ("0.00000051", 1),
            ("2.5e-7", 0),
            ("9223372036854.775807", i64::MAX),
        ];
        for (text, micros) in cases {
            assert_eq!(parse_decimal_micros(text), Ok(micros), "{text}");
        }
    }

    #[test]
    fn refuses_non_numbers_and_overflow() {
        for bad in ["", "abc", "1,5", "1.2.3", "--1", "e5", "12e"] {
            assert!(
                matches!(parse_decimal_micros(bad), Err(MoneyError::NotDecimal(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_decimal_micros("1e30"),
            Err(MoneyError::Overflow(_))
        ));
        assert!(matches!(
            parse_decimal_micros("9223372036855"),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn currencies_are_three_letters() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }
}
