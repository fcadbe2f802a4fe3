//! Encoding domain objects as warehouse rows (docs/ARCHITECTURE.md, "The tables"). Every row
//! has `row_key`, `run_id` and `loaded_at`; keys are deterministic so a re-sent row is the
//! same row.

mod credit;

pub use credit::{credit_key, CreditRows};

use super::json::Obj;
use crate::domain::attribution::Conversion;
use crate::domain::checksum::value_fields;
use crate::domain::ids::RunId;
use crate::domain::platform::Platform;
use crate::domain::time::Timestamp;
use crate::domain::touchpoint::Touchpoint;
use crate::sinks::{EncodedRow, Table};

/// Run-level columns.
#[derive(Debug, Clone, Copy)]
pub struct RowMeta {
    pub run_id: RunId,
    pub loaded_at: Timestamp,
}

/// A `conversions` row; key = the conversion event's uuid.
pub fn conversion(c: &Conversion, touches_in_window: usize, m: RowMeta) -> EncodedRow {
    let mut json = String::with_capacity(400);
    let values = Obj::tracking(&mut json, value_fields(Table::Conversions))
        .uuid("row_key", c.uuid)
        .uuid("conversion_id", c.uuid)
        .str("conversion_name", &c.name)
        .str("conversion_event", &c.event)
        .ts("converted_at", c.timestamp)
        .str("person_key", c.person.as_str())
        .opt_int("value_micros", c.value.map(|v| v.micros))
        .opt_str("currency", c.value.as_ref().map(|v| v.currency.as_str()))
        .int("touchpoints_in_window", touches_in_window as i64)
        .int("run_id", m.run_id.0)
        .ts("loaded_at", m.loaded_at)
        .end();
    EncodedRow {
        row_key: c.uuid.to_string(),
        json,
        values,
    }
}

/// A `touchpoints` row; key = the session-start event's uuid.
pub fn touchpoint(t: &Touchpoint, m: RowMeta) -> EncodedRow {
    let mut json = String::with_capacity(600);
    let values = Obj::tracking(&mut json, value_fields(Table::Touchpoints))
        .uuid("row_key", t.uuid)
        .uuid("touchpoint_id", t.uuid)
        .ts("touched_at", t.timestamp)
        .str("person_key", t.person.as_str())
        .opt_str("session_id", t.session_id())
        .str("channel", t.channel.as_str())
        .opt_str("platform", t.platform.map(Platform::as_str))
        .str("source", t.source())
        .str("medium", t.medium())
        .opt_str("campaign", t.campaign())
        .opt_str("campaign_id", t.campaign_id())
        .opt_str("content", t.content())
        .opt_str("term", t.term())
        .opt_str("click_id_type", t.click.map(|c| c.kind.param()))
        .opt_bool("click_id_masked", t.click.map(|c| c.masked))
        .opt_str("referring_domain", t.referring_domain())
        .opt_str("landing_url", t.landing_url())
        .int("run_id", m.run_id.0)
        .ts("loaded_at", m.loaded_at)
        .end();
    EncodedRow {
        row_key: t.uuid.to_string(),
        json,
        values,
    }
}

/// An `ad_metrics` row; key = platform:account:campaign:date. `pulled_at` orders restated
/// pulls of one key (the newest wins in `ad_metrics_latest`).
pub fn ad_metric(
    r: &crate::domain::ad_metric::AdMetricRow,
    pulled_at: Timestamp,
    m: RowMeta,
) -> EncodedRow {
    let key = r.row_key();
    let mut json = String::with_capacity(360);
    let values = Obj::tracking(&mut json, value_fields(Table::AdMetrics))
        .str("row_key", &key)
        .str("platform", r.platform.as_str())
        .str("account_id", &r.account_id)
        .str("campaign_id", &r.campaign_id)
        .opt_str("campaign_name", r.campaign_name.as_deref())
        .str("date", &r.date.to_string())
        .str("currency", r.currency.as_str())
        .int("spend_micros", r.spend_micros)
        .int("impressions", r.impressions)
        .int("clicks", r.clicks)
        .float("platform_conversions", r.platform_conversions)
        .opt_int(
            "platform_conversion_value_micros",
            r.platform_conversion_value_micros,
        )
        .ts("pulled_at", pulled_at)
        .int("run_id", m.run_id.0)
        .ts("loaded_at", m.loaded_at)
        .end();
    EncodedRow {
        row_key: key,
        json,
        values,
    }
}

