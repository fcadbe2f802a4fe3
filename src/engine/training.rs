//! The training set of the data-driven models: every journey of a run as a channel path,
//! ending in conversion (one per conversion, its lookback window) or not (the touches after a
//! person's last conversion, within the lookback window of their last touch).

use crate::domain::collections::FastMap as HashMap;

use super::journeys::{window_of, Journeys};
use super::paths::{PathSet, PathStats};
use crate::domain::attribution::Conversion;
use crate::domain::touchpoint::{PersonKey, Touchpoint};

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
    let mut last_conversion: HashMap<&PersonKey, crate::domain::time::Timestamp> =
        HashMap::default();
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
        last_conversion.insert(&c.person, c.timestamp);
    }
    let mut persons: Vec<(&PersonKey, &[Touchpoint])> = journeys.persons().collect();
    persons.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (person, touches) in persons {
        let Some(last) = touches.last() else { continue };
        let recent = window_of(touches, last.timestamp, lookback_micros);
        let after: &[Touchpoint] = match last_conversion.get(person) {
            Some(&at) => {
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
