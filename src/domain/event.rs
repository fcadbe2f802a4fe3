//! A normalised PostHog event, borrowed from the page or line it was parsed from.

use std::borrow::Cow;

use super::ids::Uuid;
use super::platform::ClickIdKind;
use super::time::Timestamp;

/// Marker PostHog puts in place of a click id when `mask_personal_data_properties` is on.
pub const MASKED: &str = "<masked>";

/// The longest text a touchpoint field keeps, in bytes (cut at a character boundary): a 5 MB
/// `utm_campaign` would otherwise be copied into every touchpoint and credit row, past
/// BigQuery's 10 MB row limit. Cuts are counted in the run's quality record.
pub const MAX_TEXT: usize = 2048;

/// `text` cut to [`MAX_TEXT`] bytes, and whether it was cut.
pub fn capped(text: &str) -> (&str, bool) {
    if text.len() <= MAX_TEXT {
        return (text, false);
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// One event as the sources hand it to the pipeline: parsed at the edge, valid by construction.
#[derive(Debug, Clone)]
pub struct EventRef<'a> {
    pub uuid: Uuid,
    pub event: Cow<'a, str>,
    pub timestamp: Timestamp,
    pub distinct_id: Cow<'a, str>,
    pub person_id: Option<Cow<'a, str>>,
    pub props: RawProps<'a>,
}

/// The properties attribution reads; everything else in `properties` is skipped unparsed.
#[derive(Debug, Clone, Default)]
pub struct RawProps<'a> {
    pub session_id: Option<Cow<'a, str>>,
    pub current_url: Option<Cow<'a, str>>,
    pub referrer: Option<Cow<'a, str>>,
    pub referring_domain: Option<Cow<'a, str>>,
    pub utm_source: Option<Cow<'a, str>>,
    pub utm_medium: Option<Cow<'a, str>>,
    pub utm_campaign: Option<Cow<'a, str>>,
    pub utm_content: Option<Cow<'a, str>>,
    pub utm_term: Option<Cow<'a, str>>,
    pub utm_id: Option<Cow<'a, str>>,
    /// The click ids present, by kind: few events carry any, and a slot for each of the ten
    /// kinds made every event 216 bytes larger, copied with it as it is parsed.
    pub clicks: Vec<(ClickIdKind, Cow<'a, str>)>,
    /// `$anon_distinct_id` on `$identify`.
    pub anon_distinct_id: Option<Cow<'a, str>>,
    /// `alias` on `$create_alias` / `$merge_dangerously`.
    pub alias: Option<Cow<'a, str>>,
    /// Properties named by configuration (conversion filters and values, stitching), by slot.
    pub extras: Vec<(u16, Cow<'a, str>)>,
}

impl<'a> RawProps<'a> {
    /// The configured extra property in `slot`.
    pub fn extra(&self, slot: u16) -> Option<&str> {
        self.extras
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, v)| v.as_ref())
    }

    /// The first click id present, by priority; masked ones count (the click happened).
    pub fn click_id(&self) -> Option<(ClickIdKind, &str)> {
        self.clicks
            .iter()
            .min_by_key(|(k, _)| k.index())
            .map(|(k, v)| (*k, v.as_ref()))
    }

    /// Sets the click id of `kind`, or clears it with `None` (as a later key of the same name
    /// does).
    pub fn set_click(&mut self, kind: ClickIdKind, v: Option<Cow<'a, str>>) {
        let at = self.clicks.iter().position(|(k, _)| *k == kind);
        match (at, v) {
            (Some(i), Some(v)) => self.clicks[i].1 = v,
            (Some(i), None) => {
                self.clicks.remove(i);
            }
            (None, Some(v)) => self.clicks.push((kind, v)),
            (None, None) => {}
        }
    }

    /// A referring domain, from `$referring_domain` or else the host of `$referrer`;
    /// `None` for `$direct` or empty.
    pub fn referring_domain(&self) -> Option<Cow<'_, str>> {
        match self.referring_domain.as_deref() {
            Some("$direct") | Some("") => None,
            Some(d) => Some(Cow::Borrowed(d)),
            None => match self.referrer.as_deref() {
                None | Some("$direct") | Some("") => None,
                Some(r) => url_host(r).map(|h| Cow::Owned(h.to_ascii_lowercase())),
            },
        }
    }

    /// Whether the event carries a campaign signal (click id or any UTM tag).
    pub fn has_campaign_signal(&self) -> bool {
        !self.clicks.is_empty()
            || self.utm_source.is_some()
            || self.utm_medium.is_some()
            || self.utm_campaign.is_some()
    }

    /// Makes every borrowed field owned.
    pub fn into_owned(self) -> RawProps<'static> {
        let o = |v: Option<Cow<'a, str>>| v.map(|c| Cow::Owned(c.into_owned()));
        RawProps {
            session_id: o(self.session_id),
            current_url: o(self.current_url),
            referrer: o(self.referrer),
            referring_domain: o(self.referring_domain),
            utm_source: o(self.utm_source),
            utm_medium: o(self.utm_medium),
            utm_campaign: o(self.utm_campaign),
            utm_content: o(self.utm_content),
            utm_term: o(self.utm_term),
            utm_id: o(self.utm_id),
            clicks: self
                .clicks
                .into_iter()
                .map(|(k, v)| (k, Cow::Owned(v.into_owned())))
                .collect(),
            anon_distinct_id: o(self.anon_distinct_id),
            alias: o(self.alias),
            extras: self
                .extras
                .into_iter()
                .map(|(s, v)| (s, Cow::Owned(v.into_owned())))
                .collect(),
        }
    }
}

/// The host part of a URL (`https://www.google.com/search?q=x` → `www.google.com`).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

/// A click id seen on an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClickId {
    pub kind: ClickIdKind,
    /// PostHog replaced the value by `"<masked>"`.
    pub masked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_out_of_urls() {
        assert_eq!(
            url_host("https://www.google.com/search?q=x"),
            Some("www.google.com")
        );
        assert_eq!(
            url_host("http://user@example.org:8080/a"),
            Some("example.org")
        );
        assert_eq!(url_host("t.co/abc"), Some("t.co"));
        assert_eq!(url_host("https:///nothing"), None);
    }

    #[test]
    fn referring_domain_falls_back_to_referrer_and_ignores_direct() {
        let mut p = RawProps {
            referring_domain: Some("$direct".into()),
            ..Default::default()
        };
        assert!(p.referring_domain().is_none());
        p.referring_domain = None;
        p.referrer = Some("https://WWW.Bing.com/search".into());
        assert_eq!(p.referring_domain().as_deref(), Some("www.bing.com"));
    }
}
