//! Google Ads: GAQL over `campaign` by `segments.date` through `googleAds:searchStream`, with
//! an OAuth refresh token, the developer token and (for manager access) `login-customer-id`.

pub mod models;

use std::time::Duration;

use crate::ads::call::{http_verdict, Reply, Verdict};
use crate::ads::units::currency;
use crate::ads::{account_source, Account, AccountInfo, AdError, CampaignDay};
use crate::config::secret::Secret;
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::time::Date;
use models::{CustomerBatch, Status, StreamBatch};

/// Longest quota wait a run sits out; longer (the daily operations quota) fails the run as
/// transient so the next scheduled run tries again.
const MAX_QUOTA_WAIT: Duration = Duration::from_secs(120);

/// One Google Ads customer account.
#[derive(Clone)]
pub struct GoogleAds {
    pub account: Account,
    developer_token: Secret,
}

account_source!(GoogleAds);

/// The account's own zone and currency (Google Ads API, `customer` resource).
pub const CUSTOMER_QUERY: &str = "SELECT customer.time_zone, customer.currency_code FROM customer";

/// The GAQL of one window. Dates are the account's days.
pub fn query(from: Date, to: Date) -> String {
    format!(
        "SELECT customer.currency_code, campaign.id, campaign.name, segments.date, metrics.cost_micros, \
         metrics.impressions, metrics.clicks, metrics.conversions, metrics.conversions_value \
         FROM campaign WHERE segments.date BETWEEN '{from}' AND '{to}'"
    )
}

impl GoogleAds {
    pub fn new(account: Account, developer_token: Secret) -> Self {
        Self {
            account,
            developer_token,
        }
    }

    fn judge(&self, r: &Reply) -> Verdict {
        if (200..300).contains(&r.status) {
            return Verdict::Done;
        }
        let v = &self.account.settings.api_version;
        let Some(status) = Status::parse(&r.body) else {
            return match r.status {
                404 => Verdict::Fail(format!("API version {v} is not served (HTTP 404; sunset?): raise ads.google.api_version")),
                _ => http_verdict(r),
            };
        };
        let codes = status.codes();
        let quota = status.status == "RESOURCE_EXHAUSTED"
            || codes.iter().any(|c| c.starts_with("quotaError."));
        if quota {
            return match status.retry_delay() {
                Some(d) if d > MAX_QUOTA_WAIT => Verdict::Defer(format!(
                    "quota exhausted; Google asks to wait {:.0?} (Basic access allows 15,000 operations a day): {}",
                    d,
                    status.text()
                )),
                d => Verdict::Retry(d, status.text()),
            };
        }
        match r.status {
            401 => Verdict::Refresh,
            404 => Verdict::Fail(format!(
                "API version {v} is not served (sunset?): raise ads.google.api_version; {}",
                status.text()
            )),
            _ if codes.iter().any(|c| c.starts_with("authorizationError.") || c.starts_with("authenticationError.")) => {
                Verdict::Fail(format!(
                    "access denied: check ads.google.developer_token, the account id and ads.google.login_customer_id; {}",
                    status.text()
                ))
            }
            _ => match http_verdict(r) {
                Verdict::Fail(_) => Verdict::Fail(format!("HTTP {}: {}", r.status, status.text())),
                other => other,
            },
        }
    }

    /// Runs one GAQL query through `googleAds:searchStream`.
    async fn stream(&self, what: &str, gaql: &str) -> Result<Reply, AdError> {
        let a = &self.account;
        let url = format!(
            "{}/{}/customers/{}/googleAds:searchStream",
            a.base(),
            a.settings.api_version,
            a.id
        );
        let body = serde_json::json!({ "query": gaql });
        let login = a.settings.login_customer_id.clone();
        a.api
            .send(
                what,
                |http, bearer| {
                    let mut rb = http
                        .post(&url)
                        .bearer_auth(bearer.unwrap_or_default())
                        .header("developer-token", self.developer_token.expose())
                        .json(&body);
                    if let Some(l) = &login {
                        rb = rb.header("login-customer-id", l.replace('-', ""));
                    }
                    rb
                },
                |r| self.judge(r),
            )
            .await
    }

    async fn info(&self) -> Result<AccountInfo, AdError> {
        let reply = self.stream("customer", CUSTOMER_QUERY).await?;
        let batches: Vec<CustomerBatch> = reply.json("customer")?;
        let c = batches
            .into_iter()
            .flat_map(|b| b.results)
            .next()
            .map(|r| r.customer)
            .unwrap_or_default();
        Ok(AccountInfo {
            time_zone: c.time_zone,
            currency: match c.currency_code {
                Some(code) => Some(currency(&code, "customer.currencyCode")?),
                None => None,
            },
        })
    }

    async fn pull(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let a = &self.account;
        let reply = self.stream("searchStream", &query(from, to)).await?;
        let batches: Vec<StreamBatch> = reply.json("searchStream")?;
        let mut out = Vec::new();
        for row in batches.into_iter().flat_map(|b| b.results) {
            let day = CampaignDay::try_from(row).map_err(|e| match e {
                AdError::Permanent(e) => {
                    AdError::Permanent(e.context(format!("{}: a searchStream row", a.api.name)))
                }
                t => t,
            })?;
            out.push(a.row(day)?);
        }
        Ok(out)
    }
}
