//! Ad platforms as sources of daily campaign metrics: one job per account, each run re-pulling
//! `[today − restatement_days, today]` in the account's time zone.

mod build;
pub mod call;
pub mod day;
pub mod file;
pub mod google;
pub mod linkedin;
pub mod meta;
pub mod microsoft;
pub mod poll;
pub mod reddit;
pub mod tiktok;
pub mod units;
pub mod x;

use std::sync::Arc;

use crate::config::AdPlatformSettings;
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::platform::Platform;
use crate::domain::time::Date;
pub use build::sources;
use call::Api;
pub use day::CampaignDay;
pub use units::{midnight_in, today_in, window};

/// Why an ad source could not deliver; the variant says whether retrying later can help.
#[derive(Debug, thiserror::Error)]
pub enum AdError {
    /// Throttled, timed out or failing for now: the next run may succeed.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Credentials, configuration or the API's answer must change first.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl AdError {
    pub fn is_transient(&self) -> bool {
        matches!(self, AdError::Transient(_))
    }

    pub(crate) fn permanent(m: impl std::fmt::Display) -> Self {
        AdError::Permanent(anyhow::anyhow!("{m}"))
    }
}

/// Every day there is: what a snapshot source (a file) is asked for.
pub const EVERY_DAY: (Date, Date) = (Date::from_days(i32::MIN / 4), Date::from_days(i32::MAX / 4));

/// A source of campaign-day rows for one account.
pub trait AdSource {
    /// `ads:<platform>:<account>`: the lease and run job.
    fn job(&self) -> String;
    /// The account days one run re-pulls: `[today − restatement_days, today]`, or for a file
    /// everything in it (`None`).
    fn window(&self) -> Option<(Date, Date)>;
    /// Campaign-day rows for `[from, to]` (account days, inclusive).
    fn fetch(
        &self,
        from: Date,
        to: Date,
    ) -> impl std::future::Future<Output = Result<Vec<AdMetricRow>, AdError>> + Send;
}

/// What every platform client starts from.
#[derive(Clone)]
pub struct Account {
    pub platform: Platform,
    pub id: String,
    pub zone: jiff::tz::TimeZone,
    pub api: Api,
    pub settings: Arc<AdPlatformSettings>,
}

impl Account {
    pub fn job(&self) -> String {
        format!("ads:{}:{}", self.platform, self.id)
    }

    /// `[today − restatement_days, today]` in the account's time zone.
    pub fn window(&self) -> Option<(Date, Date)> {
        Some(window(today_in(&self.zone), self.settings.restatement_days))
    }

    /// The API root without a trailing slash.
    pub fn base(&self) -> &str {
        self.settings.base_url.trim_end_matches('/')
    }

    /// `<base>/<api_version>/<path>`.
    pub fn versioned(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.base(), self.settings.api_version)
    }

    /// A domain row from a parsed campaign-day of this account.
    pub fn row(&self, d: CampaignDay, currency: crate::domain::money::Currency) -> AdMetricRow {
        AdMetricRow {
            platform: self.platform,
            account_id: self.id.clone(),
            campaign_id: d.campaign_id,
            campaign_name: d.campaign_name,
            date: d.date,
            currency: d.currency.unwrap_or(currency),
            spend_micros: d.spend_micros,
            impressions: d.impressions,
            clicks: d.clicks,
            platform_conversions: d.conversions,
            platform_conversion_value_micros: d.value_micros,
        }
    }
}

/// The configured ad sources, one per enabled account.
#[derive(Clone)]
pub enum AnyAdSource {
    File(file::FileAds),
    Google(google::GoogleAds),
    Meta(meta::MetaAds),
    LinkedIn(linkedin::LinkedInAds),
    Microsoft(microsoft::MicrosoftAds),
    Reddit(reddit::RedditAds),
    X(x::XAds),
    TikTok(tiktok::TikTokAds),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyAdSource::File($s) => $e,
            AnyAdSource::Google($s) => $e,
            AnyAdSource::Meta($s) => $e,
            AnyAdSource::LinkedIn($s) => $e,
            AnyAdSource::Microsoft($s) => $e,
            AnyAdSource::Reddit($s) => $e,
            AnyAdSource::X($s) => $e,
            AnyAdSource::TikTok($s) => $e,
        }
    };
}

impl AdSource for AnyAdSource {
    fn job(&self) -> String {
        each!(self, s => s.job())
    }
    fn window(&self) -> Option<(Date, Date)> {
        each!(self, s => s.window())
    }
    async fn fetch(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        each!(self, s => s.fetch(from, to).await)
    }
}

/// Implements [`AdSource`] for a client with an `account` field and an inherent `pull`.
macro_rules! account_source {
    ($t:ty) => {
        impl $crate::ads::AdSource for $t {
            fn job(&self) -> String {
                self.account.job()
            }
            fn window(&self) -> Option<($crate::domain::time::Date, $crate::domain::time::Date)> {
                self.account.window()
            }
            async fn fetch(
                &self,
                from: $crate::domain::time::Date,
                to: $crate::domain::time::Date,
            ) -> Result<Vec<$crate::domain::ad_metric::AdMetricRow>, $crate::ads::AdError> {
                self.pull(from, to).await
            }
        }
    };
}
pub(crate) use account_source;
