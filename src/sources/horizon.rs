//! A time cursor: rows at or after `from` are new, unless their uuid is in `tail` (rows at or
//! after `from` that an earlier run already wrote). Re-reading an overlap before the last
//! window end catches stragglers without writing anything twice, and rows sharing a time never
//! depend on how a server orders uuids. PostHog's cursor is one on ingestion time; files used
//! one on event time before they moved to byte offsets (read once, for the upgrade).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::ids::Uuid;
use crate::domain::time::Timestamp;

/// The committed read position of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Horizon {
    pub from: Option<Timestamp>,
    pub tail: BTreeSet<Uuid>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    from: Option<String>,
    #[serde(default)]
    tail: Vec<String>,
}

impl Horizon {
    /// Whether a row at `ts` with `uuid` has not been written by an earlier run.
    pub fn is_new(&self, ts: Timestamp, uuid: Uuid) -> bool {
        self.from.is_none_or(|f| ts >= f) && !self.tail.contains(&uuid)
    }

    /// The horizon after a run that read everything before `end`: new `from` is `end − overlap`
    /// (never earlier than before), and `tail` holds every row at or after it.
    pub fn advance(
        &self,
        end: Timestamp,
        overlap_micros: i64,
        rows: impl Iterator<Item = (Timestamp, Uuid)>,
    ) -> Horizon {
        let mut from = end.add_micros(-overlap_micros.max(0));
        if let Some(f) = self.from {
            from = from.max(f);
        }
        let tail = rows.filter(|(ts, _)| *ts >= from).map(|(_, u)| u).collect();
        Horizon {
            from: Some(from),
            tail,
        }
    }

    /// This horizon, or on a first run (no `from` yet) the start the source chose to read from:
    /// context read before that start is not new.
    pub fn or_start(&self, start: Option<Timestamp>) -> Horizon {
        match self.from {
            Some(_) => self.clone(),
            None => Horizon {
                from: start,
                tail: self.tail.clone(),
            },
        }
    }

    /// The stored text (JSON).
    pub fn to_text(&self) -> String {
        serde_json::to_string(&Stored {
            from: self.from.map(|f| f.to_string()),
            tail: self.tail.iter().map(Uuid::to_string).collect(),
        })
        .expect("horizon serialises")
    }

    /// Parses [`Horizon::to_text`]'s output.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let s: Stored = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("stored cursor is not valid: {e}"))?;
        let from = s.from.as_deref().map(Timestamp::parse).transpose()?;
        let tail = s
            .tail
            .iter()
            .map(|u| Uuid::parse(u))
            .collect::<Result<_, _>>()?;
        Ok(Horizon { from, tail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn rows_in_the_tail_are_not_new_but_later_arrivals_are() {
        let h = Horizon::default().advance(
            ts("2024-01-01T10:00:00Z"),
            600_000_000,
            [
                (ts("2024-01-01T09:55:00Z"), Uuid(1)),
                (ts("2024-01-01T09:40:00Z"), Uuid(2)),
            ]
            .into_iter(),
        );
        assert_eq!(h.from, Some(ts("2024-01-01T09:50:00Z")));
        assert_eq!(h.tail.len(), 1);
        assert!(
            !h.is_new(ts("2024-01-01T09:55:00Z"), Uuid(1)),
            "already written"
        );
        assert!(
            h.is_new(ts("2024-01-01T09:55:00Z"), Uuid(3)),
            "late arrival in the overlap"
        );
        assert!(
            !h.is_new(ts("2024-01-01T09:40:00Z"), Uuid(4)),
            "before the overlap"
        );
        let back = Horizon::parse(&h.to_text()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn never_moves_back() {
        let h = Horizon {
            from: Some(ts("2024-01-02T00:00:00Z")),
            tail: Default::default(),
        };
        let next = h.advance(ts("2024-01-01T00:00:00Z"), 0, std::iter::empty());
        assert_eq!(next.from, h.from);
    }
}
