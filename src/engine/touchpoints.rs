//! Classify session starts into touchpoints: source, medium, channel, platform, campaign.

use std::borrow::Cow;

use super::channels::{ChannelRules, Facts};
use super::identity::Person;
use crate::domain::event::url_host;
use crate::domain::extract::SessionStart;
use crate::domain::platform::ClickIdKind;
use crate::domain::touchpoint::{Channel, Touchpoint, TouchpointFields, TouchpointTexts};

/// Interns channel names so touchpoints share one allocation per channel.
#[derive(Debug, Default)]
pub struct ChannelNames(Vec<Channel>);

impl ChannelNames {
    pub fn get(&mut self, name: &str) -> Channel {
        if let Some(c) = self.0.iter().find(|c| c.as_str() == name) {
            return c.clone();
        }
        let c = Channel::new(name);
        self.0.push(c.clone());
        c
    }
}

/// The source a click id implies when utm_source is absent (GA4 auto-tagging style).
fn click_source(kind: ClickIdKind) -> &'static str {
    match kind {
        ClickIdKind::Gclid | ClickIdKind::Gbraid | ClickIdKind::Wbraid | ClickIdKind::Dclid => {
            "google"
        }
        ClickIdKind::Fbclid => "facebook",
        ClickIdKind::Msclkid => "bing",
        ClickIdKind::LiFatId => "linkedin",
        ClickIdKind::Ttclid => "tiktok",
        ClickIdKind::Twclid => "twitter",
        ClickIdKind::RdtCid => "reddit",
    }
}

fn strip_www(d: &str) -> &str {
    d.strip_prefix("www.").unwrap_or(d)
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        Cow::Owned(s.trim().to_lowercase())
    } else {
        Cow::Borrowed(s.trim())
    }
}

/// Classifies one session start for `person`.
pub fn classify(
    start: &SessionStart,
    person: Person,
    rules: &ChannelRules,
    names: &mut ChannelNames,
) -> Touchpoint {
    let s = start;
    let landing_host = s
        .current_url()
        .and_then(url_host)
        .map(|h| strip_www(&h.to_ascii_lowercase()).to_string());
    let referring = s
        .referring_domain()
        .map(|d| d.to_ascii_lowercase())
        .filter(|d| {
            let bare = strip_www(d);
            !rules.is_internal(d)
                && !rules.is_internal(bare)
                && landing_host.as_deref() != Some(bare)
        });
    let click = s.click.map(|c| c.kind);
    let utm_source = s.utm_source().map(lower).filter(|v| !v.is_empty());
    let utm_medium = s.utm_medium().map(lower).filter(|v| !v.is_empty());
    let campaign = s.utm_campaign().map(lower).unwrap_or_default();
    let has_utm = utm_source.is_some() || utm_medium.is_some() || !campaign.is_empty();
    let source: Cow<'_, str> = match (&utm_source, click, &referring) {
        (Some(u), _, _) => u.clone(),
        (None, Some(k), _) => Cow::Borrowed(click_source(k)),
        (None, None, Some(d)) => Cow::Owned(strip_www(d).to_string()),
        (None, None, None) => Cow::Borrowed("(direct)"),
    };
    let medium: Cow<'_, str> = match (&utm_medium, click, &referring) {
        (Some(m), _, _) => m.clone(),
        (None, Some(_), _) => Cow::Borrowed("cpc"),
        (None, None, _) if has_utm => Cow::Borrowed("(not set)"),
        (None, None, Some(_)) if rules.in_category("search", &source) => Cow::Borrowed("organic"),
        (None, None, Some(_)) => Cow::Borrowed("referral"),
        (None, None, None) => Cow::Borrowed("(none)"),
    };
    let facts = Facts {
        click,
        source: &source,
        medium: &medium,
        campaign: &campaign,
        external_referrer: referring.is_some(),
        has_utm,
    };
    let channel_name = rules.channel(&facts);
    let platform = rules.platform(channel_name, &facts);
    let texts = TouchpointTexts::new(TouchpointFields {
        session_id: start.session_id(),
        source: &source,
        medium: &medium,
        campaign: s.utm_campaign(),
        campaign_id: s.utm_id(),
        content: s.utm_content(),
        term: s.utm_term(),
        referring_domain: referring.as_deref(),
        landing_url: s.current_url(),
    });
    Touchpoint {
        uuid: start.uuid,
        timestamp: start.timestamp,
        person: person.key,
        person_ix: person.ix,
        channel: names.get(channel_name),
        platform,
        click: s.click,
        fresh: start.fresh,
        texts,
    }
}
