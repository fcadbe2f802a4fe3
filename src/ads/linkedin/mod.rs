//! LinkedIn Ads: `adAnalytics` pivoted by campaign with daily granularity. The API has no
//! paging and silently caps an answer at 15,000 elements, so the range is sliced so that
//! campaigns × days stays under the cap, and a slice that still hits it is halved.

pub mod models;

use std::collections::HashMap;

use crate::ads::call::{http_verdict, Reply, Verdict};
use crate::ads::units::{currency, days_between};
use crate::ads::{account_source, Account, AccountInfo, AdError, CampaignDay};
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::time::Date;
use models::{AdAccount, Analytics, CampaignPage};

/// Elements one `adAnalytics` answer holds at most.
pub const ELEMENT_CAP: usize = 15_000;
const FIELDS: &str = "dateRange,pivotValues,impressions,clicks,costInLocalCurrency,externalWebsiteConversions,conversionValueInLocalCurrency";

/// One LinkedIn sponsored account.
#[derive(Clone)]
pub struct LinkedInAds {
    pub account: Account,
}

account_source!(LinkedInAds);

fn judge(r: &Reply) -> Verdict {
    match r.status {
        426 => Verdict::Fail(format!(
            "LinkedIn no longer serves this API version (426: {}); set ads.linkedin.api_version to a current YYYYMM version",
            crate::redact::snippet(&r.body, 200)
        )),
        403 => Verdict::Fail("access denied (403): the token needs r_ads_reporting and a role on the account".into()),
        _ => http_verdict(r),
    }
}

/// Rest.li `(year:Y,month:M,day:D)`.
fn ymd(d: Date) -> String {
    let (y, m, dd) = d.ymd();
    format!("(year:{y},month:{m},day:{dd})")
}

impl LinkedInAds {
    pub fn new(account: Account) -> Self {
        Self { account }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &str,
    ) -> Result<T, AdError> {
        let version = &self.account.settings.api_version;
        let reply = self
            .account
            .api
            .send(
                what,
                |http, bearer| {
                    http.get(url)
                        .bearer_auth(bearer.unwrap_or_default())
                        .header("LinkedIn-Version", version)
                        .header("X-Restli-Protocol-Version", "2.0.0")
                },
                judge,
            )
            .await?;
        reply.json(what)
    }

    async fn campaigns(&self) -> Result<HashMap<String, Option<String>>, AdError> {
        let a = &self.account;
        let mut names = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/rest/adAccounts/{}/adCampaigns?q=search&pageSize=100",
                a.base(),
                a.id
            );
            if let Some(t) = &token {
                url.push_str("&pageToken=");
                url.push_str(
                    &percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC)
                        .to_string(),
                );
            }
            let page: CampaignPage = self.get("adCampaigns", &url).await?;
            for c in page.elements {
                let id = match c.id {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                names.insert(id, c.name);
            }
            match page
                .metadata
                .and_then(|m| m.next_page_token)
                .filter(|t| !t.is_empty())
            {
                Some(t) => token = Some(t),
                None => return Ok(names),
            }
        }
    }

    async fn analytics(&self, from: Date, to: Date) -> Result<Analytics, AdError> {
        let a = &self.account;
        let url = format!(
            "{}/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:{},end:{})&accounts=List(urn%3Ali%3AsponsoredAccount%3A{})&fields={FIELDS}",
            a.base(),
            ymd(from),
            ymd(to),
            a.id
        );
        self.get("adAnalytics", &url).await
    }

    /// `GET /rest/adAccounts/{id}`: the currency. LinkedIn counts analytics days in UTC for
    /// every account, so the zone is UTC.
    async fn info(&self) -> Result<AccountInfo, AdError> {
        let a = &self.account;
        let acct: AdAccount = self
            .get(
                "adAccounts",
                &format!("{}/rest/adAccounts/{}", a.base(), a.id),
            )
            .await?;
        Ok(AccountInfo {
            time_zone: Some("UTC".into()),
            currency: Some(currency(&acct.currency, "adAccount.currency")?),
        })
    }

    async fn pull(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let a = &self.account;
        let names = self.campaigns().await?;
        let per_slice = (ELEMENT_CAP / names.len().max(1)).max(1) as i32;
        let mut todo: Vec<(Date, Date)> = crate::ads::units::slices(from, to, per_slice);
        todo.reverse();
        let mut out = Vec::new();
        while let Some((f, t)) = todo.pop() {
            let got = self.analytics(f, t).await?;
            if got.elements.len() >= ELEMENT_CAP {
                let days = days_between(f, t);
                if days <= 1 {
                    return Err(AdError::permanent(format!(
                        "{}: adAnalytics returned the 15,000-element cap for the single day {f}; the day cannot be split further",
                        a.api.name
                    )));
                }
                let mid = f.add_days(days / 2 - 1);
                tracing::info!(api = %a.api.name, %f, %t, "adAnalytics hit its element cap; halving the slice");
                todo.push((mid.add_days(1), t));
                todo.push((f, mid));
                continue;
            }
            for e in got.elements {
                let mut d = CampaignDay::try_from(e)?;
                d.campaign_name = names.get(&d.campaign_id).cloned().flatten();
                out.push(a.row(d)?);
            }
        }
        Ok(out)
    }
}
