//! LinkedIn Marketing API wire shapes: the ad account, its campaigns (token-paged) and
//! `adAnalytics` elements pivoted by campaign.

use serde::Deserialize;
use serde_json::Value;

use crate::ads::units::{count, decimal, value_micros};
use crate::ads::{AdError, CampaignDay};
use crate::domain::time::Date;

/// `GET /rest/adAccounts/{id}`.
#[derive(Debug, Deserialize)]
pub struct AdAccount {
    pub currency: String,
}

/// A page of `GET /rest/adAccounts/{id}/adCampaigns?q=search`.
#[derive(Debug, Deserialize)]
pub struct CampaignPage {
    #[serde(default)]
    pub elements: Vec<Campaign>,
    #[serde(default)]
    pub metadata: Option<PageMetadata>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMetadata {
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Campaign {
    pub id: Value,
    #[serde(default)]
    pub name: Option<String>,
}

/// `adAnalytics` answer: no paging, silently capped.
#[derive(Debug, Deserialize)]
pub struct Analytics {
    #[serde(default)]
    pub elements: Vec<Element>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Element {
    pub date_range: DateRange,
    #[serde(default)]
    pub pivot_values: Vec<String>,
    #[serde(default)]
    pub impressions: Option<Value>,
    #[serde(default)]
    pub clicks: Option<Value>,
    #[serde(default)]
    pub cost_in_local_currency: Option<Value>,
    #[serde(default)]
    pub external_website_conversions: Option<Value>,
    #[serde(default)]
    pub conversion_value_in_local_currency: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct DateRange {
    pub start: YearMonthDay,
}

#[derive(Debug, Deserialize)]
pub struct YearMonthDay {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

/// The campaign id of `urn:li:sponsoredCampaign:123`.
pub fn campaign_of(urn: &str) -> Option<&str> {
    urn.strip_prefix("urn:li:sponsoredCampaign:")
}

impl TryFrom<Element> for CampaignDay {
    type Error = AdError;

    fn try_from(e: Element) -> Result<Self, AdError> {
        let urn = e
            .pivot_values
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        let id = campaign_of(urn).ok_or_else(|| {
            AdError::permanent(format!("pivotValues {urn:?} is not a campaign URN"))
        })?;
        let s = &e.date_range.start;
        let date = Date::from_ymd(s.year, s.month, s.day).ok_or_else(|| {
            AdError::permanent(format!(
                "dateRange.start {}-{}-{} is not a date",
                s.year, s.month, s.day
            ))
        })?;
        Ok(CampaignDay {
            campaign_id: id.to_string(),
            campaign_name: None,
            date,
            currency: None,
            spend_micros: value_micros(e.cost_in_local_currency.as_ref(), "costInLocalCurrency")?
                .unwrap_or(0),
            impressions: e.impressions.as_ref().map(count).unwrap_or(0),
            clicks: e.clicks.as_ref().map(count).unwrap_or(0),
            conversions: e
                .external_website_conversions
                .as_ref()
                .map(decimal)
                .unwrap_or(0.0),
            value_micros: value_micros(
                e.conversion_value_in_local_currency.as_ref(),
                "conversionValueInLocalCurrency",
            )?,
        })
    }
}
