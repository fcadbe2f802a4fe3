//! X Ads: campaign stats by day, synchronously (≤ 7 days and ≤ 20 campaigns a call) for short
//! windows and through async stats jobs (≤ 90 days) for long ones; OAuth 1.0a signed; both
//! placements summed. `billed_charge_local_micro` is already micros.

pub mod models;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::time::Duration;

use crate::ads::call::{http_verdict, Reply, Verdict};
use crate::ads::poll::{until_ready, Polled};
use crate::ads::units::{days_between, slices};
use crate::ads::{account_source, midnight_in, Account, AccountInfo, AdError, CampaignDay};
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::money::Currency;
use crate::domain::time::Date;
use crate::http::oauth1::OAuth1;
use models::{AccountEnvelope, CampaignPage, JobCreated, Jobs, Stats};

const PLACEMENTS: [&str; 2] = ["ALL_ON_TWITTER", "PUBLISHER_NETWORK"];
const IDS_PER_CALL: usize = 20;
const SYNC_DAYS: i32 = 7;
const JOB_DAYS: i32 = 90;
/// Windows up to this many days use the synchronous endpoint (two calls at most).
const SYNC_WINDOW: i32 = 14;

/// One X ads account.
#[derive(Clone)]
pub struct XAds {
    pub account: Account,
    oauth: OAuth1,
}

account_source!(XAds);

/// X's limits: 429 with `x-rate-limit-reset` / `x-account-rate-limit-reset` (epoch seconds).
fn judge(r: &Reply) -> Verdict {
    match r.status {
        429 => {
            let reset = ["x-account-rate-limit-reset", "x-rate-limit-reset"]
                .iter()
                .filter_map(|h| r.headers.get(*h)?.to_str().ok()?.trim().parse::<u64>().ok())
                .max();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let wait = reset.map(|t| Duration::from_secs(t.saturating_sub(now).max(1)));
            Verdict::Retry(wait, "rate limited (429)".into())
        }
        401 => Verdict::Fail(
            "X refused the OAuth 1.0a credentials (401); check ads.x.consumer_key, consumer_secret, access_token and access_token_secret".into(),
        ),
        403 => Verdict::Fail("access denied (403): the user needs access to this ads account".into()),
        _ => http_verdict(r),
    }
}

impl XAds {
    pub fn new(account: Account, oauth: OAuth1) -> Self {
        Self { account, oauth }
    }

    fn url(&self, path: &str) -> String {
        self.account.versioned(path)
    }

