//! Builds the configured ad sources from `[ads]`, naming any missing key.

use std::sync::Arc;

use anyhow::{anyhow, Context};

use super::call::Api;
use super::{file, google, linkedin, meta, microsoft, reddit, tiktok, x, Account, AnyAdSource};
use crate::config::{AdPlatformSettings, AdsSettings};
use crate::domain::platform::Platform;
use crate::http::oauth::{ClientAuth, OAuth, TokenVault};
use crate::http::{build_client, Limits, RateLimiter, RetryPolicy};

/// What Microsoft Advertising tokens must be scoped to.
const MICROSOFT_SCOPE: &str = "https://ads.microsoft.com/msads.manage offline_access";

fn need<T>(v: Option<T>, platform: &str, key: &str) -> anyhow::Result<T> {
    v.ok_or_else(|| {
        anyhow!(
            "ads.{platform}.{key} is required (set ATTRSYNC__ADS__{}__{})",
            platform.to_uppercase(),
            key.to_uppercase()
        )
    })
}

/// The connection of one account of `platform`.
fn account(
    platform: Platform,
    key: &str,
    s: &Arc<AdPlatformSettings>,
    id: &str,
    oauth: Option<ClientAuth>,
    vault: Option<&Arc<dyn TokenVault>>,
) -> anyhow::Result<Account> {
    let http = build_client(s.timeout)?;
    let zone = match s.zone_of(id) {
        None => None,
        Some(name) => Some((
            name.to_string(),
            jiff::tz::TimeZone::get(name)
                .with_context(|| format!("ads.{key}.time_zone: unknown zone {name}"))?,
        )),
    };
    let oauth = match oauth {
        None => None,
        Some(auth) => {
            let o = OAuth::new(
                http.clone(),
                &s.token_url,
                &need(s.client_id.clone(), key, "client_id")?,
                s.secret("client_secret")?,
                need(s.secret("refresh_token")?, key, "refresh_token")?,
                auth,
            );
            let o = match platform {
                Platform::MicrosoftAds => o.with_scope(MICROSOFT_SCOPE),
                _ => o,
            };
            let client = s.client_id.clone().unwrap_or_default();
            Some(Arc::new(match vault {
                Some(v) => {
                    o.with_vault(Arc::clone(v), format!("{platform}:{client}:refresh_token"))
                }
                None => o,
            }))
        }
    };
    let limits = Limits {
        per_minute: s.rate_limit.per_minute,
        per_hour: s.rate_limit.per_hour,
        concurrency: s.rate_limit.concurrency,
    };
    let name = format!("{platform}:{id}");
    let api = Api {
        limiter: Arc::new(RateLimiter::new(platform.as_str(), limits)),
        name,
        http,
        retry: RetryPolicy::new(s.max_attempts, s.retry_budget),
        oauth,
    };
    Ok(Account::new(
        platform,
        id.to_string(),
        zone,
        api,
        Arc::clone(s),
    ))
}

/// Builds every enabled source; a missing credential names its key. With a vault, refresh
/// tokens the platforms rotate are kept (encrypted) across restarts.
pub fn sources(
    ads: &AdsSettings,
    vault: Option<Arc<dyn TokenVault>>,
) -> anyhow::Result<Vec<AnyAdSource>> {
    let vault = vault.as_ref();
    let mut out = Vec::new();
    if ads.file.enabled {
        out.push(AnyAdSource::File(file::FileAds::new(ads.file.path.clone())));
    }
    let platforms: [(&str, Platform, &AdPlatformSettings); 7] = [
        ("google", Platform::GoogleAds, &ads.google),
        ("meta", Platform::Meta, &ads.meta),
        ("linkedin", Platform::LinkedinAds, &ads.linkedin),
        ("microsoft", Platform::MicrosoftAds, &ads.microsoft),
        ("reddit", Platform::RedditAds, &ads.reddit),
        ("x", Platform::XAds, &ads.x),
        ("tiktok", Platform::TiktokAds, &ads.tiktok),
    ];
    for (key, platform, s) in platforms {
        if !s.enabled {
            continue;
        }
        anyhow::ensure!(
            !s.accounts.is_empty(),
            "ads.{key}.enabled is true but ads.{key}.accounts is empty"
        );
        let s = Arc::new(s.clone());
        for id in &s.accounts {
            let src =
                (|| -> anyhow::Result<AnyAdSource> {
                    Ok(match platform {
                        Platform::GoogleAds => {
                            let a = account(platform, key, &s, id, Some(ClientAuth::Body), vault)?;
                            AnyAdSource::Google(google::GoogleAds::new(
                                a,
                                need(s.secret("developer_token")?, key, "developer_token")?,
                            ))
                        }
                        Platform::Meta => {
                            let a = account(platform, key, &s, id, None, None)?;
                            AnyAdSource::Meta(meta::MetaAds::new(
                                a,
                                need(s.secret("access_token")?, key, "access_token")?,
                            ))
                        }
                        Platform::LinkedinAds => AnyAdSource::LinkedIn(linkedin::LinkedInAds::new(
                            account(platform, key, &s, id, Some(ClientAuth::Body), vault)?,
                        )),
                        Platform::MicrosoftAds => {
                            let a = account(platform, key, &s, id, Some(ClientAuth::Body), vault)?;
                            let customer =
                                need(s.login_customer_id.clone(), key, "login_customer_id")?;
                            AnyAdSource::Microsoft(microsoft::MicrosoftAds::new(
                                a,
                                need(s.secret("developer_token")?, key, "developer_token")?,
                                customer,
                            ))
                        }
                        Platform::RedditAds => AnyAdSource::Reddit(reddit::RedditAds::new(
                            account(platform, key, &s, id, Some(ClientAuth::Basic), vault)?,
                        )),
                        Platform::XAds => {
                            let a = account(platform, key, &s, id, None, None)?;
                            let o = crate::http::oauth1::OAuth1 {
                                consumer_key: need(s.consumer_key.clone(), key, "consumer_key")?,
                                consumer_secret: need(
                                    s.secret("consumer_secret")?,
                                    key,
                                    "consumer_secret",
                                )?,
                                token: need(s.secret("access_token")?, key, "access_token")?,
                                token_secret: need(
                                    s.secret("access_token_secret")?,
                                    key,
                                    "access_token_secret",
                                )?,
                            };
                            AnyAdSource::X(x::XAds::new(a, o))
                        }
                        Platform::TiktokAds => {
                            let a = account(platform, key, &s, id, None, None)?;
                            AnyAdSource::TikTok(tiktok::TikTokAds::new(
                                a,
                                need(s.secret("access_token")?, key, "access_token")?,
                            ))
                        }
                    })
                })()
                .with_context(|| format!("[ads.{key}] account {id}"))?;
            out.push(src);
        }
    }
    Ok(out)
}
