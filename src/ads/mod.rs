//! Ad platforms as sources of daily campaign metrics: one job per account, each run re-pulling
//! `[today − restatement_days, today]` in the account's time zone.

mod account;
mod build;
pub mod call;
mod config;
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

use crate::domain::ad_metric::AdMetricRow;
use crate::domain::time::Date;
use crate::http::{Classify, ErrorKind};
pub use account::{Account, AccountInfo, Resolved};
pub use build::sources;
pub use config::AdsConfig;
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

impl Classify for AdError {
    fn kind(&self) -> ErrorKind {
        match self {
            AdError::Transient(_) => ErrorKind::Transient,
            AdError::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

impl AdError {
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
    /// Reads the account's time zone and currency from the platform, once per process (a file
    /// has none: `None`). Call before [`AdSource::window`] and [`AdSource::fetch`].
    fn resolve(
        &self,
    ) -> impl std::future::Future<Output = Result<Option<Resolved>, AdError>> + Send;
    /// The account days one run re-pulls: `[today − restatement_days, today]` in the account's
    /// zone, or for a file everything in it (`None`).
    fn window(&self) -> Option<(Date, Date)>;
    /// Campaign-day rows for `[from, to]` (account days, inclusive).
    fn fetch(
        &self,
        from: Date,
        to: Date,
    ) -> impl std::future::Future<Output = Result<Vec<AdMetricRow>, AdError>> + Send;
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
    async fn resolve(&self) -> Result<Option<Resolved>, AdError> {
        each!(self, s => s.resolve().await)
    }
    fn window(&self) -> Option<(Date, Date)> {
        each!(self, s => s.window())
    }
    async fn fetch(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        each!(self, s => s.fetch(from, to).await)
    }
}

/// Implements [`AdSource`] for a client with an `account` field and inherent `info` (the
/// platform's account facts) and `pull`.
macro_rules! account_source {
    ($t:ty) => {
        impl $crate::ads::AdSource for $t {
            fn job(&self) -> String {
                self.account.job()
            }
            async fn resolve(&self) -> Result<Option<$crate::ads::Resolved>, $crate::ads::AdError> {
                self.account.resolve(self.info()).await.map(Some)
            }
            fn window(&self) -> Option<($crate::domain::time::Date, $crate::domain::time::Date)> {
                self.account.window()
            }
            async fn fetch(
                &self,
                from: $crate::domain::time::Date,
                to: $crate::domain::time::Date,
            ) -> Result<Vec<$crate::domain::ad_metric::AdMetricRow>, $crate::ads::AdError> {
                // Rows need the account's currency; resolving is once per process.
                self.account.resolve(self.info()).await?;
                self.pull(from, to).await
            }
        }
    };
}
pub(crate) use account_source;
