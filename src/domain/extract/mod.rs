//! What a source hands the pipeline: the session starts, conversions and identity links of the
//! events it read, reduced as they stream past so that pageviews are never held in memory.

use super::collections::{FastMap as HashMap, FastSet as HashSet};

use super::conversion::{ConversionError, ConversionEvent, ConversionRules};
use super::event::EventRef;
use super::ids::Uuid;
use super::time::Timestamp;

/// Event names PostHog uses to link distinct ids.
pub const IDENTIFY: &str = "$identify";
pub const CREATE_ALIAS: &str = "$create_alias";
pub const MERGE_DANGEROUSLY: &str = "$merge_dangerously";

mod counts;

pub use super::session::{Position, SessionStart, Sessions};
pub use counts::{ReadCounts, SkipReason};

/// The reduced content of a stream of events. Session starts and conversions are `fresh` when
/// the source read them in the run's new range (after the committed cursor, or inside a
/// backfill window): those are the rows the run writes; the rest is history for journeys.
#[derive(Debug, Default)]
pub struct Extract {
    /// Earliest event of each session, by session id.
    pub sessions: Sessions,
    /// Session-less events that carry a marketing signal.
    pub sessionless: Vec<SessionStart>,
    pub conversions: Vec<ConversionEvent>,
    conversion_ids: HashSet<Uuid>,
    /// Every event uuid folded in, to count re-sent events once.
    seen: HashSet<Uuid>,
    /// Distinct-id links from `$identify`, `$create_alias` and `$merge_dangerously`.
    pub links: HashSet<(Box<str>, Box<str>)>,
    /// Distinct ids that were the target of `$identify` (the identified, not anonymous, ids).
    pub identified: HashSet<Box<str>>,
    /// distinct_id → PostHog person_id, where events carried one.
    pub person_ids: HashMap<Box<str>, Box<str>>,
    /// distinct_id → value of the configured stitching property.
    pub stitch_values: HashMap<Box<str>, Box<str>>,
    /// The largest (timestamp, uuid) read.
    pub max_position: Option<Position>,
    /// The earliest and latest timestamps of the fresh events.
    pub fresh_span: Option<(Timestamp, Timestamp)>,
    /// The start of the range the run covers (informational: `sync_runs.window_start`).
    pub read_from: Option<Timestamp>,
    /// The end of the range the run covers (informational: `sync_runs.window_end`).
    pub read_until: Option<Timestamp>,
    /// The source's cursor after this run, committed once the sink acknowledged its rows
    /// (`None`: nothing to commit, e.g. a backfill window).
    pub next_cursor: Option<String>,
    /// `next_cursor` as a person reads it (`byte 1234 of events.ndjson`).
    pub cursor_label: Option<String>,
    /// What the source wants the run to say (a file that changed, a cursor it could not use).
    pub notes: Vec<String>,
    pub counts: ReadCounts,
}

/// What the reducer needs from configuration.
#[derive(Debug, Clone, Default)]
pub struct ExtractRules {
    pub conversions: ConversionRules,
    /// Slot of the person property used to stitch identities (e.g. email), if enabled.
    pub stitch_slot: Option<u16>,
}

impl Extract {
    /// Counts one line or row that will be offered to [`Extract::absorb`] or skipped.
    pub fn count_read(&mut self) {
        self.counts.read += 1;
    }

