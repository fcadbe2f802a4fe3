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
