//! One ad account: its connection, and its time zone and currency as the platform reports them
//! (read once per process, with the configured `time_zone` as an override).

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::call::Api;
use super::{today_in, window, AdError, CampaignDay};
use crate::config::AdPlatformSettings;
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::money::Currency;
use crate::domain::platform::Platform;
use crate::domain::time::Date;

/// What a platform says about one of its accounts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountInfo {
    /// The IANA zone the platform counts the account's days in.
    pub time_zone: Option<String>,
    pub currency: Option<Currency>,
}

/// The account as runs use it: the zone its days are counted in and its currency.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub zone: jiff::tz::TimeZone,
    pub zone_name: String,
    pub currency: Option<Currency>,
    /// Where configuration and platform disagree (a warning in each run's quality record).
    pub notes: Vec<String>,
}

/// What every platform client starts from.
#[derive(Clone)]
pub struct Account {
    pub platform: Platform,
    pub id: String,
    /// `ads.<platform>.time_zone` / `time_zones`, when set: overrides the platform's zone.
    pub configured_zone: Option<(String, jiff::tz::TimeZone)>,
    pub api: Api,
    pub settings: Arc<AdPlatformSettings>,
    resolved: Arc<OnceCell<Resolved>>,
}

/// Settles the zone and currency from the platform's `info` and the configured override.
pub fn settle(
    platform: Platform,
    account: &str,
    configured: Option<&(String, jiff::tz::TimeZone)>,
    info: AccountInfo,
) -> Result<Resolved, AdError> {
    let key = platform.config_key();
    let reported = match info.time_zone.as_deref().filter(|z| !z.is_empty()) {
        None => None,
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(z) => Some((name.to_string(), z)),
            Err(_) if configured.is_some() => None,
            Err(_) => {
                return Err(AdError::permanent(format!(
                    "{platform}:{account}: the platform reports time zone {name:?}, which attrsync does not know; set ads.{key}.time_zone to its IANA name"
                )))
            }
        },
    };
    let mut notes = Vec::new();
    let (zone_name, zone) = match (configured, reported) {
        (Some(c), Some(r)) => {
            if c.0 != r.0 && c.1 != r.1 {
                notes.push(format!(
                    "{platform}:{account}: ads.{key}.time_zone is {}, but the platform reports the account in {}; days follow the configured zone",
                    c.0, r.0
                ));
            }
            c.clone()
        }
        (Some(c), None) => c.clone(),
        (None, Some(r)) => r,
        (None, None) => ("UTC".to_string(), jiff::tz::TimeZone::UTC),
    };
    Ok(Resolved {
        zone,
        zone_name,
        currency: info.currency,
        notes,
    })
}

impl Account {
    pub fn new(
        platform: Platform,
        id: String,
        configured_zone: Option<(String, jiff::tz::TimeZone)>,
        api: Api,
        settings: Arc<AdPlatformSettings>,
    ) -> Self {
        Self {
            platform,
            id,
            configured_zone,
            api,
            settings,
            resolved: Arc::default(),
        }
    }

    pub fn job(&self) -> String {
        format!("ads:{}:{}", self.platform, self.id)
    }

    /// Resolves the account once (the first successful `info` is kept for the process).
    pub async fn resolve(
        &self,
        info: impl std::future::Future<Output = Result<AccountInfo, AdError>>,
    ) -> Result<Resolved, AdError> {
        self.resolved
            .get_or_try_init(|| async {
                let info = info.await?;
                tracing::info!(account = %self.job(), zone = ?info.time_zone, currency = ?info.currency.map(|c| c.as_str().to_string()), "account facts from the platform");
                settle(self.platform, &self.id, self.configured_zone.as_ref(), info)
            })
            .await
            .cloned()
    }

    /// The zone the account's days are counted in (the configured one until resolved).
    pub fn zone(&self) -> jiff::tz::TimeZone {
        match (self.resolved.get(), &self.configured_zone) {
            (Some(r), _) => r.zone.clone(),
            (None, Some(c)) => c.1.clone(),
            (None, None) => jiff::tz::TimeZone::UTC,
        }
    }

    /// The zone's IANA name.
    pub fn zone_name(&self) -> String {
        match (self.resolved.get(), &self.configured_zone) {
            (Some(r), _) => r.zone_name.clone(),
            (None, Some(c)) => c.0.clone(),
            (None, None) => "UTC".into(),
        }
    }

    /// The currency the platform reported for the account, once resolved.
    pub fn currency(&self) -> Option<Currency> {
        self.resolved.get().and_then(|r| r.currency)
    }

    /// `[today − restatement_days, today]` in the account's time zone.
    pub fn window(&self) -> Option<(Date, Date)> {
        Some(window(
            today_in(&self.zone()),
            self.settings.restatement_days,
        ))
    }

    /// The API root without a trailing slash.
    pub fn base(&self) -> &str {
        self.settings.base_url.trim_end_matches('/')
    }

    /// `<base>/<api_version>/<path>`.
    pub fn versioned(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.base(), self.settings.api_version)
    }

    /// A domain row from a parsed campaign-day of this account: the row's own currency, else
    /// the account's.
    pub fn row(&self, d: CampaignDay) -> Result<AdMetricRow, AdError> {
        let currency = d.currency.or(self.currency()).ok_or_else(|| {
            AdError::permanent(format!(
                "{}: campaign {} on {} has no currency and the platform reported none for the account",
                self.api.name, d.campaign_id, d.date
            ))
        })?;
        Ok(AdMetricRow {
            platform: self.platform,
            account_id: self.id.clone(),
            campaign_id: d.campaign_id,
            campaign_name: d.campaign_name,
            date: d.date,
            currency,
            spend_micros: d.spend_micros,
            impressions: d.impressions,
            clicks: d.clicks,
            platform_conversions: d.conversions,
            platform_conversion_value_micros: d.value_micros,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(n: &str) -> (String, jiff::tz::TimeZone) {
        (n.to_string(), jiff::tz::TimeZone::get(n).unwrap())
    }

    #[test]
    fn the_platforms_zone_unless_configured_and_a_note_when_they_differ() {
        let info = AccountInfo {
            time_zone: Some("America/Los_Angeles".into()),
            currency: Some(Currency::parse("USD").unwrap()),
        };
        let r = settle(Platform::Meta, "1", None, info.clone()).unwrap();
        assert_eq!(r.zone_name, "America/Los_Angeles");
        assert!(r.notes.is_empty());
        let same = settle(
            Platform::Meta,
            "1",
            Some(&zone("America/Los_Angeles")),
            info.clone(),
        );
        assert!(same.unwrap().notes.is_empty());
        let r = settle(
            Platform::Meta,
            "1",
            Some(&zone("Europe/Paris")),
            info.clone(),
        )
        .unwrap();
        assert_eq!(r.zone_name, "Europe/Paris");
        assert!(
            r.notes[0].contains("ads.meta.time_zone is Europe/Paris"),
            "{:?}",
            r.notes
        );
        let none = settle(Platform::Meta, "1", None, AccountInfo::default()).unwrap();
        assert_eq!(none.zone_name, "UTC");
        let odd = AccountInfo {
            time_zone: Some("Mars/Olympus".into()),
            currency: None,
        };
        let e = settle(Platform::Meta, "1", None, odd.clone()).unwrap_err();
        assert!(format!("{e}").contains("ads.meta.time_zone"), "{e}");
        assert!(settle(Platform::Meta, "1", Some(&zone("UTC")), odd).is_ok());
    }
}
