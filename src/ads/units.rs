//! Units and calendars: platform numbers to integer micros and counts, account days to UTC.

use anyhow::anyhow;

use super::AdError;
use crate::domain::time::Date;

/// Today's date in `zone`.
pub fn today_in(zone: &jiff::tz::TimeZone) -> Date {
    let d = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    Date::from_ymd(d.year() as i32, d.month() as u32, d.day() as u32).expect("jiff dates are valid")
}

/// Midnight of `date` in `zone`, as a UTC timestamp.
pub fn midnight_in(zone: &jiff::tz::TimeZone, date: Date) -> crate::domain::time::Timestamp {
    let (y, m, d) = date.ymd();
    let civil = jiff::civil::date(y as i16, m as i8, d as i8);
    let z = civil
        .to_zoned(zone.clone())
        .expect("a midnight exists in every zone");
    crate::domain::time::Timestamp::from_micros(z.timestamp().as_microsecond())
}

/// `[today − days, today]`.
pub fn window(today: Date, restatement_days: u32) -> (Date, Date) {
    (today.add_days(-(restatement_days as i32)), today)
}

/// Decimal money text (`"11178.61"`) as micros, naming the field on failure.
pub fn micros(text: &str, what: &str) -> Result<i64, AdError> {
    crate::domain::money::parse_decimal_micros(text)
        .map_err(|e| AdError::Permanent(anyhow!("{what}: {e}")))
}

/// An integer count sent as a string or a number.
pub fn count(v: &serde_json::Value) -> i64 {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        serde_json::Value::String(s) => s.trim().parse::<f64>().map(|f| f as i64).unwrap_or(0),
        _ => 0,
    }
}

/// A decimal (string or number) as f64.
pub fn decimal(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(0.0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// A JSON number or string as decimal text, for exact conversion to micros.
pub fn decimal_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// Splits `[from, to]` into consecutive slices of at most `days` days.
pub fn slices(from: Date, to: Date, days: i32) -> Vec<(Date, Date)> {
    let mut out = Vec::new();
    let mut a = from;
    while a <= to {
        let b = a.add_days(days - 1).min(to);
        out.push((a, b));
        a = b.add_days(1);
    }
    out
}

/// A money amount sent as a JSON number or decimal string, as micros; absent or empty is
/// `None`, anything else that is not a decimal is an error naming `what`.
pub fn value_micros(v: Option<&serde_json::Value>, what: &str) -> Result<Option<i64>, AdError> {
    match v.and_then(decimal_text) {
        None => Ok(None),
        Some(t) => micros(&t, what).map(Some),
    }
}

/// An ISO 4217 code from the API.
pub fn currency(text: &str, what: &str) -> Result<crate::domain::money::Currency, AdError> {
    crate::domain::money::Currency::parse(text.trim())
        .map_err(|e| AdError::Permanent(anyhow!("{what}: {e}")))
}

/// A `YYYY-MM-DD` day (anything after the date, such as TikTok's ` 00:00:00`, is ignored).
pub fn day(text: &str, what: &str) -> Result<Date, AdError> {
    let t = text.trim();
    Date::parse(t.get(..10).unwrap_or(t))
        .map_err(|e| AdError::Permanent(anyhow!("{what}: {t:?} is not a date ({e})")))
}

/// Whole days from `from` to `to`, inclusive.
pub fn days_between(from: Date, to: Date) -> i32 {
    let mut n = 0;
    let mut d = from;
    while d <= to {
        n += 1;
        d = d.add_days(1);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slices_and_zones() {
        let d = |s: &str| Date::parse(s).unwrap();
        assert_eq!(
            window(d("2024-03-10"), 7),
            (d("2024-03-03"), d("2024-03-10"))
        );
        assert_eq!(
            slices(d("2024-01-01"), d("2024-01-10"), 4),
            vec![
                (d("2024-01-01"), d("2024-01-04")),
                (d("2024-01-05"), d("2024-01-08")),
                (d("2024-01-09"), d("2024-01-10"))
            ]
        );
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            midnight_in(&ny, d("2024-07-01")).to_string(),
            "2024-07-01T04:00:00.000000Z"
        );
        assert_eq!(
            midnight_in(&ny, d("2024-01-01")).to_string(),
            "2024-01-01T05:00:00.000000Z"
        );
    }
}
