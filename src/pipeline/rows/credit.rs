//! `attribution_credits` rows. A conversion has a credit row per model and touch (13 on
//! average in a 60-day run), all repeating its id, name, time and person: those members, and
//! the run's own, are written once per conversion and copied into each row.

use super::RowMeta;
use crate::domain::attribution::{Conversion, Credit};
use crate::domain::checksum::value_fields;
use crate::domain::ids::Uuid;
use crate::domain::platform::Platform;
use crate::domain::touchpoint::Touchpoint;
use crate::pipeline::json::{members, Obj};
use crate::sinks::{EncodedRow, Table};

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

/// The credit rows of one conversion, with its members (and the run's) written once.
pub struct CreditRows<'a> {
    conversion: &'a Conversion,
    /// `conversion_id` … `person_key`, as JSON members.
    head: String,
    /// `run_id` and `loaded_at`, as JSON members.
    tail: String,
}

impl<'a> CreditRows<'a> {
    pub fn new(c: &'a Conversion, m: RowMeta) -> Self {
        let head = members(|o| {
            o.uuid("conversion_id", c.uuid)
                .str("conversion_name", &c.name)
                .ts("converted_at", c.timestamp)
                .str("person_key", c.person.as_str());
        });
        let tail = members(|o| {
            o.int("run_id", m.run_id.0).ts("loaded_at", m.loaded_at);
        });
        Self {
            conversion: c,
            head,
            tail,
        }
    }

    /// The row of credit `cr`; `touch` is the credited touchpoint, if any.
    pub fn row(&self, cr: &Credit, touch: Option<&Touchpoint>) -> EncodedRow {
        let c = self.conversion;
        let key = credit_key(c.uuid, cr.model.as_str(), cr.touchpoint);
        let mut json = String::with_capacity(600);
        let values = Obj::tracking(&mut json, value_fields(Table::AttributionCredits))
            .str("row_key", &key)
            .members(&self.head)
            .str("model", cr.model.as_str())
            .opt_uuid("touchpoint_id", touch.map(|t| t.uuid))
            .opt_ts("touched_at", touch.map(|t| t.timestamp))
            .str("channel", cr.channel.as_str())
            .opt_str(
                "platform",
                touch.and_then(|t| t.platform).map(Platform::as_str),
            )
            .opt_str("campaign", touch.and_then(|t| t.campaign()))
            .opt_str("campaign_id", touch.and_then(|t| t.campaign_id()))
            .float("credit", cr.credit)
            .opt_int("credited_value_micros", cr.value_micros)
            .opt_str("currency", c.value.as_ref().map(|v| v.currency.as_str()))
            .members(&self.tail)
            .end();
        EncodedRow {
            row_key: key,
            json,
            values,
        }
    }
}
