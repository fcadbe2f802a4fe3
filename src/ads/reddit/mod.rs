//! Reddit Ads (API v3): a report broken down by campaign and date over whole-hour bounds in the
//! account's time zone, paged by `pagination.next_url`; OAuth refresh with HTTP Basic client
//! credentials.

pub mod models;

use std::collections::HashMap;

use crate::ads::call::{http_verdict, Reply, Verdict};
use crate::ads::units::currency;
use crate::ads::{account_source, midnight_in, Account, AccountInfo, AdError, CampaignDay};
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::time::Date;
use models::{AdAccount, Campaign, Envelope, Report};

/// One Reddit ad account.
#[derive(Clone)]
pub struct RedditAds {
    pub account: Account,
}

account_source!(RedditAds);

fn judge(r: &Reply) -> Verdict {
    match r.status {
        403 => Verdict::Fail(
            "access denied (403): the token needs the adsread scope and access to the account"
                .into(),
        ),
        _ => http_verdict(r),
    }
}

impl RedditAds {
    pub fn new(account: Account) -> Self {
        Self { account }
    }

    /// The next page's URL, which must stay on the API host: the bearer token goes with it.
    fn next(&self, p: Option<models::Pagination>) -> Result<Option<String>, AdError> {
        match p.and_then(|p| p.next_url).filter(|u| !u.is_empty()) {
            None => Ok(None),
            Some(url) if url.starts_with(&format!("{}/", self.account.base())) => Ok(Some(url)),
            Some(_) => Err(AdError::permanent(format!(
                "{}: pagination.next_url leaves {}; refusing to follow it",
                self.account.api.name,
                self.account.base()
            ))),
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope<T>, AdError> {
        let reply = self
            .account
            .api
            .send(
                what,
                |http, bearer| {
                    let rb = match body {
                        Some(b) => http.post(url).json(b),
                        None => http.get(url),
                    };
                    rb.bearer_auth(bearer.unwrap_or_default())
                },
                judge,
            )
            .await?;
        reply.json(what)
    }

    async fn campaigns(&self) -> Result<HashMap<String, Option<String>>, AdError> {
        let a = &self.account;
        let mut url = format!(
            "{}/api/{}/ad_accounts/{}/campaigns?page.size=100",
            a.base(),
            a.settings.api_version,
            a.id
        );
        let mut names = HashMap::new();
        loop {
            let page: Envelope<Vec<Campaign>> = self.call("campaigns", &url, None).await?;
            names.extend(page.data.into_iter().map(|c| (c.id, c.name)));
            match self.next(page.pagination)? {
                Some(next) => url = next,
                None => return Ok(names),
            }
        }
    }

    /// `GET ad_accounts/{id}`: `currency` and `time_zone_id`.
    async fn info(&self) -> Result<AccountInfo, AdError> {
        let a = &self.account;
        let acct: Envelope<AdAccount> = self
            .call(
                "ad account",
                &format!(
                    "{}/api/{}/ad_accounts/{}",
                    a.base(),
                    a.settings.api_version,
                    a.id
                ),
                None,
            )
            .await?;
        Ok(AccountInfo {
            time_zone: acct.data.time_zone_id,
            currency: Some(currency(&acct.data.currency, "ad_account.currency")?),
        })
    }

    async fn pull(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let a = &self.account;
        let zone = a.zone();
        let names = self.campaigns().await?;
        // Whole hours: the account's midnights, which are whole hours in UTC for every zone
        // Reddit accepts.
        let body = serde_json::json!({ "data": {
            "breakdowns": ["CAMPAIGN_ID", "DATE"],
            "fields": ["SPEND", "IMPRESSIONS", "CLICKS", "KEY_CONVERSION_TOTAL_COUNT"],
            "starts_at": midnight_in(&zone, from).to_rfc3339_seconds(),
            "ends_at": midnight_in(&zone, to.add_days(1)).to_rfc3339_seconds(),
            "time_zone_id": a.zone_name(),
        }});
        let mut url = format!(
            "{}/api/{}/ad_accounts/{}/reports",
            a.base(),
            a.settings.api_version,
            a.id
        );
        let mut out = Vec::new();
        loop {
            let page: Envelope<Report> = self.call("report", &url, Some(&body)).await?;
            for m in page.data.metrics {
                let mut d = CampaignDay::try_from(m)?;
                d.campaign_name = names.get(&d.campaign_id).cloned().flatten();
                out.push(a.row(d)?);
            }
            match self.next(page.pagination)? {
                Some(next) => url = next,
                None => return Ok(out),
            }
        }
    }
}
