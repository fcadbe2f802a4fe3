//! Reddit Ads API v3 wire shapes: the ad account, campaign pages and report pages.

use serde::Deserialize;
use serde_json::Value;

use crate::ads::units::{count, day, decimal};
use crate::ads::{AdError, CampaignDay};

#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub data: T,
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub next_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AdAccount {
    pub currency: String,
    #[serde(default)]
    pub time_zone_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Campaign {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Report {
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

/// One campaign-day. `spend` is in micro-currency (millionths of the account currency),
/// as Reddit's own tools and Fivetran's reddit_ads model (spend / 1,000,000) treat it.
#[derive(Debug, Deserialize)]
pub struct Metric {
    pub campaign_id: String,
    pub date: String,
    #[serde(default)]
    pub spend: Option<Value>,
    #[serde(default)]
    pub impressions: Option<Value>,
    #[serde(default)]
    pub clicks: Option<Value>,
    #[serde(default)]
    pub key_conversion_total_count: Option<Value>,
}

impl TryFrom<Metric> for CampaignDay {
    type Error = AdError;

    fn try_from(m: Metric) -> Result<Self, AdError> {
        let spend = match &m.spend {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                AdError::permanent(format!("spend {n} is not whole micro-currency"))
            })?,
            Some(Value::String(s)) => s.trim().parse().map_err(|_| {
                AdError::permanent(format!("spend {s:?} is not whole micro-currency"))
            })?,
            Some(other) => {
                return Err(AdError::permanent(format!("spend {other} is not a number")))
            }
        };
        Ok(CampaignDay {
            date: day(&m.date, "date")?,
            spend_micros: spend,
            impressions: m.impressions.as_ref().map(count).unwrap_or(0),
            clicks: m.clicks.as_ref().map(count).unwrap_or(0),
            conversions: m
                .key_conversion_total_count
                .as_ref()
                .map(decimal)
                .unwrap_or(0.0),
            value_micros: None,
            currency: None,
            campaign_name: None,
            campaign_id: m.campaign_id,
        })
    }
}
