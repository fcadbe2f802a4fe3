//! UTC timestamps (integer microseconds) and calendar dates, with the ISO-8601 forms PostHog emits.

use std::fmt;

/// Microseconds per second / day.
pub const MICROS_PER_SEC: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// An instant in UTC, as microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A calendar date, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Why a timestamp or date string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not an ISO-8601 {what}: {reason}")]
pub struct TimeParseError {
    input: String,
    what: &'static str,
    reason: &'static str,
}

impl TimeParseError {
    fn new(input: &str, what: &'static str, reason: &'static str) -> Self {
        let mut input: String = input.chars().take(64).collect();
        if input.len() == 64 {
            input.push('…');
        }
        Self {
            input,
            what,
            reason,
        }
    }
}

impl Timestamp {
    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The current time.
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(d.as_micros() as i64)
    }

    /// Midnight UTC at the start of `date`.
    pub fn start_of(date: Date) -> Self {
        Self(date.0 as i64 * MICROS_PER_DAY)
    }

    /// The UTC calendar date of this instant.
    pub fn date(self) -> Date {
        Date(self.0.div_euclid(MICROS_PER_DAY) as i32)
    }

    /// This instant moved by `micros` (saturating).
    pub fn add_micros(self, micros: i64) -> Self {
        Self(self.0.saturating_add(micros))
    }

    /// Parses `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`; no zone means UTC.
    pub fn parse(s: &str) -> Result<Self, TimeParseError> {
        let err = |reason| TimeParseError::new(s, "timestamp", reason);
        let b = s.as_bytes();
        if b.len() < 19 {
            return Err(err("too short"));
        }
        let date = parse_date_bytes(&b[..10]).ok_or_else(|| err("bad date part"))?;
        if b[10] != b'T' && b[10] != b't' && b[10] != b' ' {
            return Err(err("expected 'T' between date and time"));
        }
        let (hh, mm, ss) = (num2(b, 11), num2(b, 14), num2(b, 17));
        let (Some(hh), Some(mm), Some(ss)) = (hh, mm, ss) else {
            return Err(err("bad time part"));
        };
        if b[13] != b':' || b[16] != b':' || hh > 23 || mm > 59 || ss > 60 {
            return Err(err("bad time part"));
        }
        let mut i = 19;
        let mut frac_micros = 0i64;
        if i < b.len() && (b[i] == b'.' || b[i] == b',') {
            i += 1;
            let start = i;
            let mut digits = 0;
            while i < b.len() && b[i].is_ascii_digit() {
                if digits < 6 {
                    frac_micros = frac_micros * 10 + (b[i] - b'0') as i64;
                    digits += 1;
                }
                i += 1;
            }
            if i == start {
                return Err(err("empty fraction"));
            }
            while digits < 6 {
                frac_micros *= 10;
                digits += 1;
            }
        }
        let offset_secs: i64 = match &b[i..] {
            [] | [b'Z'] | [b'z'] => 0,
            [sign @ (b'+' | b'-'), rest @ ..] => {
                let (h, m) = match rest {
                    [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                        (digit2(*h1, *h2), digit2(*m1, *m2))
                    }
                    [h1, h2] => (digit2(*h1, *h2), Some(0)),
                    _ => (None, None),
                };
                let (Some(h), Some(m)) = (h, m) else {
                    return Err(err("bad zone offset"));
                };
                let secs = (h * 3600 + m * 60) as i64;
                if *sign == b'+' {
                    secs
                } else {
                    -secs
                }
            }
            _ => return Err(err("unexpected trailing characters")),
        };
        let secs = date.0 as i64 * 86_400 + (hh * 3600 + mm * 60 + ss) as i64 - offset_secs;
        Ok(Self(secs * MICROS_PER_SEC + frac_micros))
    }

    /// RFC 3339 in UTC with microseconds: `2024-01-15T10:00:00.123000Z`.
    pub fn write_rfc3339(self, out: &mut String) {
        let date = self.date();
        let rem = self.0.rem_euclid(MICROS_PER_DAY);
        let secs = rem / MICROS_PER_SEC;
        let micros = rem % MICROS_PER_SEC;
        date.write_iso(out);
        let mut buf = *b"T00:00:00.000000Z";
        put2(&mut buf[1..3], (secs / 3600) as u32);
        put2(&mut buf[4..6], ((secs / 60) % 60) as u32);
        put2(&mut buf[7..9], (secs % 60) as u32);
        let mut m = micros as u32;
        for k in (10..16).rev() {
            buf[k] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        out.push_str(std::str::from_utf8(&buf).expect("ascii"));
    }

    /// RFC 3339 in UTC to the second (`2024-01-15T10:00:00Z`), as APIs that want whole
    /// seconds or hours take it.
    pub fn to_rfc3339_seconds(self) -> String {
        let mut s = String::with_capacity(27);
        self.write_rfc3339(&mut s);
        s.truncate(19);
        s.push('Z');
        s
    }

    /// As a `time::OffsetDateTime` (for database drivers).
    pub fn to_offset_datetime(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// From a `time::OffsetDateTime` (for database drivers).
    pub fn from_offset_datetime(t: time::OffsetDateTime) -> Self {
        Self((t.unix_timestamp_nanos() / 1000) as i64)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(27);
        self.write_rfc3339(&mut s);
        f.write_str(&s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Date {
    /// From days since the epoch.
    pub const fn from_days(days: i32) -> Self {
        Self(days)
    }

    /// Days since the epoch.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// From a proleptic Gregorian year, month (1-12) and day (1-31); `None` when invalid.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Self> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(Self(days_from_civil(y, m, d)))
    }

    /// (year, month, day).
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// The date `n` days later (or earlier when negative).
    pub fn add_days(self, n: i32) -> Self {
        Self(self.0 + n)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self, TimeParseError> {
        if s.len() != 10 {
            return Err(TimeParseError::new(s, "date", "expected YYYY-MM-DD"));
        }
        parse_date_bytes(s.as_bytes())
            .ok_or_else(|| TimeParseError::new(s, "date", "expected a real YYYY-MM-DD date"))
    }

    fn write_iso(self, out: &mut String) {
        let (y, m, d) = self.ymd();
        let mut buf = *b"0000-00-00";
        let y = y.clamp(0, 9999) as u32;
        put2(&mut buf[0..2], y / 100);
        put2(&mut buf[2..4], y % 100);
        put2(&mut buf[5..7], m);
        put2(&mut buf[8..10], d);
        out.push_str(std::str::from_utf8(&buf).expect("ascii"));
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(10);
        self.write_iso(&mut s);
        f.write_str(&s)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for Date {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn parse_date_bytes(b: &[u8]) -> Option<Date> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = num2(b, 0)? * 100 + num2(b, 2)?;
    let m = num2(b, 5)?;
    let d = num2(b, 8)?;
    Date::from_ymd(y as i32, m, d)
}

fn digit2(a: u8, b: u8) -> Option<u32> {
    if a.is_ascii_digit() && b.is_ascii_digit() {
        Some(((a - b'0') * 10 + (b - b'0')) as u32)
    } else {
        None
    }
}

fn num2(b: &[u8], at: usize) -> Option<u32> {
    digit2(*b.get(at)?, *b.get(at + 1)?)
}

fn put2(buf: &mut [u8], v: u32) {
    buf[0] = b'0' + (v / 10 % 10) as u8;
    buf[1] = b'0' + (v % 10) as u8;
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms (public domain arithmetic).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_posthog_forms_and_round_trips() {
        let a = Timestamp::parse("2024-01-15T10:00:00.123000Z").unwrap();
        assert_eq!(a.to_string(), "2024-01-15T10:00:00.123000Z");
        let b = Timestamp::parse("2024-01-15T10:00:00Z").unwrap();
        assert_eq!(a.micros() - b.micros(), 123_000);
        let c = Timestamp::parse("2024-01-15 10:00:00.123").unwrap();
        assert_eq!(a, c);
        let d = Timestamp::parse("2024-01-15T12:00:00.123+02:00").unwrap();
        assert_eq!(a, d);
        let e = Timestamp::parse("2024-01-15T10:00:00.1234567Z").unwrap();
        assert_eq!(e.micros() - b.micros(), 123_456);
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "yesterday",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00 UTC",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_match_the_calendar() {
        assert_eq!(Date::parse("1970-01-01").unwrap().days(), 0);
        assert_eq!(Date::parse("2000-03-01").unwrap().days(), 11_017);
        for days in [-1000, 0, 59, 60, 11_016, 19_000, 30_000] {
            let d = Date::from_days(days);
            assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
        }
        let t = Timestamp::parse("2024-02-29T23:59:59.999999Z").unwrap();
        assert_eq!(t.date().to_string(), "2024-02-29");
        assert_eq!(t.add_micros(1).date().to_string(), "2024-03-01");
    }

    #[test]
    fn converts_to_offset_datetime_and_back() {
        let t = Timestamp::parse("2024-05-06T07:08:09.010203Z").unwrap();
        assert_eq!(Timestamp::from_offset_datetime(t.to_offset_datetime()), t);
    }
}
