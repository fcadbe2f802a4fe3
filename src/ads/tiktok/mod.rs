//! TikTok: the integrated report at campaign level by day, in ≤ 30-day slices and pages of
//! 1,000; body `code` ≠ 0 is an error, 40100 is throttling.

pub mod models;

use crate::ads::call::{http_verdict, Reply, Verdict};
use crate::ads::units::{currency, slices};
use crate::ads::{account_source, Account, AccountInfo, AdError, CampaignDay};
use crate::config::secret::Secret;
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::time::Date;
use models::{Advertiser, Envelope, Head, List, ReportRow};

const SLICE_DAYS: i32 = 30;
const PAGE_SIZE: u32 = 1000;

/// One TikTok advertiser.
#[derive(Clone)]
pub struct TikTokAds {
    pub account: Account,
    access_token: Secret,
}

account_source!(TikTokAds);

fn judge(r: &Reply) -> Verdict {
    if !(200..300).contains(&r.status) {
        return http_verdict(r);
    }
    let Ok(head) = serde_json::from_slice::<Head>(&r.body) else {
        // Parsed (and reported) by the caller.
        return Verdict::Done;
    };
    match head.code {
        0 => Verdict::Done,
        40100 => Verdict::Retry(None, format!("throttled (code 40100: {})", head.message)),
        40102 | 40104 | 40105 => Verdict::Fail(format!(
            "the access token was refused (code {}: {}); generate a new long-term token and set ads.tiktok.access_token",
            head.code, head.message
        )),
        40001 | 40002 => Verdict::Fail(format!("no permission (code {}: {}); the token needs the Reporting scope", head.code, head.message)),
        c if c >= 50000 => Verdict::Retry(None, format!("server error (code {c}: {})", head.message)),
        c => Verdict::Fail(format!("code {c}: {}", head.message)),
    }
}

impl TikTokAds {
    pub fn new(account: Account, access_token: Secret) -> Self {
        Self {
            account,
            access_token,
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, AdError> {
        let a = &self.account;
        let url = format!("{}/open_api/{}/{path}", a.base(), a.settings.api_version);
        let reply = a
            .api
            .send(
                what,
                |http, _| {
                    http.get(&url)
                        .header("Access-Token", self.access_token.expose())
                        .query(query)
                },
                judge,
            )
            .await?;
        let env: Envelope<T> = reply.json(what)?;
        env.data.ok_or_else(|| {
            AdError::permanent(format!(
                "{}: {what}: code 0 but no data ({})",
                a.api.name, env.message
            ))
        })
    }

    /// `advertiser/info/`: the advertiser's `currency` and `timezone`.
    async fn info(&self) -> Result<AccountInfo, AdError> {
        let a = &self.account;
        let ids = serde_json::json!([a.id]).to_string();
        let info: List<Advertiser> = self
            .get(
                "advertiser info",
                "advertiser/info/",
                &[
                    ("advertiser_ids", ids),
                    ("fields", r#"["currency","timezone"]"#.into()),
                ],
            )
            .await?;
        let adv = info.list.first().ok_or_else(|| {
            AdError::permanent(format!(
                "{}: advertiser info is empty; check the advertiser id",
                a.api.name
            ))
        })?;
        Ok(AccountInfo {
            time_zone: adv.timezone.clone(),
            currency: Some(currency(&adv.currency, "advertiser.currency")?),
        })
    }

    async fn pull(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let a = &self.account;
        let mut out = Vec::new();
        for (f, t) in slices(from, to, SLICE_DAYS) {
            let mut page = 1;
            loop {
                let q = [
                    ("advertiser_id", a.id.clone()),
                    ("report_type", "BASIC".into()),
                    ("data_level", "AUCTION_CAMPAIGN".into()),
                    ("dimensions", r#"["campaign_id","stat_time_day"]"#.into()),
                    (
                        "metrics",
                        r#"["spend","impressions","clicks","conversion","campaign_name"]"#.into(),
                    ),
                    ("start_date", f.to_string()),
                    ("end_date", t.to_string()),
                    ("page", page.to_string()),
                    ("page_size", PAGE_SIZE.to_string()),
                ];
                let got: List<ReportRow> = self.get("report", "report/integrated/get/", &q).await?;
                for r in got.list {
                    out.push(a.row(CampaignDay::try_from(r)?)?);
                }
                match got.page_info {
                    Some(p) if p.page < p.total_page => page = p.page + 1,
                    _ => break,
                }
            }
        }
        Ok(out)
    }
}
