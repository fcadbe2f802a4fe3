//! X Ads API wire shapes: campaign pages, synchronous stats, async stats jobs.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::ads::units::currency;
use crate::ads::{AdError, CampaignDay};
use crate::domain::money::Currency;
use crate::domain::time::Date;

/// `{"data": {...}}` of `GET accounts/:account_id`.
#[derive(Debug, Deserialize)]
pub struct AccountEnvelope {
    pub data: XAccount,
}

/// `GET accounts/:account_id` data.
#[derive(Debug, Deserialize)]
pub struct XAccount {
    /// IANA zone (`America/Los_Angeles`).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// A page of `GET accounts/:id/campaigns`.
#[derive(Debug, Deserialize)]
pub struct CampaignPage {
    #[serde(default)]
    pub data: Vec<Campaign>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Campaign {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// Stats of several entities over one range (`granularity=DAY`: one array slot per day).
#[derive(Debug, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub data: Vec<EntityStats>,
}

#[derive(Debug, Deserialize)]
pub struct EntityStats {
    pub id: String,
    #[serde(default)]
    pub id_data: Vec<IdData>,
}

#[derive(Debug, Deserialize)]
pub struct IdData {
    #[serde(default)]
    pub metrics: serde_json::Map<String, Value>,
}

/// `POST stats/jobs/…`.
#[derive(Debug, Deserialize)]
pub struct JobCreated {
    pub data: Job,
}

/// `GET stats/jobs/…?job_ids=`.
#[derive(Debug, Deserialize)]
pub struct Jobs {
    #[serde(default)]
    pub data: Vec<Job>,
}

#[derive(Debug, Deserialize)]
pub struct Job {
    pub id_str: String,
    pub status: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// Slot `i` of a metric series (`null` and missing read as 0).
fn slot(v: Option<&Value>, i: usize) -> i64 {
    v.and_then(|s| s.as_array())
        .and_then(|a| a.get(i))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

impl EntityStats {
    /// Adds this entity's days (from `from`, one per slot) to `days`, keyed by date.
    pub fn add_days(
        &self,
        from: Date,
        len: usize,
        currency_of: &dyn Fn(&str) -> Option<Currency>,
        days: &mut BTreeMap<(String, Date), CampaignDay>,
    ) {
        let cur = currency_of(&self.id);
        for d in &self.id_data {
            let m = &d.metrics;
            let purchases = m.get("conversion_purchases");
            for i in 0..len {
                let date = from.add_days(i as i32);
                let spend = slot(m.get("billed_charge_local_micro"), i);
                let imp = slot(m.get("impressions"), i);
                let clicks = slot(m.get("clicks"), i);
                let conv = slot(purchases.and_then(|p| p.get("metric")), i);
                let value = slot(purchases.and_then(|p| p.get("sale_amount")), i);
                if spend == 0 && imp == 0 && clicks == 0 && conv == 0 {
                    continue;
                }
                let day = days
                    .entry((self.id.clone(), date))
                    .or_insert_with(|| CampaignDay::empty(self.id.clone(), date));
                day.currency = cur;
                day.spend_micros += spend;
                day.impressions += imp;
                day.clicks += clicks;
                day.conversions += conv as f64;
                if value != 0 {
                    day.value_micros = Some(day.value_micros.unwrap_or(0) + value);
                }
            }
        }
    }
}

impl Campaign {
    pub fn currency(&self) -> Result<Option<Currency>, AdError> {
        self.currency
            .as_deref()
            .map(|c| currency(c, "campaign.currency"))
            .transpose()
    }
}
