//! Meta Marketing API wire shapes: report runs, their status, insights pages, errors and the
//! usage headers.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::ads::units::{count, currency, day, decimal, value_micros};
use crate::ads::{AdError, CampaignDay};

/// `POST act_{id}/insights` with async: the report run.
#[derive(Debug, Deserialize)]
pub struct ReportRun {
    pub report_run_id: String,
}

/// `GET act_{id}?fields=timezone_name,currency`.
#[derive(Debug, Deserialize)]
pub struct AdAccount {
    #[serde(default)]
    pub timezone_name: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// `GET /{report_run_id}`.
#[derive(Debug, Deserialize)]
pub struct AsyncJob {
    pub async_status: String,
    #[serde(default)]
    pub async_percent_completion: Option<i64>,
}

/// One page of `/{report_run_id}/insights`.
#[derive(Debug, Deserialize)]
pub struct InsightsPage {
    #[serde(default)]
    pub data: Vec<Insight>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    /// Present only while another page exists.
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Cursors {
    #[serde(default)]
    pub after: Option<String>,
}

/// One campaign-day (`time_increment=1`).
#[derive(Debug, Deserialize)]
pub struct Insight {
    pub campaign_id: String,
    #[serde(default)]
    pub campaign_name: Option<String>,
    pub date_start: String,
    #[serde(default)]
    pub account_currency: Option<String>,
    #[serde(default)]
    pub spend: Option<Value>,
    #[serde(default)]
    pub impressions: Option<Value>,
    #[serde(default)]
    pub clicks: Option<Value>,
    #[serde(default)]
    pub actions: Vec<ActionStat>,
    #[serde(default)]
    pub action_values: Vec<ActionStat>,
}

#[derive(Debug, Deserialize)]
pub struct ActionStat {
    pub action_type: String,
    pub value: Value,
}

impl Insight {
    /// The domain day. `conversion_actions` is an ordered preference: Meta lists one purchase
    /// under several types at once (`omni_purchase` aggregates `purchase`,
    /// `offsite_conversion.fb_pixel_purchase`, `onsite_web_purchase`, …), so the first listed
    /// type present in the row is its count, and the same type's `action_values` entry its
    /// value; types are never summed.
    pub fn into_day(self, conversion_actions: &[String]) -> Result<CampaignDay, AdError> {
        let chosen = |list: &[ActionStat]| -> Option<usize> {
            conversion_actions
                .iter()
                .find_map(|t| list.iter().position(|a| &a.action_type == t))
        };
        let conversions = chosen(&self.actions)
            .map(|i| decimal(&self.actions[i].value))
            .unwrap_or(0.0);
        // The value of the type that gave the count; without a counted action, the first
        // preferred type that has a value.
        let value_at = match chosen(&self.actions) {
            Some(i) => {
                let t = &self.actions[i].action_type;
                self.action_values.iter().position(|v| &v.action_type == t)
            }
            None => chosen(&self.action_values),
        };
        let value = match value_at {
            Some(i) => value_micros(Some(&self.action_values[i].value), "action_values.value")?,
            None => None,
        };
        Ok(CampaignDay {
            date: day(&self.date_start, "date_start")?,
            currency: match &self.account_currency {
                Some(c) => Some(currency(c, "account_currency")?),
                None => None,
            },
            // A decimal string in the account currency ("11178.61"), converted exactly.
            spend_micros: value_micros(self.spend.as_ref(), "spend")?.unwrap_or(0),
            impressions: self.impressions.as_ref().map(count).unwrap_or(0),
            clicks: self.clicks.as_ref().map(count).unwrap_or(0),
            conversions,
            value_micros: value,
            campaign_id: self.campaign_id,
            campaign_name: self.campaign_name,
        })
    }
}

/// `{"error": {...}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorEnvelope {
    pub error: GraphError,
}

#[derive(Debug, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
}

impl GraphError {
    /// Rate limiting: 4 (app), 17 (user / ad account), 32 (page), 613 (custom), 80000–80014
    /// (business use case).
    pub fn is_throttle(&self) -> bool {
        matches!(self.code, 4 | 17 | 32 | 613 | 80000..=80014)
    }
}

/// One entry of `X-Business-Use-Case-Usage`.
#[derive(Debug, Deserialize)]
pub struct UseCaseUsage {
    #[serde(default)]
    pub call_count: f64,
    #[serde(default)]
    pub total_cputime: f64,
    #[serde(default)]
    pub total_time: f64,
    /// Minutes until calls are allowed again.
    #[serde(default)]
    pub estimated_time_to_regain_access: u64,
}

