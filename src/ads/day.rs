//! One campaign-day as a platform reports it, already in domain units; the account fills in
//! platform, account id and (when the row has none) the account currency.

use crate::domain::money::Currency;
use crate::domain::time::Date;

/// A parsed campaign-day.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDay {
    pub campaign_id: String,
    pub campaign_name: Option<String>,
    pub date: Date,
    pub currency: Option<Currency>,
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub conversions: f64,
    pub value_micros: Option<i64>,
}

impl CampaignDay {
    /// A day with no activity yet.
    pub fn empty(campaign_id: String, date: Date) -> Self {
        Self {
            campaign_id,
            campaign_name: None,
            date,
            currency: None,
            spend_micros: 0,
            impressions: 0,
            clicks: 0,
            conversions: 0.0,
            value_micros: None,
        }
    }
}
