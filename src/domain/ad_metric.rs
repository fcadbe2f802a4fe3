//! Daily campaign metrics from an ad platform, normalised.

use super::money::Currency;
use super::platform::Platform;
use super::time::Date;

/// One campaign-day, in the account's currency and time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct AdMetricRow {
    pub platform: Platform,
    pub account_id: String,
    pub campaign_id: String,
    pub campaign_name: Option<String>,
    /// The day in the account's time zone (LinkedIn: UTC).
    pub date: Date,
    pub currency: Currency,
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    /// Conversions as the platform counts them (fractional under its own attribution).
    pub platform_conversions: f64,
    pub platform_conversion_value_micros: Option<i64>,
}

impl AdMetricRow {
    /// `platform:account:campaign:date`, the row key of `ad_metrics`.
    pub fn row_key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.platform, self.account_id, self.campaign_id, self.date
        )
    }
}
