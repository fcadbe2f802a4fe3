//! Meta (Facebook/Instagram): campaign insights per day through the async report-run flow
//! (POST, poll `async_status`, page the result by cursor), with Meta's throttle signals.

pub mod models;

use std::time::Duration;

use crate::ads::call::{http_verdict, Reply, Verdict};
use crate::ads::poll::{until_ready, Polled};
use crate::ads::units::currency;
use crate::ads::{account_source, Account, AccountInfo, AdError};
use crate::config::secret::Secret;
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::time::Date;
use models::{AdAccount, AsyncJob, ErrorEnvelope, InsightsPage, ReportRun};

const FIELDS: &str =
    "campaign_id,campaign_name,spend,impressions,clicks,actions,action_values,account_currency";
const PAGE_SIZE: &str = "500";
/// Longest throttle wait a run sits out; longer fails the run as transient.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// One Meta ad account.
#[derive(Clone)]
pub struct MetaAds {
    pub account: Account,
    access_token: Secret,
}

account_source!(MetaAds);

/// Meta's view of a reply: throttle codes come as HTTP 400/403 with an error body, and the
/// usage headers say how long until access returns.
fn judge(r: &Reply) -> Verdict {
    let usage = r
        .headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(models::business_usage);
    if let Some(t) = r
        .headers
        .get("x-fb-ads-insights-throttle")
        .and_then(|v| v.to_str().ok())
        .and_then(models::insights_throttle)
    {
        if t >= 90.0 {
            tracing::warn!(util_pct = t, "Meta insights throttle is nearly exhausted");
        }
    }
    if (200..300).contains(&r.status) {
        return Verdict::Done;
    }
    let Ok(ErrorEnvelope { error }) = serde_json::from_slice::<ErrorEnvelope>(&r.body) else {
        return http_verdict(r);
    };
    let text = format!(
        "code {} subcode {}: {}",
        error.code,
        error.error_subcode.unwrap_or(0),
        error.message
    );
    if error.is_throttle() {
        let wait = usage
            .map(|(_, m)| Duration::from_secs(m * 60))
            .filter(|d| !d.is_zero());
        return match wait {
            Some(d) if d > MAX_WAIT => Verdict::Defer(format!(
                "throttled for {} minutes ({text})",
                d.as_secs() / 60
            )),
            d => Verdict::Retry(d, format!("throttled ({text})")),
        };
    }
    match error.code {
        190 | 102 => Verdict::Fail(format!(
            "the access token was refused ({text}); create a new system-user token and set ads.meta.access_token"
        )),
        200 | 10 | 278 => Verdict::Fail(format!("permission denied ({text}); the token needs ads_read on act_…")),
        100 if error.error_subcode == Some(1487534) => Verdict::Fail(format!(
            "Meta refuses the report as too large ({text}); lower ads.meta.restatement_days"
        )),
        1 | 2 => Verdict::Retry(None, text),
        _ => match http_verdict(r) {
            Verdict::Fail(_) | Verdict::Refresh => Verdict::Fail(format!("HTTP {}: {text}", r.status)),
            v => v,
        },
    }
}

impl MetaAds {
    pub fn new(account: Account, access_token: Secret) -> Self {
        Self {
            account,
            access_token,
        }
    }

    fn url(&self, path: &str) -> String {
        self.account.versioned(path)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<T, AdError> {
        let reply = self
            .account
            .api
            .send(
                what,
                |http, _| {
                    http.get(url)
                        .bearer_auth(self.access_token.expose())
                        .query(query)
                },
                judge,
            )
            .await?;
        reply.json(what)
    }

    /// `GET act_{id}?fields=timezone_name,currency` (Marketing API, Ad Account reference).
    async fn info(&self) -> Result<AccountInfo, AdError> {
        let url = self.url(&format!("act_{}", self.account.id));
        let acct: AdAccount = self
            .get("ad account", &url, &[("fields", "timezone_name,currency")])
            .await?;
        Ok(AccountInfo {
            time_zone: acct.timezone_name,
            currency: match acct.currency {
                Some(c) => Some(currency(&c, "currency")?),
                None => None,
            },
        })
    }

    async fn pull(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let a = &self.account;
        let range =
            serde_json::json!({ "since": from.to_string(), "until": to.to_string() }).to_string();
        let form = [
            ("level", "campaign"),
            ("time_increment", "1"),
            ("time_range", range.as_str()),
            ("fields", FIELDS),
        ];
        let url = self.url(&format!("act_{}/insights", a.id));
        let reply = a
            .api
            .send(
                "insights report run",
                |http, _| {
                    http.post(&url)
                        .bearer_auth(self.access_token.expose())
                        .form(&form)
                },
                judge,
            )
            .await?;
        let run: ReportRun = reply.json("insights report run")?;
        let status_url = self.url(&run.report_run_id);
        let s = &a.settings;
        until_ready(
            "Meta report run",
            s.poll_interval,
            s.report_deadline,
            || async {
                let job: AsyncJob = self.get("report run status", &status_url, &[]).await?;
                match job.async_status.as_str() {
                    "Job Completed" => Ok(Polled::Ready(())),
                    "Job Failed" | "Job Skipped" => Err(AdError::Transient(anyhow::anyhow!(
                        "{}: Meta report run {} ended with {:?}; the next run asks again",
                        a.api.name,
                        run.report_run_id,
                        job.async_status
                    ))),
                    other => Ok(Polled::Pending(format!(
                        "{other} {}%",
                        job.async_percent_completion.unwrap_or(0)
                    ))),
                }
            },
        )
        .await?;
        let rows_url = self.url(&format!("{}/insights", run.report_run_id));
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = vec![("limit", PAGE_SIZE)];
            if let Some(c) = &after {
                q.push(("after", c.as_str()));
            }
            let page: InsightsPage = self.get("report rows", &rows_url, &q).await?;
            for i in page.data {
                out.push(a.row(i.into_day(&s.conversion_actions)?)?);
            }
            // Follow the cursor, not `paging.next`: that URL carries the access token.
            match page.paging {
                Some(p) if p.next.is_some() => match p.cursors.and_then(|c| c.after) {
                    Some(c) => after = Some(c),
                    None => break,
                },
                _ => break,
            }
        }
        Ok(out)
    }
}
