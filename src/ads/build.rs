//! Builds the configured ad sources from a checked [`AdsConfig`].

use std::sync::Arc;

use super::call::Api;
use super::config::{AccountConfig, AdsConfig, Credentials, OAuthCredentials, PlatformConfig};
use super::{file, google, linkedin, meta, microsoft, reddit, tiktok, x, Account, AnyAdSource};
use crate::domain::platform::Platform;
use crate::http::oauth::{ClientAuth, OAuth, TokenVault};
use crate::http::{build_client, Limits, RateLimiter, RetryPolicy};

/// What Microsoft Advertising tokens must be scoped to.
const MICROSOFT_SCOPE: &str = "https://ads.microsoft.com/msads.manage offline_access";

/// The connection of one account; `oauth` when the platform refreshes access tokens.
fn account(
    p: &PlatformConfig,
    a: &AccountConfig,
    oauth: Option<(&OAuthCredentials, ClientAuth)>,
    vault: Option<&Arc<dyn TokenVault>>,
) -> anyhow::Result<Account> {
    let s = &p.settings;
    let http = build_client(s.timeout)?;
    let platform = p.platform;
    let oauth = oauth.map(|(c, auth)| {
        let o = OAuth::new(
            http.clone(),
            &s.token_url,
            &c.client_id,
            c.client_secret.clone(),
            c.refresh_token.clone(),
            auth,
        );
        let o = match platform {
            Platform::MicrosoftAds => o.with_scope(MICROSOFT_SCOPE),
            _ => o,
        };
        Arc::new(match vault {
            Some(v) => o.with_vault(
                Arc::clone(v),
                format!("{platform}:{}:refresh_token", c.client_id),
            ),
            None => o,
        })
    });
    let limits = Limits {
        per_minute: s.rate_limit.per_minute,
        per_hour: s.rate_limit.per_hour,
        concurrency: s.rate_limit.concurrency,
    };
    let api = Api {
        limiter: Arc::new(RateLimiter::new(platform.as_str(), limits)),
        name: format!("{platform}:{}", a.id),
        http,
        retry: RetryPolicy::new(s.max_attempts, s.retry_budget),
        oauth,
    };
    Ok(Account::new(
        platform,
        a.id.clone(),
        a.zone.clone(),
        api,
        Arc::clone(s),
    ))
}

/// One account's source.
fn source(
    p: &PlatformConfig,
    a: &AccountConfig,
    vault: Option<&Arc<dyn TokenVault>>,
) -> anyhow::Result<AnyAdSource> {
    let body = ClientAuth::Body;
    Ok(match &p.credentials {
        Credentials::Google {
            oauth,
            developer_token,
        } => AnyAdSource::Google(google::GoogleAds::new(
            account(p, a, Some((oauth, body)), vault)?,
            developer_token.clone(),
        )),
        Credentials::Meta { access_token } => AnyAdSource::Meta(meta::MetaAds::new(
            account(p, a, None, None)?,
            access_token.clone(),
        )),
        Credentials::LinkedIn { oauth } => AnyAdSource::LinkedIn(linkedin::LinkedInAds::new(
            account(p, a, Some((oauth, body)), vault)?,
        )),
        Credentials::Microsoft {
            oauth,
            developer_token,
            customer_id,
        } => AnyAdSource::Microsoft(microsoft::MicrosoftAds::new(
            account(p, a, Some((oauth, body)), vault)?,
            developer_token.clone(),
            customer_id.clone(),
        )),
        Credentials::Reddit { oauth } => AnyAdSource::Reddit(reddit::RedditAds::new(account(
            p,
            a,
            Some((oauth, ClientAuth::Basic)),
            vault,
        )?)),
        Credentials::X(o) => AnyAdSource::X(x::XAds::new(account(p, a, None, None)?, o.clone())),
        Credentials::TikTok { access_token } => AnyAdSource::TikTok(tiktok::TikTokAds::new(
            account(p, a, None, None)?,
            access_token.clone(),
        )),
    })
}

/// Builds every enabled source, one per account. With a vault, refresh tokens the platforms
/// rotate are kept (encrypted) across restarts.
pub fn sources(
    config: &AdsConfig,
    vault: Option<Arc<dyn TokenVault>>,
) -> anyhow::Result<Vec<AnyAdSource>> {
    let vault = vault.as_ref();
    let mut out = Vec::new();
    if let Some(path) = &config.file {
        out.push(AnyAdSource::File(file::FileAds::new(path.clone())));
    }
    for p in &config.platforms {
        for a in &p.accounts {
            let src = source(p, a, vault)
                .map_err(|e| e.context(format!("[ads.{}] account {}", p.key, a.id)))?;
            out.push(src);
        }
    }
    Ok(out)
}
