//! `[ads]` as the ad sources need it: for every enabled platform its accounts (each with its
//! configured zone, if any) and exactly the credentials that platform uses. Only
//! [`AdsConfig::from_settings`] builds one, so building the sources checks nothing again.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::secret::Secret;
use crate::config::{AdPlatformSettings, AdsSettings, Problems};
use crate::domain::platform::Platform;
use crate::http::oauth1::OAuth1;

/// Validated `[ads]` settings.
#[derive(Debug, Clone)]
pub struct AdsConfig {
    /// `ads.file.path`, when the file source is enabled.
    pub(super) file: Option<PathBuf>,
    pub(super) platforms: Vec<PlatformConfig>,
}

/// One enabled platform.
#[derive(Debug, Clone)]
pub(super) struct PlatformConfig {
    /// The section's key: `ads.<key>`.
    pub key: &'static str,
    pub platform: Platform,
    pub settings: Arc<AdPlatformSettings>,
    pub accounts: Vec<AccountConfig>,
    pub credentials: Credentials,
}

/// One account and the zone configured for it (which overrides the platform's).
#[derive(Debug, Clone)]
pub(super) struct AccountConfig {
    pub id: String,
    pub zone: Option<(String, jiff::tz::TimeZone)>,
}

/// An OAuth 2 refresh-token grant.
#[derive(Debug, Clone)]
pub(super) struct OAuthCredentials {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub refresh_token: Secret,
}

/// What each platform authenticates with.
#[derive(Debug, Clone)]
pub(super) enum Credentials {
    Google {
        oauth: OAuthCredentials,
        developer_token: Secret,
    },
    Meta {
        access_token: Secret,
    },
    LinkedIn {
        oauth: OAuthCredentials,
    },
    Microsoft {
        oauth: OAuthCredentials,
        developer_token: Secret,
        customer_id: String,
    },
    Reddit {
        oauth: OAuthCredentials,
    },
    X(OAuth1),
    TikTok {
        access_token: Secret,
    },
}

/// The platforms, by section key.
const PLATFORMS: [(&str, Platform); 7] = [
    ("google", Platform::GoogleAds),
    ("meta", Platform::Meta),
    ("linkedin", Platform::LinkedinAds),
    ("microsoft", Platform::MicrosoftAds),
    ("reddit", Platform::RedditAds),
    ("x", Platform::XAds),
    ("tiktok", Platform::TiktokAds),
];

fn section<'a>(ads: &'a AdsSettings, key: &str) -> &'a AdPlatformSettings {
    match key {
        "google" => &ads.google,
        "meta" => &ads.meta,
        "linkedin" => &ads.linkedin,
        "microsoft" => &ads.microsoft,
        "reddit" => &ads.reddit,
        "x" => &ads.x,
        _ => &ads.tiktok,
    }
}

impl AdsConfig {
    /// Checks `[ads]`: every enabled platform needs accounts, its credentials and known zones;
    /// every problem names its key.
    pub fn from_settings(ads: &AdsSettings) -> Result<Self, Problems> {
        let mut p = Problems::default();
        let mut platforms = Vec::new();
        for (key, platform) in PLATFORMS {
            let s = section(ads, key);
            if s.enabled {
                if let Some(c) = p.take(platform_config(key, platform, s)) {
                    platforms.push(c);
                }
            }
        }
        let file = match &ads.file {
            f if !f.enabled => None,
            f if f.path.as_os_str().is_empty() => {
                p.bad(
                    "ads.file.path",
                    "is empty; name the ad-metrics NDJSON file, or set ads.file.enabled = false",
                );
                None
            }
            f => Some(f.path.clone()),
        };
        if !p.is_empty() {
            return Err(p);
        }
        Ok(Self { file, platforms })
    }
}

/// Reads one credential of `ads.<key>`, recording it as a problem when it is missing.
struct Reader<'a> {
    key: &'static str,
    s: &'a AdPlatformSettings,
    p: Problems,
}

