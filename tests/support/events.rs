//! Hand-written PostHog event lines.

use serde_json::{json, Value};

/// A deterministic uuid for test event `n` (ordered by n).
pub fn uuid(n: u32) -> String {
    format!("00000000-0000-7000-8000-{n:012}")
}

/// `2024-06-<day>T<hour>:00:00Z`, with day 0 meaning the last day of May.
pub fn at(day: i64, hour: u32) -> String {
    let base = attrsync::domain::time::Date::parse("2024-06-01")
        .unwrap()
        .add_days(day as i32 - 1);
    format!("{base}T{hour:02}:00:00Z")
}

/// A pageview row (batch-export shape) with extra properties.
pub fn pageview(n: u32, distinct: &str, ts: &str, session: &str, props: Value) -> String {
    let mut p = json!({"$session_id": session, "$current_url": "https://shop.example.com/"});
    p.as_object_mut()
        .unwrap()
        .extend(props.as_object().unwrap().clone());
    json!({"uuid": uuid(n), "event": "$pageview", "distinct_id": distinct, "timestamp": ts, "properties": p}).to_string()
}

/// A purchase conversion row.
pub fn purchase(
    n: u32,
    distinct: &str,
    ts: &str,
    session: &str,
    revenue: &str,
    currency: &str,
) -> String {
    json!({"uuid": uuid(n), "event": "purchase", "distinct_id": distinct, "timestamp": ts,
           "properties": {"$session_id": session, "revenue": revenue, "currency": currency}})
    .to_string()
}

/// An `$identify` row joining `anon` to `user`.
pub fn identify(n: u32, user: &str, anon: &str, ts: &str) -> String {
    json!({"uuid": uuid(n), "event": "$identify", "distinct_id": user, "timestamp": ts,
           "properties": {"$anon_distinct_id": anon}})
    .to_string()
}

/// Landing properties for common channels.
pub fn google_cpc(campaign: &str) -> Value {
    json!({"utm_source": "google", "utm_medium": "cpc", "utm_campaign": campaign, "gclid": "Cj0abc"})
}

pub fn email() -> Value {
    json!({"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "weekly"})
}

pub fn direct() -> Value {
    json!({"$referring_domain": "$direct"})
}

pub fn referrer(url: &str) -> Value {
    json!({"$referrer": url})
}