/// The highest usage percentage and the longest regain time in `X-Business-Use-Case-Usage`.
pub fn business_usage(header: &str) -> Option<(f64, u64)> {
    let map: HashMap<String, Vec<UseCaseUsage>> = serde_json::from_str(header).ok()?;
    let all = map.values().flatten();
    let pct = all
        .clone()
        .map(|u| u.call_count.max(u.total_cputime).max(u.total_time))
        .fold(0.0, f64::max);
    let regain = all
        .map(|u| u.estimated_time_to_regain_access)
        .max()
        .unwrap_or(0);
    Some((pct, regain))
}

/// `X-FB-Ads-Insights-Throttle`: the higher of app and account utilisation.
pub fn insights_throttle(header: &str) -> Option<f64> {
    #[derive(Deserialize)]
    struct T {
        #[serde(default)]
        app_id_util_pct: f64,
        #[serde(default)]
        acc_id_util_pct: f64,
    }
    let t: T = serde_json::from_str(header).ok()?;
    Some(t.app_id_util_pct.max(t.acc_id_util_pct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_is_exact_and_only_configured_actions_count() {
        let i: Insight = serde_json::from_str(
            r#"{"campaign_id":"238","campaign_name":"Prospecting","date_start":"2024-02-29","date_stop":"2024-02-29",
                "account_currency":"USD","spend":"11178.61","impressions":"1000","clicks":"31",
                "actions":[{"action_type":"link_click","value":"31"},{"action_type":"offsite_conversion.fb_pixel_purchase","value":"2"}],
                "action_values":[{"action_type":"offsite_conversion.fb_pixel_purchase","value":"59.98"}]}"#,
        )
        .unwrap();
        let d = i
            .into_day(&["offsite_conversion.fb_pixel_purchase".into()])
            .unwrap();
        assert_eq!(d.spend_micros, 11_178_610_000);
        assert_eq!(d.conversions, 2.0);
        assert_eq!(d.value_micros, Some(59_980_000));
        assert_eq!(d.date.to_string(), "2024-02-29");
    }

    #[test]
    fn one_purchase_reported_under_three_types_counts_once_by_preference() {
        let i = |json: &str| -> Insight { serde_json::from_str(json).unwrap() };
        let row = r#"{"campaign_id":"1","date_start":"2024-03-01","account_currency":"EUR","spend":"10",
            "actions":[{"action_type":"offsite_conversion.fb_pixel_purchase","value":"3"},{"action_type":"purchase","value":"3"},
                       {"action_type":"omni_purchase","value":"4"},{"action_type":"onsite_web_purchase","value":"3"}],
            "action_values":[{"action_type":"offsite_conversion.fb_pixel_purchase","value":"30.00"},{"action_type":"purchase","value":"30.00"},
                             {"action_type":"omni_purchase","value":"41.50"}]}"#;
        let order: Vec<String> = [
            "omni_purchase",
            "purchase",
            "offsite_conversion.fb_pixel_purchase",
        ]
        .map(String::from)
        .to_vec();
        let d = i(row).into_day(&order).unwrap();
        assert_eq!((d.conversions, d.value_micros), (4.0, Some(41_500_000)));
        let pixel_first = vec![
            "offsite_conversion.fb_pixel_purchase".to_string(),
            "purchase".into(),
        ];
        let d = i(row).into_day(&pixel_first).unwrap();
        assert_eq!(
            (d.conversions, d.value_micros),
            (3.0, Some(30_000_000)),
            "never 6"
        );
        // Only a lower-preference type present: it counts.
        let only = r#"{"campaign_id":"1","date_start":"2024-03-01","actions":[{"action_type":"purchase","value":"2"}],
            "action_values":[{"action_type":"purchase","value":"9.99"}]}"#;
        let d = i(only).into_day(&order).unwrap();
        assert_eq!((d.conversions, d.value_micros), (2.0, Some(9_990_000)));
    }

    #[test]
    fn usage_headers() {
        let h = r#"{"123":[{"type":"ads_insights","call_count":96,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":3}]}"#;
        assert_eq!(business_usage(h), Some((96.0, 3)));
        assert_eq!(
            insights_throttle(r#"{"app_id_util_pct":12.5,"acc_id_util_pct":40}"#),
            Some(40.0)
        );
    }
}
