//! The training set of the data-driven models: every journey of a run as a channel path,
//! ending in conversion (one per conversion, its lookback window) or not (the touches after a
//! person's last conversion, within the lookback window of their last touch).

use super::journeys::{window_of, Journeys};
use super::paths::{PathSet, PathStats};
use crate::domain::attribution::Conversion;
use crate::domain::touchpoint::Touchpoint;

/// Channel ids of `touches`, interning names into `set`.
pub fn channel_ids(set: &mut PathSet, touches: &[Touchpoint]) -> Vec<u32> {
    touches
        .iter()
        .map(|t| set.channels.id(t.channel.as_str()))
        .collect()
}

/// Builds the path set of all journeys. `conversions` must be sorted by time; each converting
/// path is its conversion's window, and the touches after a person's last conversion count
/// within `lookback_micros` of their last touch.
pub fn training_paths(
    journeys: &Journeys,
    conversions: &[Conversion],
    lookback_micros: i64,
) -> PathSet {
    let mut set = PathSet::default();
    // The time of each person's last conversion, by person index.
    let mut last_conversion: Vec<Option<crate::domain::time::Timestamp>> = Vec::new();
    for c in conversions {
        let window = journeys.window(c);
        if !window.is_empty() {
            let ids = channel_ids(&mut set, window);
            let value = c.value.map_or(0.0, |v| v.micros as f64 / 1e6);
            set.add_ids(
                &ids,
                PathStats {
                    conversions: 1.0,
                    nulls: 0.0,
                    value,
                },
            );
        }
        let ix = c.person_ix as usize;
        if last_conversion.len() <= ix {
            last_conversion.resize(ix + 1, None);
        }
        last_conversion[ix] = Some(c.timestamp);
    }
    // Persons come in their keys' order, so paths (and channel ids) are added in the same order
    // on every run.
    for (person, touches) in journeys.persons() {
        let Some(last) = touches.last() else { continue };
        let recent = window_of(touches, last.timestamp, lookback_micros);
        let after: &[Touchpoint] = match last_conversion.get(person as usize).copied().flatten() {
            Some(at) => {
                let from = recent.partition_point(|t| t.timestamp <= at);
                &recent[from..]
            }
            None => recent,
        };
        if !after.is_empty() {
            let ids = channel_ids(&mut set, after);
            set.add_ids(
                &ids,
                PathStats {
                    conversions: 0.0,
                    nulls: 1.0,
                    value: 0.0,
                },
            );
        }
    }
    set
}