impl Reader<'_> {
    fn missing(&mut self, name: &str) {
        self.p.bad(
            format!("ads.{}.{name}", self.key),
            format!(
                "required when ads.{key}.enabled is true (set ATTRSYNC__ADS__{}__{} or ads.{key}.{name}_file)",
                self.key.to_uppercase(),
                name.to_uppercase(),
                key = self.key,
            ),
        );
    }

    fn text(&mut self, name: &str, v: &Option<String>) -> Option<String> {
        let v = v.clone().filter(|v| !v.is_empty());
        if v.is_none() {
            self.missing(name);
        }
        v
    }

    fn secret(&mut self, name: &str) -> Option<Secret> {
        match self.s.secret(name) {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                self.missing(name);
                None
            }
            Err(e) => {
                self.p.push(e);
                None
            }
        }
    }

    fn oauth(&mut self) -> Option<OAuthCredentials> {
        let client_id = self.text("client_id", &self.s.client_id.clone());
        let refresh_token = self.secret("refresh_token");
        let client_secret = match self.s.secret("client_secret") {
            Ok(v) => v,
            Err(e) => {
                self.p.push(e);
                None
            }
        };
        Some(OAuthCredentials {
            client_id: client_id?,
            client_secret,
            refresh_token: refresh_token?,
        })
    }
}

fn credentials(r: &mut Reader<'_>, platform: Platform) -> Option<Credentials> {
    Some(match platform {
        Platform::GoogleAds => {
            let oauth = r.oauth();
            let developer_token = r.secret("developer_token");
            Credentials::Google {
                oauth: oauth?,
                developer_token: developer_token?,
            }
        }
        Platform::Meta => Credentials::Meta {
            access_token: r.secret("access_token")?,
        },
        Platform::LinkedinAds => Credentials::LinkedIn { oauth: r.oauth()? },
        Platform::MicrosoftAds => {
            let oauth = r.oauth();
            let developer_token = r.secret("developer_token");
            let customer_id = r.text("login_customer_id", &r.s.login_customer_id.clone());
            Credentials::Microsoft {
                oauth: oauth?,
                developer_token: developer_token?,
                customer_id: customer_id?,
            }
        }
        Platform::RedditAds => Credentials::Reddit { oauth: r.oauth()? },
        Platform::XAds => {
            let consumer_key = r.text("consumer_key", &r.s.consumer_key.clone());
            let consumer_secret = r.secret("consumer_secret");
            let token = r.secret("access_token");
            let token_secret = r.secret("access_token_secret");
            Credentials::X(OAuth1 {
                consumer_key: consumer_key?,
                consumer_secret: consumer_secret?,
                token: token?,
                token_secret: token_secret?,
            })
        }
        Platform::TiktokAds => Credentials::TikTok {
            access_token: r.secret("access_token")?,
        },
    })
}

fn platform_config(
    key: &'static str,
    platform: Platform,
    s: &AdPlatformSettings,
) -> Result<PlatformConfig, Problems> {
    let mut r = Reader {
        key,
        s,
        p: Problems::default(),
    };
    if s.accounts.is_empty() {
        r.p.bad(
            format!("ads.{key}.accounts"),
            format!(
                "ads.{key}.enabled is true but no account is listed (ATTRSYNC__ADS__{}__ACCOUNTS=123,456)",
                key.to_uppercase()
            ),
        );
    }
    let credentials = credentials(&mut r, platform);
    let mut accounts = Vec::new();
    for id in &s.accounts {
        let zone = match s.zone_of(id) {
            None => None,
            Some(name) => match jiff::tz::TimeZone::get(name) {
                Ok(tz) => Some((name.to_string(), tz)),
                Err(_) => {
                    r.p.bad(
                        format!("ads.{key}.time_zone"),
                        format!("unknown zone {name} (account {id}); use an IANA name such as America/New_York"),
                    );
                    None
                }
            },
        };
        accounts.push(AccountConfig {
            id: id.clone(),
            zone,
        });
    }
    match credentials {
        Some(credentials) if r.p.is_empty() => Ok(PlatformConfig {
            key,
            platform,
            settings: Arc::new(s.clone()),
            accounts,
            credentials,
        }),
        _ => Err(r.p),
    }
}
