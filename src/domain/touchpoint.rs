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
    /// The person's index among the run's persons (journeys are grouped by it).
    pub person_ix: u32,
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

// Where each text sits in a touchpoint's [`Texts`].
const SESSION_ID: usize = 0;
const SOURCE: usize = 1;
const MEDIUM: usize = 2;
const CAMPAIGN: usize = 3;
const CAMPAIGN_ID: usize = 4;
const CONTENT: usize = 5;
const TERM: usize = 6;
const REFERRING_DOMAIN: usize = 7;
const LANDING_URL: usize = 8;

/// A touchpoint's texts in one allocation (empty ones read as absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TouchpointTexts(Texts<9>);

impl TouchpointTexts {
    pub fn new(f: TouchpointFields<'_>) -> Self {
        let mut t = [None; 9];
        t[SESSION_ID] = f.session_id;
        t[SOURCE] = Some(f.source);
        t[MEDIUM] = Some(f.medium);
        t[CAMPAIGN] = f.campaign;
        t[CAMPAIGN_ID] = f.campaign_id;
        t[CONTENT] = f.content;
        t[TERM] = f.term;
        t[REFERRING_DOMAIN] = f.referring_domain;
        t[LANDING_URL] = f.landing_url;
        Self(Texts::new(t))
    }
}

impl Touchpoint {
    pub fn session_id(&self) -> Option<&str> {
        self.texts.0.get(SESSION_ID)
    }

    /// utm_source, else the referring domain, else `(direct)`.
    pub fn source(&self) -> &str {
        self.texts.0.get(SOURCE).unwrap_or_default()
    }

    /// utm_medium, else what the signal implies (`cpc`, `organic`, `referral`, `(none)`).
    pub fn medium(&self) -> &str {
        self.texts.0.get(MEDIUM).unwrap_or_default()
    }

    pub fn campaign(&self) -> Option<&str> {
        self.texts.0.get(CAMPAIGN)
    }

    pub fn campaign_id(&self) -> Option<&str> {
        self.texts.0.get(CAMPAIGN_ID)
    }

    pub fn content(&self) -> Option<&str> {
        self.texts.0.get(CONTENT)
    }

    pub fn term(&self) -> Option<&str> {
        self.texts.0.get(TERM)
    }

    pub fn referring_domain(&self) -> Option<&str> {
        self.texts.0.get(REFERRING_DOMAIN)
    }

    pub fn landing_url(&self) -> Option<&str> {
        self.texts.0.get(LANDING_URL)
    }
}
