//! Marketing touchpoints: the classified first event of a session.

use std::fmt;
use std::sync::Arc;

use super::event::ClickId;
use super::ids::Uuid;
use super::platform::Platform;
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

/// A classified touchpoint.
#[derive(Debug, Clone)]
pub struct Touchpoint {
    pub uuid: Uuid,
    pub timestamp: Timestamp,
    pub person: PersonKey,
    pub session_id: Option<Box<str>>,
    pub channel: Channel,
    pub platform: Option<Platform>,
    /// utm_source, else the referring domain, else `(direct)`.
    pub source: Box<str>,
    /// utm_medium, else what the signal implies (`cpc`, `organic`, `referral`, `(none)`).
    pub medium: Box<str>,
    pub campaign: Option<Box<str>>,
    pub campaign_id: Option<Box<str>>,
    pub content: Option<Box<str>>,
    pub term: Option<Box<str>>,
    pub click: Option<ClickId>,
    pub referring_domain: Option<Box<str>>,
    pub landing_url: Option<Box<str>>,
    /// No earlier run wrote it: the run writes it (see [`crate::domain::extract::Extract`]).
    pub fresh: bool,
}
