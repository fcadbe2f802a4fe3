//! What one cycle over the export reads, computed in one place for the export source and the
//! BigQuery engine: the new rows (by the time the export wrote them after the stored horizon,
//! or a backfill day by event time) and the history of the persons who converted in them.

use std::collections::BTreeSet;

use super::BigQueryExportConfig;
use crate::domain::ids::Uuid;
use crate::domain::time::{Timestamp, MICROS_PER_DAY};
use crate::sources::horizon::Horizon;
use crate::sources::{ReadRequest, SourceError};

/// The new rows of a cycle.
#[derive(Debug, Clone)]
pub struct Window {
    /// `[from, to)`: ingestion time (incremental) or event time (a backfill day).
    pub range: (Timestamp, Timestamp),
    /// Rows stamped after this are skipped as `future`.
    pub latest: Timestamp,
    /// What an incremental cycle adds; `None` for a backfill day.
    pub incremental: Option<Incremental>,
}

/// An incremental cycle's bounds and cursor.
#[derive(Debug, Clone)]
pub struct Incremental {
    /// Rows stamped before this are too late to be read (`max_lateness`).
    pub min_ts: Timestamp,
    /// The next horizon; rows written at or after it go into its tail.
    pub next_from: Timestamp,
    /// Rows an earlier run already wrote.
    pub tail: BTreeSet<Uuid>,
}

/// Where the converting persons' earlier rows are read.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// Event time `[from, until)`.
    pub from: Timestamp,
    pub until: Timestamp,
    /// Only rows the export wrote before this (later ones are this cycle's new rows).
    pub ingested_before: Timestamp,
}

impl Window {
    /// The window `req` asks for, from the stored cursor or the backfill day.
    pub fn of(conf: &BigQueryExportConfig, req: &ReadRequest) -> Result<Self, SourceError> {
        let latest = req.latest_allowed();
        if let Some(range) = req.window {
            return Ok(Self {
                range,
                latest,
                incremental: None,
            });
        }
        let stored = match &req.cursor {
            Some(text) => Horizon::parse(text).map_err(SourceError::Permanent)?,
            None => Horizon::default(),
        };
        let to = req.now.add_micros(-(conf.settle.as_micros() as i64));
        let from = stored
            .from
            .unwrap_or_else(|| to.add_micros(-(conf.initial_days as i64) * MICROS_PER_DAY));
        let to = to.max(from);
        let next_from = to.add_micros(-(conf.overlap.as_micros() as i64)).max(from);
        Ok(Self {
            range: (from, to),
            latest,
            incremental: Some(Incremental {
                min_ts: from.add_micros(-(conf.max_lateness.as_micros() as i64)),
                next_from,
                tail: stored.tail,
            }),
        })
    }

    /// The history to read for conversions between `first` and `last`: the lookback (and
    /// training) window before the first; a backfill day's history ends where the day starts,
    /// an incremental cycle's at the last conversion, among rows written before the window.
    /// `None` when there is nothing before.
    pub fn history(
        &self,
        (first, last): (Timestamp, Timestamp),
        req: &ReadRequest,
    ) -> Option<History> {
        let from = first.add_micros(-req.lookback_micros - req.training_micros);
        let (until, ingested_before) = match self.incremental {
            None => (self.range.0, self.latest.add_micros(1)),
            Some(_) => (last.add_micros(1), self.range.0),
        };
        (from < until).then_some(History {
            from,
            until,
            ingested_before,
        })
    }

    /// The cursor to commit after this window (incremental only): `from` moves to
    /// `next_from`, and `tail` holds the rows written at or after it.
    pub fn next_cursor(&self, tail: impl IntoIterator<Item = Uuid>) -> Option<(String, String)> {
        let next = Horizon {
            from: Some(self.incremental.as_ref()?.next_from),
            tail: tail.into_iter().collect(),
        };
        Some((
            next.to_text(),
            format!("export written through {}", self.range.1),
        ))
    }
}
