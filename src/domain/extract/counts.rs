//! What a read counted: events seen, used, and skipped by reason.

use super::SessionStart;
use crate::domain::event::EventRef;

/// Why an event was counted and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The line or row did not parse into an event.
    Malformed,
    /// The same uuid was read before in this run.
    Duplicate,
    /// The event has no distinct_id, so it cannot join a journey.
    NoPersonKey,
    /// A conversion event whose value or currency is unusable.
    BadConversionValue,
    /// The event lies after the window the run covers (a backfill day's end).
    OutsideWindow,
    /// The event is stamped further in the future than `source.max_future` allows.
    Future,
}

impl SkipReason {
    pub const ALL: [SkipReason; 6] = [
        SkipReason::Malformed,
        SkipReason::Duplicate,
        SkipReason::NoPersonKey,
        SkipReason::BadConversionValue,
        SkipReason::OutsideWindow,
        SkipReason::Future,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Malformed => "malformed",
            SkipReason::Duplicate => "duplicate",
            SkipReason::NoPersonKey => "no_person_key",
            SkipReason::BadConversionValue => "bad_conversion_value",
            SkipReason::OutsideWindow => "outside_window",
            SkipReason::Future => "future",
        }
    }
}

/// Counts of what was read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadCounts {
    /// Lines or rows seen, good or bad.
    pub read: u64,
    /// Events folded in (distinct, with a person key, inside the window).
    pub used: u64,
    /// Skipped, by reason (indexed like [`SkipReason::ALL`]).
    pub skipped: [u64; 6],
    /// Click ids that arrived as `"<masked>"`.
    pub masked_click_ids: u64,
    /// Conversion events skipped because they had no distinct_id.
    pub conversions_without_person_key: u64,
    /// Text fields cut to [`crate::domain::event::MAX_TEXT`] bytes.
    pub truncated_fields: u64,
    /// New events that arrived after the runs that covered their time (ingestion-time sources).
    pub late_events: u64,
    /// The largest gap between an event's timestamp and its arrival seen this run, in seconds.
    pub max_lateness_secs: f64,
}

impl ReadCounts {
    pub fn skip(&mut self, reason: SkipReason) {
        self.skipped[reason as usize] += 1;
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped[reason as usize]
    }

    pub(super) fn add(&mut self, o: &ReadCounts) {
        self.read += o.read;
        self.used += o.used;
        self.conversions_without_person_key += o.conversions_without_person_key;
        for (a, b) in self.skipped.iter_mut().zip(o.skipped) {
            *a += b;
        }
        self.masked_click_ids += o.masked_click_ids;
        self.truncated_fields += o.truncated_fields;
        self.late_events += o.late_events;
        self.max_lateness_secs = self.max_lateness_secs.max(o.max_lateness_secs);
    }

    /// Notes one new event's lateness: `late` when it arrived after the runs covering its time.
    pub fn note_arrival(&mut self, lateness_secs: f64, late: bool) {
        if late {
            self.late_events += 1;
        }
        self.max_lateness_secs = self.max_lateness_secs.max(lateness_secs);
    }
}

impl ReadCounts {
    /// A session start from `ev`, its text fields capped (and the cuts counted).
    pub(super) fn start(
        &mut self,
        ev: &EventRef<'_>,
        sid: Option<&str>,
        fresh: bool,
    ) -> SessionStart {
        let pos = (ev.timestamp, ev.uuid);
        let (start, cut) = SessionStart::new(pos, &ev.distinct_id, sid, &ev.props, fresh);
        self.truncated_fields += cut;
        start
    }
}
