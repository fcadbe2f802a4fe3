//! Microsoft Advertising: the Reporting API's campaign performance report, submitted,
//! polled until it succeeds (reports can take minutes), downloaded as a zipped CSV.

pub mod models;
pub mod zones;

use crate::ads::call::{http_verdict, Reply, Verdict};
use crate::ads::poll::{until_ready, Polled};
use crate::ads::units::currency;
use crate::ads::{account_source, Account, AccountInfo, AdError};
use crate::config::secret::Secret;
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::time::Date;
use models::{AccountEnvelope, Fault, PollResponse, Submitted, COLUMNS};

/// One Microsoft Advertising account.
#[derive(Clone)]
pub struct MicrosoftAds {
    pub account: Account,
    developer_token: Secret,
    customer_id: String,
}

account_source!(MicrosoftAds);

/// Microsoft faults: 117 CallRateExceeded backs off; 105/109 are expired or bad tokens.
fn judge(r: &Reply) -> Verdict {
    if (200..300).contains(&r.status) {
        return Verdict::Done;
    }
    let fault: Fault = serde_json::from_slice(&r.body).unwrap_or_default();
    let codes: Vec<i64> = fault.all().map(|e| e.code).collect();
    if codes.contains(&117) {
        return Verdict::Retry(None, format!("CallRateExceeded ({})", fault.text()));
    }
    if codes.iter().any(|c| matches!(c, 105 | 109)) {
        return Verdict::Refresh;
    }
    if codes.iter().any(|c| matches!(c, 106 | 1102 | 1033)) {
        return Verdict::Fail(format!(
            "not authorised for this account ({}); check ads.microsoft.login_customer_id and the account id",
            fault.text()
        ));
    }
    match http_verdict(r) {
        Verdict::Fail(_) if !codes.is_empty() => {
            Verdict::Fail(format!("HTTP {}: {}", r.status, fault.text()))
        }
        v => v,
    }
}

fn ymd(d: Date) -> serde_json::Value {
    let (y, m, dd) = d.ymd();
    serde_json::json!({ "Day": dd, "Month": m, "Year": y })
}

impl MicrosoftAds {
    pub fn new(account: Account, developer_token: Secret, customer_id: String) -> Self {
        Self {
            account,
            developer_token,
            customer_id,
        }
    }

    fn url(&self, op: &str) -> String {
        format!(
            "{}/Reporting/{}/GenerateReport/{op}",
            self.account.base(),
            self.account.settings.api_version
        )
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<T, AdError> {
        let a = &self.account;
        let reply = a
            .api
            .send(
                what,
                |http, bearer| {
                    http.post(url)
                        .bearer_auth(bearer.unwrap_or_default())
                        .header("DeveloperToken", self.developer_token.expose())
                        .header("CustomerId", &self.customer_id)
                        .header("CustomerAccountId", &a.id)
                        .json(body)
                },
                judge,
            )
            .await?;
        reply.json(what)
    }

    /// Customer Management `GetAccount` (REST `Account/Query`): the account's `TimeZone`
    /// (Microsoft's own names, mapped to IANA) and `CurrencyCode`.
    async fn info(&self) -> Result<AccountInfo, AdError> {
        let a = &self.account;
        let url = format!(
            "{}/CustomerManagement/{}/Account/Query",
            a.settings.customer_management_url.trim_end_matches('/'),
            a.settings.api_version
        );
        let id: serde_json::Value =
            a.id.parse::<i64>()
                .map(Into::into)
                .unwrap_or_else(|_| a.id.clone().into());
        let got: AccountEnvelope = self
            .post("GetAccount", &url, &serde_json::json!({ "AccountId": id }))
            .await?;
        let acct = got.account;
        let time_zone = match acct.time_zone.as_deref().filter(|z| !z.is_empty()) {
            None => None,
            Some(z) => match zones::iana(z) {
                Some(iana) => Some(iana.to_string()),
                // Left to the override (or its absence) to decide: settle() names the key.
                None => Some(z.to_string()),
            },
        };
        Ok(AccountInfo {
            time_zone,
            currency: match acct.currency_code.as_deref().filter(|c| !c.is_empty()) {
                Some(c) => Some(currency(c, "Account.CurrencyCode")?),
                None => None,
            },
        })
    }

    async fn pull(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let a = &self.account;
        let account_id: serde_json::Value =
            a.id.parse::<i64>()
                .map(Into::into)
                .unwrap_or_else(|_| a.id.clone().into());
        let request = serde_json::json!({ "ReportRequest": {
            "Type": "CampaignPerformanceReportRequest",
            "ReportName": format!("attrsync {} {from}..{to}", a.id),
            "Format": "Csv",
            "FormatVersion": "2.0",
            "ExcludeReportHeader": true,
            "ExcludeReportFooter": true,
            "ExcludeColumnHeaders": false,
            // Today's numbers are incomplete by nature; they are re-pulled on later runs.
            "ReturnOnlyCompleteData": false,
            "Aggregation": "Daily",
            "Columns": COLUMNS,
            "Scope": { "AccountIds": [account_id] },
            "Time": { "CustomDateRangeStart": ymd(from), "CustomDateRangeEnd": ymd(to) },
        }});
        let submitted: Submitted = self
            .post("SubmitGenerateReport", &self.url("Submit"), &request)
            .await?;
        let poll_body = serde_json::json!({ "ReportRequestId": submitted.report_request_id });
        let poll_url = self.url("Poll");
        let s = &a.settings;
        let download = until_ready(
            "Microsoft report",
            s.poll_interval,
            s.report_deadline,
            || async {
                let p: PollResponse = self
                    .post("PollGenerateReport", &poll_url, &poll_body)
                    .await?;
                let st = p.report_request_status;
                match st.status.as_str() {
                    "Success" => Ok(Polled::Ready(st.report_download_url)),
                    "Error" => Err(AdError::Transient(anyhow::anyhow!(
                        "{}: the report {} ended in Error; the next run submits a new one",
                        a.api.name,
                        submitted.report_request_id
                    ))),
                    other => Ok(Polled::Pending(other.to_string())),
                }
            },
        )
        .await?;
        let Some(url) = download.filter(|u| !u.is_empty()) else {
            return Ok(Vec::new());
        };
        // The download URL is pre-signed: no credentials go with it.
        let reply = a
            .api
            .send("report download", |http, _| http.get(&url), http_verdict)
            .await?;
        let days = models::parse_report(&reply.body).map_err(|e| match e {
            AdError::Permanent(e) => {
                AdError::Permanent(e.context(format!("{}: report download", a.api.name)))
            }
            t => t,
        })?;
        days.into_iter().map(|d| a.row(d)).collect()
    }
}
