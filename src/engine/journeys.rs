//! Journeys: each person's touchpoints in time order, and the window before a conversion.

use rayon::slice::ParallelSliceMut;
use std::ops::Range;

use crate::domain::attribution::Conversion;
use crate::domain::time::Timestamp;
use crate::domain::touchpoint::Touchpoint;

/// Every touchpoint of a run, grouped by person and sorted by (timestamp, uuid).
#[derive(Debug, Default)]
pub struct Journeys {
    touchpoints: Vec<Touchpoint>,
    /// Each person's touchpoints, by person index (empty for a person without any).
    by_person: Vec<Range<usize>>,
}

impl Journeys {
    /// Groups by person index and sorts; duplicate touchpoint uuids (re-read events) are
    /// dropped. Indexes follow the keys' text order ([`crate::engine::identity::Person`]), so
    /// the touchpoints come out in (person key, timestamp, uuid) order.
    pub fn new(mut touchpoints: Vec<Touchpoint>) -> Self {
        touchpoints.par_sort_unstable_by_key(|t| (t.person_ix, t.timestamp, t.uuid));
        touchpoints.dedup_by(|a, b| a.uuid == b.uuid && a.person_ix == b.person_ix);
        let persons = touchpoints.last().map_or(0, |t| t.person_ix as usize + 1);
        let mut by_person = vec![0..0; persons];
        let mut start = 0;
        for run in touchpoints.chunk_by(|a, b| a.person_ix == b.person_ix) {
            by_person[run[0].person_ix as usize] = start..start + run.len();
            start += run.len();
        }
        Self {
            touchpoints,
            by_person,
        }
    }

    pub fn touchpoints(&self) -> &[Touchpoint] {
        &self.touchpoints
    }

    /// The whole journey of the person with index `person_ix`.
    pub fn of(&self, person_ix: u32) -> &[Touchpoint] {
        self.by_person
            .get(person_ix as usize)
            .map_or(&[], |r| &self.touchpoints[r.clone()])
    }

    /// The touches of `conversion`'s person with `converted_at − lookback ≤ t ≤ converted_at`,
    /// the lookback being the conversion's own.
    pub fn window(&self, conversion: &Conversion) -> &[Touchpoint] {
        let all = self.of(conversion.person_ix);
        window_of(all, conversion.timestamp, conversion.lookback_micros)
    }

    /// Persons with at least one touchpoint, by index (so in their keys' order): the index and
    /// the journey.
    pub fn persons(&self) -> impl Iterator<Item = (u32, &[Touchpoint])> {
        self.by_person
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty())
            .map(|(i, r)| (i as u32, &self.touchpoints[r.clone()]))
    }
}

/// The slice of time-ordered `touches` inside `[at − lookback, at]`.
pub fn window_of(touches: &[Touchpoint], at: Timestamp, lookback_micros: i64) -> &[Touchpoint] {
    let from = at.add_micros(-lookback_micros);
    let lo = touches.partition_point(|t| t.timestamp < from);
    let hi = touches.partition_point(|t| t.timestamp <= at);
    &touches[lo..hi.max(lo)]
}
