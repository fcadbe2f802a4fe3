//! Encoding domain objects as warehouse rows (DESIGN §4). Every row has `row_key`, `run_id`
//! and `loaded_at`; keys are deterministic so a re-sent row is the same row.

use serde::Serialize;

use crate::domain::attribution::{Conversion, Credit};
use crate::domain::ids::{RunId, Uuid};
use crate::domain::money::Currency;
use crate::domain::platform::Platform;
use crate::domain::time::Timestamp;
use crate::domain::touchpoint::Touchpoint;
use crate::sinks::EncodedRow;

/// Run-level columns.
#[derive(Debug, Clone, Copy)]
pub struct RowMeta {
    pub run_id: RunId,
    pub loaded_at: Timestamp,
}

#[derive(Serialize)]
struct ConversionRow<'a> {
    row_key: &'a str,
    conversion_id: &'a str,
    conversion_name: &'a str,
    conversion_event: &'a str,
    converted_at: Timestamp,
    person_key: &'a str,
    value_micros: Option<i64>,
    currency: Option<Currency>,
    touchpoints_in_window: u32,
    run_id: RunId,
    loaded_at: Timestamp,
}

/// A `conversions` row; key = the conversion event's uuid.
pub fn conversion(c: &Conversion, touches_in_window: usize, m: RowMeta) -> EncodedRow {
    let id = c.uuid.to_string();
    let row = ConversionRow {
        row_key: &id,
        conversion_id: &id,
        conversion_name: &c.name,
        conversion_event: &c.event,
        converted_at: c.timestamp,
        person_key: c.person.as_str(),
        value_micros: c.value.map(|v| v.micros),
        currency: c.value.map(|v| v.currency),
        touchpoints_in_window: touches_in_window as u32,
        run_id: m.run_id,
        loaded_at: m.loaded_at,
    };
    encode(id.clone(), &row)
}

#[derive(Serialize)]
struct TouchpointRow<'a> {
    row_key: &'a str,
    touchpoint_id: &'a str,
    touched_at: Timestamp,
    person_key: &'a str,
    session_id: Option<&'a str>,
    channel: &'a str,
    platform: Option<Platform>,
    source: &'a str,
    medium: &'a str,
    campaign: Option<&'a str>,
    campaign_id: Option<&'a str>,
    content: Option<&'a str>,
    term: Option<&'a str>,
    click_id_type: Option<&'static str>,
    click_id_masked: Option<bool>,
    referring_domain: Option<&'a str>,
    landing_url: Option<&'a str>,
    run_id: RunId,
    loaded_at: Timestamp,
}

/// A `touchpoints` row; key = the session-start event's uuid.
pub fn touchpoint(t: &Touchpoint, m: RowMeta) -> EncodedRow {
    let id = t.uuid.to_string();
    let row = TouchpointRow {
        row_key: &id,
        touchpoint_id: &id,
        touched_at: t.timestamp,
        person_key: t.person.as_str(),
        session_id: t.session_id.as_deref(),
        channel: t.channel.as_str(),
        platform: t.platform,
        source: &t.source,
        medium: &t.medium,
        campaign: t.campaign.as_deref(),
        campaign_id: t.campaign_id.as_deref(),
        content: t.content.as_deref(),
        term: t.term.as_deref(),
        click_id_type: t.click.map(|c| c.kind.param()),
        click_id_masked: t.click.map(|c| c.masked),
        referring_domain: t.referring_domain.as_deref(),
        landing_url: t.landing_url.as_deref(),
        run_id: m.run_id,
        loaded_at: m.loaded_at,
    };
    encode(id.clone(), &row)
}

#[derive(Serialize)]
struct CreditRow<'a> {
    row_key: &'a str,
    conversion_id: &'a str,
    conversion_name: &'a str,
    converted_at: Timestamp,
    person_key: &'a str,
    model: &'static str,
    touchpoint_id: Option<&'a str>,
    touched_at: Option<Timestamp>,
    channel: &'a str,
    platform: Option<Platform>,
    campaign: Option<&'a str>,
    campaign_id: Option<&'a str>,
    credit: f64,
    credited_value_micros: Option<i64>,
    currency: Option<Currency>,
    run_id: RunId,
    loaded_at: Timestamp,
}