    /// Folds one event in; `fresh` when it lies in the run's new range. Returns the conversion
    /// error when the event was skipped for it.
    pub fn absorb(
        &mut self,
        ev: &EventRef<'_>,
        fresh: bool,
        rules: &ExtractRules,
    ) -> Result<(), ConversionError> {
        // One probe of the (large) set for the common case, a new event; the rare skips below
        // take the uuid out again, so the set holds what it would with a look-up first.
        if !self.seen.insert(ev.uuid) {
            self.counts.skip(SkipReason::Duplicate);
            return Ok(());
        }
        if ev.distinct_id.is_empty() {
            self.seen.remove(&ev.uuid);
            self.counts.skip(SkipReason::NoPersonKey);
            if rules.conversions.defs.iter().any(|d| d.event == ev.event) {
                self.counts.conversions_without_person_key += 1;
            }
            return Ok(());
        }
        let pos = (ev.timestamp, ev.uuid);
        let conversion = match rules.conversions.matches(ev, fresh) {
            Ok(c) => c,
            Err(e) => {
                self.seen.remove(&ev.uuid);
                self.counts.skip(SkipReason::BadConversionValue);
                return Err(e);
            }
        };
        self.counts.used += 1;
        if let Some(c) = conversion {
            if self.conversion_ids.insert(c.uuid) {
                self.conversions.push(c);
            }
        }
        if self.max_position.is_none_or(|m| pos > m) {
            self.max_position = Some(pos);
        }
        if fresh {
            self.widen_fresh(ev.timestamp, ev.timestamp);
        }
        let props = &ev.props;
        if let Some(p) = &ev.person_id {
            if !p.is_empty() && !self.person_ids.contains_key(ev.distinct_id.as_ref()) {
                self.person_ids
                    .insert(Box::from(ev.distinct_id.as_ref()), Box::from(p.as_ref()));
            }
        }
        if let Some(slot) = rules.stitch_slot {
            if let Some(v) = props.extra(slot).filter(|v| !v.is_empty()) {
                if !self.stitch_values.contains_key(ev.distinct_id.as_ref()) {
                    self.stitch_values
                        .insert(Box::from(ev.distinct_id.as_ref()), Box::from(v));
                }
            }
        }
        match ev.event.as_ref() {
            IDENTIFY => {
                if let Some(anon) = props.anon_distinct_id.as_deref().filter(|a| !a.is_empty()) {
                    self.link(&ev.distinct_id, anon);
                }
                if !self.identified.contains(ev.distinct_id.as_ref()) {
                    self.identified.insert(Box::from(ev.distinct_id.as_ref()));
                }
            }
            CREATE_ALIAS | MERGE_DANGEROUSLY => {
                if let Some(alias) = props.alias.as_deref().filter(|a| !a.is_empty()) {
                    self.link(&ev.distinct_id, alias);
                }
            }
            _ => {}
        }
        if props
            .click_id()
            .is_some_and(|(_, v)| v == super::event::MASKED)
        {
            self.counts.masked_click_ids += 1;
        }
        match props.session_id.as_deref().filter(|s| !s.is_empty()) {
            Some(sid) => {
                if self.sessions.wants(sid, pos) {
                    let start = self.counts.start(ev, Some(sid), fresh);
                    self.sessions.offer(start);
                }
            }
            None => {
                if props.has_campaign_signal() || props.referring_domain().is_some() {
                    let start = self.counts.start(ev, None, fresh);
                    self.sessionless.push(start);
                }
            }
        }
        Ok(())
    }

    fn widen_fresh(&mut self, lo: Timestamp, hi: Timestamp) {
        self.fresh_span = Some(match self.fresh_span {
            None => (lo, hi),
            Some((a, b)) => (a.min(lo), b.max(hi)),
        });
    }

    fn link(&mut self, a: &str, b: &str) {
        if a == b {
            return;
        }
        let key = if a < b { (a, b) } else { (b, a) };
        self.links.insert((Box::from(key.0), Box::from(key.1)));
    }

    /// Sizes the tables for `scale` times what they hold now (a reader that has read part of
    /// its input and knows how much is left), so they need not grow by rehashing.
    pub fn reserve(&mut self, scale: f64) {
        if scale.is_nan() || scale <= 1.0 {
            return;
        }
        let more = |n: usize| (n as f64 * (scale - 1.0)) as usize;
        self.seen.reserve(more(self.seen.len()));
        self.sessions.reserve(more(self.sessions.len()));
    }