/// A `channel_credit` row; key = run:model:channel (each run writes its own summary).
pub fn channel_credit(c: &super::channel_credit::ChannelShare, m: RowMeta) -> EncodedRow {
    let key = format!("{}:{}:{}", m.run_id.0, c.model.as_str(), c.channel);
    let mut json = String::with_capacity(320);
    let values = Obj::tracking(&mut json, value_fields(Table::ChannelCredit))
        .str("row_key", &key)
        .str("model", c.model.as_str())
        .str("channel", &c.channel)
        .float("conversions", c.conversions)
        .opt_int("value_micros", c.value.map(|v| v.0))
        .opt_str("currency", c.value.as_ref().map(|v| v.1.as_str()))
        .float("share", c.share.share)
        .float("share_low", c.share.low)
        .float("share_high", c.share.high)
        .int("journeys", c.journeys as i64)
        .int("run_id", m.run_id.0)
        .ts("loaded_at", m.loaded_at)
        .end();
    EncodedRow {
        row_key: key,
        json,
        values,
    }
}

/// An `fx_rates` row; key = reporting:currency:date.
pub fn fx_rate(
    r: &crate::fx::Rate,
    reporting: crate::domain::money::Currency,
    source: &str,
    m: RowMeta,
) -> EncodedRow {
    let key = format!("{}:{}:{}", reporting.as_str(), r.currency.as_str(), r.date);
    let mut json = String::with_capacity(200);
    let values = Obj::tracking(&mut json, value_fields(Table::FxRates))
        .str("row_key", &key)
        .str("date", &r.date.to_string())
        .str("currency", r.currency.as_str())
        .str("reporting_currency", reporting.as_str())
        .float("rate", r.rate)
        .str("source", source)
        .int("run_id", m.run_id.0)
        .ts("loaded_at", m.loaded_at)
        .end();
    EncodedRow {
        row_key: key,
        json,
        values,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::attribution::{Credit, ModelKind};
    use crate::domain::ids::Uuid;
    use crate::domain::money::{Currency, Money};
    use crate::domain::touchpoint::{Channel, PersonKey, TouchpointFields, TouchpointTexts};
    use crate::sinks::bigquery::schema::def;

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
            person_ix: 0,
            name: Arc::from("purchase"),
            event: Arc::from("purchase"),
            value: Some(Money::new(1_000_000, Currency::parse("USD").unwrap())),
            fresh: true,
            lookback_micros: 1,
        };
        let touch = Touchpoint {
            uuid: Uuid(2),
            timestamp: Timestamp::from_micros(3),
            person,
            person_ix: 0,
            channel: Channel::new("direct"),
            platform: None,
            click: None,
            fresh: true,
            texts: TouchpointTexts::new(TouchpointFields {
                source: "(direct)",
                medium: "(none)",
                ..Default::default()
            }),
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
        let row = CreditRows::new(&conv, m).row(&credit, Some(&touch));
        assert_eq!(keys(&row.json), columns(Table::AttributionCredits));
        // The values digest written equals the one recomputed from the row read back.
        let back = |r: &EncodedRow, t: Table| {
            let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
            crate::domain::checksum::values_of(t, |f| v.get(f).cloned())
        };
        assert_eq!(back(&row, Table::AttributionCredits), row.values);
        let c = conversion(&conv, 1, m);
        assert_eq!(back(&c, Table::Conversions), c.values);
        let t = touchpoint(&touch, m);
        assert_eq!(back(&t, Table::Touchpoints), t.values);
        let mut edited = credit.clone();
        edited.credit = 0.5;
        assert_ne!(
            CreditRows::new(&conv, m).row(&edited, Some(&touch)).values,
            row.values
        );
        assert_eq!(
            row.row_key,
            "00000000-0000-0000-0000-000000000001:linear:00000000-0000-0000-0000-000000000002"
        );
        let share = super::super::channel_credit::ChannelShare {
            model: ModelKind::Markov,
            channel: "email".into(),
            conversions: 3.5,
            value: None,
            share: crate::engine::bootstrap::Share {
                share: 0.25,
                low: 0.2,
                high: 0.3,
            },
            journeys: 7,
        };
        let cc = channel_credit(&share, m);
        assert_eq!(keys(&cc.json), columns(Table::ChannelCredit));
        assert_eq!(back(&cc, Table::ChannelCredit), cc.values);
        assert_eq!(cc.row_key, "7:markov:email");
    }
}
