//! `[ads.<platform>]`: which ad accounts to pull, with what credentials and limits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::secret::Secret;
use super::{lenient, RateLimitSettings};

/// `[ads]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdsSettings {
    /// Ad metrics from an NDJSON file (the embedded default; `generate` writes one).
    pub file: AdFileSettings,
    pub google: AdPlatformSettings,
    pub meta: AdPlatformSettings,
    pub linkedin: AdPlatformSettings,
    pub microsoft: AdPlatformSettings,
    pub reddit: AdPlatformSettings,
    pub x: AdPlatformSettings,
    pub tiktok: AdPlatformSettings,
}

/// `[ads.file]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdFileSettings {
    pub enabled: bool,
    pub path: PathBuf,
}

/// One platform's section. Which credential keys a platform needs is checked at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdPlatformSettings {
    pub enabled: bool,
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub accounts: Vec<String>,
    /// Days re-pulled every run, because platforms restate recent numbers.
    pub restatement_days: u32,
    /// IANA time zone of the accounts' days, overriding what the platform reports (per-account
    /// overrides in `time_zones`). Unset: the platform's own zone for each account.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub time_zones: BTreeMap<String, String>,
    /// API root; change only for proxies and tests.
    pub base_url: String,
    /// Microsoft's Customer Management API root (account time zone and currency).
    #[serde(default)]
    pub customer_management_url: String,
    /// OAuth token endpoint (refresh-token grant), where the platform uses one.
    #[serde(default)]
    pub token_url: String,
    /// API version (Google `v19`, Meta `v21.0`, LinkedIn `202410`, X `12`, TikTok `v1.3`).
    #[serde(default)]
    pub api_version: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub refresh_token_file: Option<PathBuf>,
    /// Long-lived access token (Meta, TikTok).
    #[serde(default)]
    pub access_token: Option<Secret>,
    #[serde(default)]
    pub access_token_file: Option<PathBuf>,
    /// Google Ads / Microsoft Advertising developer token.
    #[serde(default)]
    pub developer_token: Option<Secret>,
    #[serde(default)]
    pub developer_token_file: Option<PathBuf>,
    /// Google Ads manager account (`login-customer-id`) / Microsoft `CustomerId`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub login_customer_id: Option<String>,
    /// X OAuth 1.0a: consumer key/secret and the user's access token/secret.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub consumer_key: Option<String>,
    #[serde(default)]
    pub consumer_secret: Option<Secret>,
    #[serde(default)]
    pub consumer_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub access_token_secret: Option<Secret>,
    #[serde(default)]
    pub access_token_secret_file: Option<PathBuf>,
    /// Meta `actions` types, in order of preference: the first present in a row is its platform
    /// conversions (never a sum: one purchase is listed under several types).
    #[serde(default)]
    pub conversion_actions: Vec<String>,
    /// Longest a platform report may take (Meta, Microsoft, X async jobs).
    #[serde(with = "humantime_serde")]
    pub report_deadline: Duration,
    /// First wait between polls of an async report; doubles up to 30 s.
    #[serde(with = "humantime_serde", default = "default_poll_interval")]
    pub poll_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub max_attempts: u32,
    pub retry_budget: u32,
    pub rate_limit: RateLimitSettings,
}

impl AdPlatformSettings {
    /// A secret inline or from its `_file` key.
    pub fn secret(&self, name: &str) -> Result<Option<Secret>, super::ConfigError> {
        let (inline, file) = match name {
            "client_secret" => (&self.client_secret, &self.client_secret_file),
            "refresh_token" => (&self.refresh_token, &self.refresh_token_file),
            "access_token" => (&self.access_token, &self.access_token_file),
            "developer_token" => (&self.developer_token, &self.developer_token_file),
            "consumer_secret" => (&self.consumer_secret, &self.consumer_secret_file),
            "access_token_secret" => (&self.access_token_secret, &self.access_token_secret_file),
            other => unreachable!("no secret {other}"),
        };
        super::secret::resolve(inline, file, name)
    }

    /// The configured time zone of `account`, if any.
    pub fn zone_of(&self, account: &str) -> Option<&str> {
        self.time_zones
            .get(account)
            .or(self.time_zone.as_ref())
            .map(String::as_str)
            .filter(|z| !z.trim().is_empty())
    }
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(2)
}