    /// Folds another partial extract (from a parallel reader) into this one.
    pub fn merge(&mut self, other: Extract) {
        self.counts.add(&other.counts);
        self.sessions.reserve(other.sessions.len());
        for s in other.sessions {
            self.sessions.offer(s);
        }
        self.sessionless.extend(other.sessionless);
        for c in other.conversions {
            if self.conversion_ids.insert(c.uuid) {
                self.conversions.push(c);
            }
        }
        // An event re-sent into two partial reads was used twice: count it once.
        let (mine, theirs) = if self.seen.len() >= other.seen.len() {
            (&mut self.seen, other.seen)
        } else {
            let mine = std::mem::replace(&mut self.seen, other.seen);
            (&mut self.seen, mine)
        };
        mine.reserve(theirs.len());
        let mut doubled = 0;
        for u in theirs {
            if !mine.insert(u) {
                doubled += 1;
            }
        }
        self.counts.used -= doubled;
        self.counts.skipped[SkipReason::Duplicate as usize] += doubled;
        self.links.extend(other.links);
        self.identified.extend(other.identified);
        for (d, p) in other.person_ids {
            self.person_ids.entry(d).or_insert(p);
        }
        for (d, v) in other.stitch_values {
            self.stitch_values.entry(d).or_insert(v);
        }
        if let Some(m) = other.max_position {
            if self.max_position.is_none_or(|cur| m > cur) {
                self.max_position = Some(m);
            }
        }
        if let Some((lo, hi)) = other.fresh_span {
            self.widen_fresh(lo, hi);
        }
    }

    /// Frees what only the read needed (the uuids seen, for duplicates): attribution does not.
    pub fn end_read(&mut self) {
        self.seen = HashSet::default();
        self.conversion_ids = HashSet::default();
    }

    /// Takes every touchpoint candidate out (session starts, then session-less signals).
    pub fn take_starts(&mut self) -> Vec<SessionStart> {
        let mut all = Vec::with_capacity(self.sessions.len() + self.sessionless.len());
        all.extend(std::mem::take(&mut self.sessions));
        all.append(&mut self.sessionless);
        all
    }

    /// Every touchpoint candidate: session starts then session-less signals.
    pub fn starts(&self) -> impl Iterator<Item = &SessionStart> {
        self.sessions.iter().chain(self.sessionless.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uuid: u128, distinct_id: &str) -> EventRef<'_> {
        EventRef {
            uuid: Uuid(uuid),
            event: "$pageview".into(),
            timestamp: Timestamp::from_micros(1_000),
            distinct_id: distinct_id.into(),
            person_id: None,
            props: Default::default(),
        }
    }

    #[test]
    fn an_event_skipped_for_no_person_key_does_not_make_a_later_copy_a_duplicate() {
        let rules = ExtractRules::default();
        let mut ex = Extract::default();
        ex.absorb(&event(7, ""), true, &rules).unwrap();
        ex.absorb(&event(7, "u1"), true, &rules).unwrap();
        ex.absorb(&event(7, "u1"), true, &rules).unwrap();
        ex.absorb(&event(8, "u1"), true, &rules).unwrap();
        assert_eq!(ex.counts.skipped(SkipReason::NoPersonKey), 1);
        assert_eq!(ex.counts.used, 2);
        assert_eq!(ex.counts.skipped(SkipReason::Duplicate), 1);
    }

    #[test]
    fn a_conversion_skipped_for_its_value_does_not_make_a_corrected_copy_a_duplicate() {
        let rules = ExtractRules {
            conversions: ConversionRules {
                defs: vec![crate::domain::conversion::ConversionDef {
                    name: "purchase".into(),
                    event: "purchase".into(),
                    filters: Vec::new(),
                    value_slot: Some(0),
                    currency_slot: None,
                    default_currency: crate::domain::money::Currency::parse("USD").unwrap(),
                }],
            },
            stitch_slot: None,
        };
        let purchase = |value: &'static str| {
            let mut e = event(9, "u1");
            e.event = "purchase".into();
            e.props.extras.push((0, value.into()));
            e
        };
        let mut ex = Extract::default();
        assert!(ex.absorb(&purchase("twelve"), true, &rules).is_err());
        ex.absorb(&purchase("12.50"), true, &rules).unwrap();
        assert_eq!(ex.counts.skipped(SkipReason::BadConversionValue), 1);
        assert_eq!(ex.counts.skipped(SkipReason::Duplicate), 0);
        assert_eq!(ex.conversions.len(), 1);
    }
}
