//! Ad platforms and the click-id parameters that identify them.

use std::fmt;

/// An advertising platform attrsync knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    GoogleAds,
    Meta,
    LinkedinAds,
    MicrosoftAds,
    RedditAds,
    XAds,
    TiktokAds,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::GoogleAds,
        Platform::Meta,
        Platform::LinkedinAds,
        Platform::MicrosoftAds,
        Platform::RedditAds,
        Platform::XAds,
        Platform::TiktokAds,
    ];

    /// The name used in rows and config (`google_ads`, `meta`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::GoogleAds => "google_ads",
            Platform::Meta => "meta",
            Platform::LinkedinAds => "linkedin_ads",
            Platform::MicrosoftAds => "microsoft_ads",
            Platform::RedditAds => "reddit_ads",
            Platform::XAds => "x_ads",
            Platform::TiktokAds => "tiktok_ads",
        }
    }

    /// The `[ads.<key>]` section of the platform (`google`, `meta`, …).
    pub fn config_key(self) -> &'static str {
        match self {
            Platform::GoogleAds => "google",
            Platform::Meta => "meta",
            Platform::LinkedinAds => "linkedin",
            Platform::MicrosoftAds => "microsoft",
            Platform::RedditAds => "reddit",
            Platform::XAds => "x",
            Platform::TiktokAds => "tiktok",
        }
    }

    /// Parses the row/config name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "'{s}' is not a platform; use one of: {}",
                Self::ALL.map(|p| p.as_str()).join(", ")
            ))
        })
    }
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A click-id URL parameter, in the priority order used when several are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClickIdKind {
    Gclid,
    Gbraid,
    Wbraid,
    Dclid,
    Fbclid,
    Msclkid,
    LiFatId,
    Ttclid,
    Twclid,
    RdtCid,
}

impl ClickIdKind {
    pub const ALL: [ClickIdKind; 10] = [
        ClickIdKind::Gclid,
        ClickIdKind::Gbraid,
        ClickIdKind::Wbraid,
        ClickIdKind::Dclid,
        ClickIdKind::Fbclid,
        ClickIdKind::Msclkid,
        ClickIdKind::LiFatId,
        ClickIdKind::Ttclid,
        ClickIdKind::Twclid,
        ClickIdKind::RdtCid,
    ];

    /// The URL/property name (`gclid`, `li_fat_id`, …).
    pub fn param(self) -> &'static str {
        match self {
            ClickIdKind::Gclid => "gclid",
            ClickIdKind::Gbraid => "gbraid",
            ClickIdKind::Wbraid => "wbraid",
            ClickIdKind::Dclid => "dclid",
            ClickIdKind::Fbclid => "fbclid",
            ClickIdKind::Msclkid => "msclkid",
            ClickIdKind::LiFatId => "li_fat_id",
            ClickIdKind::Ttclid => "ttclid",
            ClickIdKind::Twclid => "twclid",
            ClickIdKind::RdtCid => "rdt_cid",
        }
    }

    /// Index in [`ClickIdKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Looks a property name up.
    pub fn from_param(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.param() == s)
    }

    /// The platform that issues this click id.
    pub fn platform(self) -> Platform {
        match self {
            ClickIdKind::Gclid | ClickIdKind::Gbraid | ClickIdKind::Wbraid | ClickIdKind::Dclid => {
                Platform::GoogleAds
            }
            ClickIdKind::Fbclid => Platform::Meta,
            ClickIdKind::Msclkid => Platform::MicrosoftAds,
            ClickIdKind::LiFatId => Platform::LinkedinAds,
            ClickIdKind::Ttclid => Platform::TiktokAds,
            ClickIdKind::Twclid => Platform::XAds,
            ClickIdKind::RdtCid => Platform::RedditAds,
        }
    }
}