/// The key of a credit row: conversion uuid, model, touchpoint uuid (or `direct`).
pub fn credit_key(conversion: Uuid, model: &str, touch: Option<Uuid>) -> String {
    let mut k = String::with_capacity(96);
    conversion.write_to(&mut k);
    k.push(':');
    k.push_str(model);
    k.push(':');
    match touch {
        Some(t) => t.write_to(&mut k),
        None => k.push_str("direct"),
    }
    k
}

/// An `attribution_credits` row; `touch` is the credited touchpoint, if any.
pub fn credit(c: &Conversion, cr: &Credit, touch: Option<&Touchpoint>, m: RowMeta) -> EncodedRow {
    let conv_id = c.uuid.to_string();
    let touch_id = touch.map(|t| t.uuid.to_string());
    let key = credit_key(c.uuid, cr.model.as_str(), cr.touchpoint);
    let row = CreditRow {
        row_key: &key,
        conversion_id: &conv_id,
        conversion_name: &c.name,
        converted_at: c.timestamp,
        person_key: c.person.as_str(),
        model: cr.model.as_str(),
        touchpoint_id: touch_id.as_deref(),
        touched_at: touch.map(|t| t.timestamp),
        channel: cr.channel.as_str(),
        platform: touch.and_then(|t| t.platform),
        campaign: touch.and_then(|t| t.campaign.as_deref()),
        campaign_id: touch.and_then(|t| t.campaign_id.as_deref()),
        credit: cr.credit,
        credited_value_micros: cr.value_micros,
        currency: c.value.map(|v| v.currency),
        run_id: m.run_id,
        loaded_at: m.loaded_at,
    };
    encode(key.clone(), &row)
}

fn encode<T: Serialize>(row_key: String, row: &T) -> EncodedRow {
    let json = serde_json::to_string(row).expect("rows serialise");
    EncodedRow { row_key, json }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::attribution::ModelKind;
    use crate::domain::money::Money;
    use crate::domain::touchpoint::{Channel, PersonKey};
    use crate::sinks::bigquery::schema::def;
    use crate::sinks::Table;

    fn keys(json: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn columns(t: Table) -> Vec<String> {
        let mut c: Vec<String> = def(t).columns.iter().map(|c| c.name.to_string()).collect();
        c.sort();
        c
    }

    #[test]
    fn encoded_rows_have_exactly_the_warehouse_columns() {
        let m = RowMeta {
            run_id: RunId(7),
            loaded_at: Timestamp::from_micros(1),
        };
        let person = PersonKey(Arc::from("p"));
        let conv = Conversion {
            uuid: Uuid(1),
            timestamp: Timestamp::from_micros(5),
            person: person.clone(),
            name: Arc::from("purchase"),
            event: Arc::from("purchase"),
            value: Some(Money::new(1_000_000, Currency::parse("USD").unwrap())),
        };
        let touch = Touchpoint {
            uuid: Uuid(2),
            timestamp: Timestamp::from_micros(3),
            person,
            session_id: None,
            channel: Channel::new("direct"),
            platform: None,
            source: "(direct)".into(),
            medium: "(none)".into(),
            campaign: None,
            campaign_id: None,
            content: None,
            term: None,
            click: None,
            referring_domain: None,
            landing_url: None,
        };
        let credit = Credit {
            model: ModelKind::Linear,
            touchpoint: Some(Uuid(2)),
            channel: Channel::new("direct"),
            credit: 1.0,
            value_micros: Some(1),
        };
        assert_eq!(
            keys(&conversion(&conv, 1, m).json),
            columns(Table::Conversions)
        );
        assert_eq!(
            keys(&touchpoint(&touch, m).json),
            columns(Table::Touchpoints)
        );
        let row = super::credit(&conv, &credit, Some(&touch), m);
        assert_eq!(keys(&row.json), columns(Table::AttributionCredits));
        assert_eq!(
            row.row_key,
            "00000000-0000-0000-0000-000000000001:linear:00000000-0000-0000-0000-000000000002"
        );
    }
}
