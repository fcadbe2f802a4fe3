//! Google Ads REST wire shapes: `googleAds:searchStream` batches of `GoogleAdsRow` (proto3 JSON:
//! camelCase, int64 as strings, zero values omitted) and the `GoogleAdsFailure` error body.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::ads::units::{count, day, decimal, value_micros};
use crate::ads::{AdError, CampaignDay};

/// One batch of the stream.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamBatch {
    #[serde(default)]
    pub results: Vec<GoogleAdsRow>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleAdsRow {
    #[serde(default)]
    pub customer: Option<Customer>,
    pub campaign: CampaignRef,
    pub segments: Segments,
    #[serde(default)]
    pub metrics: Metrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    #[serde(default)]
    pub currency_code: Option<String>,
    /// IANA zone of the account (`customer.time_zone`).
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// One batch of the stream of the `customer` query.
#[derive(Debug, Deserialize)]
pub struct CustomerBatch {
    #[serde(default)]
    pub results: Vec<CustomerRow>,
}

#[derive(Debug, Deserialize)]
pub struct CustomerRow {
    #[serde(default)]
    pub customer: Customer,
}

#[derive(Debug, Deserialize)]
pub struct CampaignRef {
    pub id: Value,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Segments {
    pub date: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub cost_micros: Option<Value>,
    pub impressions: Option<Value>,
    pub clicks: Option<Value>,
    pub conversions: Option<Value>,
    pub conversions_value: Option<Value>,
}

impl TryFrom<GoogleAdsRow> for CampaignDay {
    type Error = AdError;

    fn try_from(r: GoogleAdsRow) -> Result<Self, AdError> {
        let id = match &r.campaign.id {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(AdError::permanent(format!(
                    "campaign.id {other} is not an id"
                )))
            }
        };
        let m = &r.metrics;
        let cost = match &m.cost_micros {
            None => 0,
            // Already micros: an int64 as a string; parsed as an integer, never through a float.
            Some(Value::String(s)) => s.trim().parse().map_err(|_| {
                AdError::permanent(format!("metrics.costMicros {s:?} is not an integer"))
            })?,
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                AdError::permanent(format!("metrics.costMicros {n} is not an integer"))
            })?,
            Some(other) => {
                return Err(AdError::permanent(format!(
                    "metrics.costMicros {other} is not an integer"
                )))
            }
        };
        let currency = match r.customer.and_then(|c| c.currency_code) {
            Some(c) => Some(crate::ads::units::currency(&c, "customer.currencyCode")?),
            None => None,
        };
        Ok(CampaignDay {
            date: day(&r.segments.date, "segments.date")?,
            campaign_id: id,
            campaign_name: r.campaign.name,
            currency,
            spend_micros: cost,
            impressions: m.impressions.as_ref().map(count).unwrap_or(0),
            clicks: m.clicks.as_ref().map(count).unwrap_or(0),
            conversions: m.conversions.as_ref().map(decimal).unwrap_or(0.0),
            value_micros: value_micros(m.conversions_value.as_ref(), "metrics.conversionsValue")?,
        })
    }
}

/// `{"error": {...}}`, alone or as the single element of a stream array.
#[derive(Debug, Deserialize)]
pub struct ErrorEnvelope {
    pub error: Status,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub details: Vec<FailureDetail>,
}

#[derive(Debug, Deserialize)]
pub struct FailureDetail {
    #[serde(default)]
    pub errors: Vec<AdsError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdsError {
    #[serde(default)]
    pub error_code: serde_json::Map<String, Value>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Option<ErrorDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    #[serde(default)]
    pub quota_error_details: Option<QuotaErrorDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaErrorDetails {
    #[serde(default)]
    pub rate_scope: Option<String>,
    #[serde(default)]
    pub retry_delay: Option<String>,
}

impl Status {
    /// Parses an error body in either framing.
    pub fn parse(body: &[u8]) -> Option<Status> {
        // Checked by shape: serde would read a one-element array as the struct's fields.
        if body.trim_ascii_start().first() == Some(&b'{') {
            return serde_json::from_slice::<ErrorEnvelope>(body)
                .ok()
                .map(|e| e.error);
        }
        serde_json::from_slice::<Vec<ErrorEnvelope>>(body)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map(|e| e.error)
    }

    /// Every `errorCode` as `kind.VALUE` (`quotaError.RESOURCE_EXHAUSTED`).
    pub fn codes(&self) -> Vec<String> {
        self.details
            .iter()
            .flat_map(|d| &d.errors)
            .flat_map(|e| {
                e.error_code
                    .iter()
                    .map(|(k, v)| format!("{k}.{}", v.as_str().unwrap_or_default()))
            })
            .collect()
    }

    /// The longest `quotaErrorDetails.retryDelay` given.
    pub fn retry_delay(&self) -> Option<Duration> {
        self.details
            .iter()
            .flat_map(|d| &d.errors)
            .filter_map(|e| {
                e.details
                    .as_ref()?
                    .quota_error_details
                    .as_ref()?
                    .retry_delay
                    .as_deref()
            })
            .filter_map(proto_duration)
            .max()
    }

    /// The first detailed message, else the status message.
    pub fn text(&self) -> String {
        let detail = self
            .details
            .iter()
            .flat_map(|d| &d.errors)
            .map(|e| e.message.as_str())
            .find(|m| !m.is_empty());
        let codes = self.codes();
        format!(
            "{} {}{}",
            self.status,
            detail.unwrap_or(&self.message),
            if codes.is_empty() {
                String::new()
            } else {
                format!(" ({})", codes.join(", "))
            }
        )
    }
}

/// A protobuf JSON duration: `"42s"`, `"1.5s"`.
pub fn proto_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_exact_micros_and_absent_zeroes() {
        let row: GoogleAdsRow = serde_json::from_str(
            r#"{"customer":{"resourceName":"customers/1","currencyCode":"EUR"},
                "campaign":{"resourceName":"customers/1/campaigns/22","id":"22","name":"Brand"},
                "segments":{"date":"2024-03-01"},
                "metrics":{"costMicros":"9007199254740993","clicks":"7","conversions":1.5,"conversionsValue":12.34}}"#,
        )
        .unwrap();
        let d = CampaignDay::try_from(row).unwrap();
        assert_eq!(
            d.spend_micros, 9_007_199_254_740_993,
            "int64 beyond f64 precision stays exact"
        );
        assert_eq!((d.impressions, d.clicks, d.conversions), (0, 7, 1.5));
        assert_eq!(d.value_micros, Some(12_340_000));
        assert_eq!(d.currency.unwrap().as_str(), "EUR");
    }

    #[test]
    fn quota_errors_carry_their_retry_delay() {
        let body = br#"[{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.ads.googleads.v19.errors.GoogleAdsFailure",
            "errors":[{"errorCode":{"quotaError":"RESOURCE_TEMPORARILY_EXHAUSTED"},"message":"Too many requests",
            "details":{"quotaErrorDetails":{"rateScope":"ACCOUNT","rateName":"RequestsPerOperation","retryDelay":"2.5s"}}}]}]}}]"#;
        let s = Status::parse(body).unwrap();
        assert_eq!(s.retry_delay(), Some(Duration::from_millis(2500)));
        assert_eq!(s.codes(), vec!["quotaError.RESOURCE_TEMPORARILY_EXHAUSTED"]);
    }
}
