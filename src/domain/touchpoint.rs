//! Marketing touchpoints: the classified first event of a session.

use std::fmt;
use std::sync::Arc;

use super::event::ClickId;
use super::ids::Uuid;
use super::platform::Platform;
use super::texts::Texts;
use super::time::Timestamp;

/// The channel of a session with no marketing signal.
pub const DIRECT: &str = "direct";
/// The channel when no rule matched.
pub const UNASSIGNED: &str = "unassigned";

/// A channel group name (`paid_search`, `organic_social`, …), cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel(Arc<str>);

impl Channel {
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_direct(&self) -> bool {
        &*self.0 == DIRECT
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The resolved person a journey belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonKey(pub Arc<str>);

impl PersonKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A classified touchpoint. Its texts are packed in one allocation (a run holds millions of
/// touchpoints): read them through the accessors.
#[derive(Debug, Clone)]
pub struct Touchpoint {
    pub uuid: Uuid,
    pub timestamp: Timestamp,
    pub person: PersonKey,
    pub channel: Channel,
    pub platform: Option<Platform>,
    pub click: Option<ClickId>,
    pub texts: TouchpointTexts,
    /// No earlier run wrote it: the run writes it (see [`crate::domain::extract::Extract`]).
    pub fresh: bool,
}

/// The texts of a touchpoint, as [`TouchpointTexts::new`] takes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct TouchpointFields<'a> {
    pub session_id: Option<&'a str>,
    /// utm_source, else the referring domain, else `(direct)`.
    pub source: &'a str,
    /// utm_medium, else what the signal implies (`cpc`, `organic`, `referral`, `(none)`).
    pub medium: &'a str,
    pub campaign: Option<&'a str>,
    pub campaign_id: Option<&'a str>,
    pub content: Option<&'a str>,
    pub term: Option<&'a str>,
    pub referring_domain: Option<&'a str>,
    pub landing_url: Option<&'a str>,
}

/// A touchpoint's texts in one allocation (empty ones read as absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TouchpointTexts(Texts<9>);

impl TouchpointTexts {
    pub fn new(f: TouchpointFields<'_>) -> Self {
        Self(Texts::new([
            f.session_id,
            Some(f.source),
            Some(f.medium),
            f.campaign,
            f.campaign_id,
            f.content,
            f.term,
            f.referring_domain,
            f.landing_url,
        ]))
    }
}

impl Touchpoint {
    pub fn session_id(&self) -> Option<&str> {
        self.texts.0.get(0)
    }

    /// utm_source, else the referring domain, else `(direct)`.
    pub fn source(&self) -> &str {
        self.texts.0.get(1).unwrap_or_default()
    }

    /// utm_medium, else what the signal implies (`cpc`, `organic`, `referral`, `(none)`).
    pub fn medium(&self) -> &str {
        self.texts.0.get(2).unwrap_or_default()
    }

    pub fn campaign(&self) -> Option<&str> {
        self.texts.0.get(3)
    }

    pub fn campaign_id(&self) -> Option<&str> {
        self.texts.0.get(4)
    }

    pub fn content(&self) -> Option<&str> {
        self.texts.0.get(5)
    }

    pub fn term(&self) -> Option<&str> {
        self.texts.0.get(6)
    }

    pub fn referring_domain(&self) -> Option<&str> {
        self.texts.0.get(7)
    }

    pub fn landing_url(&self) -> Option<&str> {
        self.texts.0.get(8)
    }
}