    /// A signed request; query parameters are part of the signature.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        method: &str,
        url: &str,
        params: &[(String, String)],
    ) -> Result<T, AdError> {
        let reply = self
            .account
            .api
            .send(
                what,
                |http, _| {
                    let auth = self.oauth.sign(method, url, params);
                    let rb = if method == "POST" {
                        http.post(url)
                    } else {
                        http.get(url)
                    };
                    rb.query(params)
                        .header(reqwest::header::AUTHORIZATION, auth)
                },
                judge,
            )
            .await?;
        reply.json(what)
    }

    async fn campaigns(&self) -> Result<Vec<models::Campaign>, AdError> {
        let url = self.url(&format!("accounts/{}/campaigns", self.account.id));
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut p = vec![
                ("count".to_string(), "1000".to_string()),
                ("with_deleted".to_string(), "true".to_string()),
            ];
            if let Some(c) = &cursor {
                p.push(("cursor".to_string(), c.clone()));
            }
            let page: CampaignPage = self.call("campaigns", "GET", &url, &p).await?;
            all.extend(page.data);
            match page.next_cursor.filter(|c| !c.is_empty()) {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    fn params(&self, ids: &[&str], from: Date, to: Date, placement: &str) -> Vec<(String, String)> {
        let z = &self.account.zone();
        [
            ("entity", "CAMPAIGN".to_string()),
            ("entity_ids", ids.join(",")),
            // The account's midnights: whole hours, and DAY slots align to them.
            ("start_time", midnight_in(z, from).to_rfc3339_seconds()),
            (
                "end_time",
                midnight_in(z, to.add_days(1)).to_rfc3339_seconds(),
            ),
            ("granularity", "DAY".to_string()),
            (
                "metric_groups",
                "ENGAGEMENT,BILLING,WEB_CONVERSION".to_string(),
            ),
            ("placement", placement.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    async fn sync_stats(
        &self,
        ids: &[&str],
        from: Date,
        to: Date,
        placement: &str,
    ) -> Result<Stats, AdError> {
        let url = self.url(&format!("stats/accounts/{}", self.account.id));
        self.call("stats", "GET", &url, &self.params(ids, from, to, placement))
            .await
    }

    async fn job_stats(
        &self,
        ids: &[&str],
        from: Date,
        to: Date,
        placement: &str,
    ) -> Result<Stats, AdError> {
        let a = &self.account;
        let url = self.url(&format!("stats/jobs/accounts/{}", a.id));
        let created: JobCreated = self
            .call(
                "stats job",
                "POST",
                &url,
                &self.params(ids, from, to, placement),
            )
            .await?;
        let id = created.data.id_str;
        let q = vec![("job_ids".to_string(), id.clone())];
        let s = &a.settings;
        let download = until_ready(
            "X stats job",
            s.poll_interval,
            s.report_deadline,
            || async {
                let jobs: Jobs = self.call("stats job status", "GET", &url, &q).await?;
                let Some(job) = jobs.data.into_iter().find(|j| j.id_str == id) else {
                    return Ok(Polled::Pending("not listed yet".into()));
                };
                match (job.status.as_str(), job.url) {
                    ("SUCCESS", Some(u)) => Ok(Polled::Ready(u)),
                    ("FAILED", _) => Err(AdError::Transient(anyhow::anyhow!(
                        "{}: X stats job {id} failed; the next run asks again",
                        a.api.name
                    ))),
                    (other, _) => Ok(Polled::Pending(other.to_string())),
                }
            },
        )
        .await?;
        // A pre-signed download: no OAuth header goes with it.
        let reply = a
            .api
            .send(
                "stats job download",
                |http, _| http.get(&download),
                http_verdict,
            )
            .await?;
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&reply.body[..])
            .read_to_end(&mut text)
            .map_err(|e| {
                AdError::permanent(format!(
                    "{}: the stats job download is not gzip ({e})",
                    a.api.name
                ))
            })?;
        Reply {
            status: 200,
            headers: reply.headers,
            body: text.into(),
        }
        .json("stats job download")
    }

    /// `GET accounts/:account_id`: the account's `timezone` (DAY slots align to its
    /// midnight). Currency is per campaign (funding instrument), read with the campaigns.
    async fn info(&self) -> Result<AccountInfo, AdError> {
        let url = self.url(&format!("accounts/{}", self.account.id));
        let got: AccountEnvelope = self.call("account", "GET", &url, &[]).await?;
        Ok(AccountInfo {
            time_zone: got.data.timezone,
            currency: None,
        })
    }

    async fn pull(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let a = &self.account;
        let campaigns = self.campaigns().await?;
        let mut currencies: HashMap<String, Option<Currency>> = HashMap::new();
        let mut names = HashMap::new();
        for c in &campaigns {
            currencies.insert(c.id.clone(), c.currency()?);
            names.insert(c.id.clone(), c.name.clone());
        }
        let ids: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
        let sync = days_between(from, to) <= SYNC_WINDOW;
        let mut days: BTreeMap<(String, Date), CampaignDay> = BTreeMap::new();
        let lookup = |id: &str| currencies.get(id).copied().flatten();
        for (f, t) in slices(from, to, if sync { SYNC_DAYS } else { JOB_DAYS }) {
            let len = days_between(f, t) as usize;
            for chunk in ids.chunks(IDS_PER_CALL) {
                for placement in PLACEMENTS {
                    let stats = if sync {
                        self.sync_stats(chunk, f, t, placement).await?
                    } else {
                        self.job_stats(chunk, f, t, placement).await?
                    };
                    for e in &stats.data {
                        e.add_days(f, len, &lookup, &mut days);
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(days.len());
        for mut d in days.into_values() {
            d.campaign_name = names.get(&d.campaign_id).cloned().flatten();
            out.push(a.row(d)?);
        }
        Ok(out)
    }
}
