//! Journeys: each person's touchpoints in time order, and the window before a conversion.

use crate::domain::collections::FastMap as HashMap;
use rayon::slice::ParallelSliceMut;
use std::ops::Range;

use crate::domain::attribution::Conversion;
use crate::domain::time::Timestamp;
use crate::domain::touchpoint::{PersonKey, Touchpoint};

/// Every touchpoint of a run, grouped by person and sorted by (timestamp, uuid).
#[derive(Debug, Default)]
pub struct Journeys {
    touchpoints: Vec<Touchpoint>,
    by_person: HashMap<PersonKey, Range<usize>>,
}

impl Journeys {
    /// Groups and sorts; duplicate touchpoint uuids (re-read events) are dropped.
    pub fn new(mut touchpoints: Vec<Touchpoint>) -> Self {
        touchpoints.par_sort_unstable_by(|a, b| {
            (&a.person, a.timestamp, a.uuid).cmp(&(&b.person, b.timestamp, b.uuid))
        });
        touchpoints.dedup_by(|a, b| a.uuid == b.uuid && a.person == b.person);
        let mut by_person = HashMap::default();
        let mut start = 0;
        for i in 1..=touchpoints.len() {
            if i == touchpoints.len() || touchpoints[i].person != touchpoints[start].person {
                by_person.insert(touchpoints[start].person.clone(), start..i);
                start = i;
            }
        }
        Self {
            touchpoints,
            by_person,
        }
    }

    pub fn touchpoints(&self) -> &[Touchpoint] {
        &self.touchpoints
    }

    /// A person's whole journey.
    pub fn of(&self, person: &PersonKey) -> &[Touchpoint] {
        self.by_person
            .get(person)
            .map_or(&[], |r| &self.touchpoints[r.clone()])
    }

    /// The touches of `conversion`'s person with `converted_at − lookback ≤ t ≤ converted_at`,
    /// the lookback being the conversion's own.
    pub fn window(&self, conversion: &Conversion) -> &[Touchpoint] {
        let all = self.of(&conversion.person);
        window_of(all, conversion.timestamp, conversion.lookback_micros)
    }

    /// Persons with at least one touchpoint.
    pub fn persons(&self) -> impl Iterator<Item = (&PersonKey, &[Touchpoint])> {
        self.by_person
            .iter()
            .map(|(p, r)| (p, &self.touchpoints[r.clone()]))
    }
}

/// The slice of time-ordered `touches` inside `[at − lookback, at]`.
pub fn window_of(touches: &[Touchpoint], at: Timestamp, lookback_micros: i64) -> &[Touchpoint] {
    let from = at.add_micros(-lookback_micros);
    let lo = touches.partition_point(|t| t.timestamp < from);
    let hi = touches.partition_point(|t| t.timestamp <= at);
    &touches[lo..hi.max(lo)]
}
