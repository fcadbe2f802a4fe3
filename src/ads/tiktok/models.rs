//! TikTok Business API wire shapes: the `{code, message, data}` envelope, advertiser info and
//! integrated report pages.

use serde::Deserialize;
use serde_json::Value;

use crate::ads::units::{count, day, decimal, value_micros};
use crate::ads::{AdError, CampaignDay};

/// Every answer: `code` 0 is success, whatever the HTTP status.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub code: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default = "Option::default")]
    pub data: Option<T>,
}

/// Only the code and message, for judging a reply before its data is parsed.
#[derive(Debug, Deserialize)]
pub struct Head {
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub list: Vec<T>,
    #[serde(default)]
    pub page_info: Option<PageInfo>,
}

#[derive(Debug, Deserialize)]
pub struct PageInfo {
    pub page: u32,
    pub total_page: u32,
}

#[derive(Debug, Deserialize)]
pub struct Advertiser {
    pub currency: String,
    /// IANA zone of the advertiser's report days.
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ReportRow {
    pub dimensions: Dimensions,
    #[serde(default)]
    pub metrics: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct Dimensions {
    pub campaign_id: String,
    /// `2024-01-01 00:00:00`, the account's day.
    pub stat_time_day: String,
}

impl TryFrom<ReportRow> for CampaignDay {
    type Error = AdError;

    fn try_from(r: ReportRow) -> Result<Self, AdError> {
        let m = &r.metrics;
        Ok(CampaignDay {
            date: day(&r.dimensions.stat_time_day, "stat_time_day")?,
            campaign_name: m
                .get("campaign_name")
                .and_then(Value::as_str)
                .map(str::to_string),
            currency: None,
            // A decimal string in the advertiser's currency.
            spend_micros: value_micros(m.get("spend"), "spend")?.unwrap_or(0),
            impressions: m.get("impressions").map(count).unwrap_or(0),
            clicks: m.get("clicks").map(count).unwrap_or(0),
            conversions: m.get("conversion").map(decimal).unwrap_or(0.0),
            value_micros: None,
            campaign_id: r.dimensions.campaign_id,
        })
    }
}
