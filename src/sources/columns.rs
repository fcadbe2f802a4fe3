//! The columns a query-based source selects, in order, and a positional row of them to an
//! event: uuid, event, timestamp, distinct_id, person_id, ingestion time, the properties
//! attribution reads, `alias`, then the configured extra properties.

use crate::domain::event::{EventRef, RawProps};
use crate::domain::extract::{CREATE_ALIAS, IDENTIFY, MERGE_DANGEROUSLY};
use crate::domain::platform::ClickIdKind;
use crate::domain::time::Timestamp;
use crate::sources::wire::{Scalar, WireError, WireEvent};

/// Event properties every query selects, after uuid, event, timestamp, distinct_id, person_id.
pub const PROPERTY_COLUMNS: [&str; 21] = [
    "$session_id",
    "$current_url",
    "$referrer",
    "$referring_domain",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "utm_id",
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "fbclid",
    "msclkid",
    "li_fat_id",
    "ttclid",
    "twclid",
    "rdt_cid",
    "$anon_distinct_id",
];

/// Columns before the properties.
pub const FIXED: [&str; 6] = [
    "uuid",
    "event",
    "timestamp",
    "distinct_id",
    "person_id",
    "created_at",
];

/// `alias` is selected last of the known properties.
pub const ALIAS: &str = "alias";

/// Event names a query always wants: conversions, identity events and touch events, sorted.
pub fn wanted_events(conversion_events: &[String], touch_events: &[String]) -> Vec<String> {
    let mut events: Vec<String> = conversion_events.to_vec();
    events.extend([IDENTIFY, CREATE_ALIAS, MERGE_DANGEROUSLY].map(String::from));
    events.extend(touch_events.iter().cloned());
    events.sort();
    events.dedup();
    events
}

/// Properties whose presence makes any event a possible touchpoint (besides an external
/// `$referring_domain`).
pub fn signal_properties() -> impl Iterator<Item = &'static str> {
    ["utm_source", "utm_medium", "utm_campaign"]
        .into_iter()
        .chain(ClickIdKind::ALL.map(|k| k.param()))
}

/// The select list after the six fixed columns: every property column, `alias`, then the
/// configured extras, each read by `property`.
pub fn property_columns(property: impl Fn(&str) -> String, extras: &[String]) -> Vec<String> {
    PROPERTY_COLUMNS
        .iter()
        .copied()
        .chain([ALIAS])
        .chain(extras.iter().map(String::as_str))
        .map(property)
        .collect()
}

/// The conditions of which any makes an event a possible touchpoint, each property read by
/// `property`: a signal property present, or an external referring domain.
pub fn signal_terms(property: impl Fn(&str) -> String) -> Vec<String> {
    let referring = property("$referring_domain");
    signal_properties()
        .map(|p| format!("{} IS NOT NULL", property(p)))
        .chain([format!(
            "({referring} IS NOT NULL AND {referring} != '$direct')"
        )])
        .collect()
}

/// Converts one row of a page (the columns above) into the event and its ingestion time.
pub fn to_event(
    row: Vec<Scalar<'_>>,
    width: usize,
) -> Result<(EventRef<'_>, Timestamp), WireError> {
    if row.len() != width {
        return Err(WireError::Json(format!(
            "row has {} columns, expected {width}",
            row.len()
        )));
    }
    let mut it = row.into_iter().map(|s| s.0);
    let mut next = || it.next().flatten();
    let (uuid, event, timestamp, distinct_id, person_id) = (next(), next(), next(), next(), next());
    let created_at = next()
        .ok_or_else(|| WireError::Json("ingestion time is missing".into()))
        .and_then(|t| {
            Timestamp::parse(&t).map_err(|e| WireError::Json(format!("ingestion time: {e}")))
        })?;
    let mut p = RawProps {
        session_id: next(),
        current_url: next(),
        referrer: next(),
        referring_domain: next(),
        utm_source: next(),
        utm_medium: next(),
        utm_campaign: next(),
        utm_content: next(),
        utm_term: next(),
        utm_id: next(),
        ..Default::default()
    };
    for kind in ClickIdKind::ALL {
        p.set_click(kind, next());
    }
    p.anon_distinct_id = next();
    p.alias = next();
    let extras = width - FIXED.len() - PROPERTY_COLUMNS.len() - 1;
    for slot in 0..extras {
        if let Some(v) = next() {
            p.extras.push((slot as u16, v));
        }
    }
    let ev = EventRef::try_from(WireEvent {
        uuid,
        event,
        timestamp,
        distinct_id,
        person_id,
        properties: p,
    })?;
    Ok((ev, created_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::platform::ClickIdKind;

    #[test]
    fn maps_columns_to_fields() {
        let mut json = vec![
            "\"0190f3a2-7b1c-7def-8123-456789abcdef\"".to_string(),
            "\"purchase\"".into(),
            "\"2024-03-01T10:00:00.123000Z\"".into(),
            "\"anon\"".into(),
            "\"0190f3a2-0000-7000-8000-000000000001\"".into(),
            "\"2024-03-01T12:00:00Z\"".into(),
            "\"s1\"".into(),
        ];
        json.extend(std::iter::repeat_n("null".to_string(), 20));
        json[16] = "\"<masked>\"".into(); // gclid
        json.push("null".into()); // alias
        json.push("49.9".into()); // extra slot 0
        let text = format!("[{}]", json.join(","));
        let row: Vec<Scalar<'_>> = serde_json::from_str(&text).unwrap();
        let (e, created) = to_event(row, 29).unwrap();
        assert_eq!(created.to_string(), "2024-03-01T12:00:00.000000Z");
        assert_eq!(e.event, "purchase");
        assert_eq!(
            e.person_id.as_deref(),
            Some("0190f3a2-0000-7000-8000-000000000001")
        );
        assert_eq!(e.props.session_id.as_deref(), Some("s1"));
        assert_eq!(e.props.click_id().map(|c| c.0), Some(ClickIdKind::Gclid));
        assert_eq!(e.props.extra(0), Some("49.9"));
        let short: Vec<Scalar<'_>> = serde_json::from_str("[\"x\"]").unwrap();
        assert!(to_event(short, 29).is_err());
    }
}
