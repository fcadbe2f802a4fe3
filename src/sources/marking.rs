//! How a time-cursored source (PostHog's API, PostHog's BigQuery export) folds the rows it read
//! into an extract: new rows are fresh unless an earlier run wrote them (the cursor's tail),
//! rows ingested inside the next overlap go into the next tail, and arrival delays are noted.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::domain::event::EventRef;
use crate::domain::extract::{Extract, SkipReason};
use crate::domain::ids::Uuid;
use crate::domain::time::Timestamp;
use crate::sources::ParseRules;

/// How a scan's rows become fresh or history, and what it notes for the next cursor.
#[derive(Debug, Clone)]
pub struct Marking {
    /// Rows of this scan are new unless written before (`tail`); history otherwise.
    pub fresh: bool,
    /// Uuids an earlier run already wrote.
    pub tail: Arc<BTreeSet<Uuid>>,
    /// Rows ingested at or after this go into the next cursor's tail.
    pub next_from: Option<Timestamp>,
    /// Events stamped after this are skipped as `future`.
    pub latest: Timestamp,
    /// Arrivals later than this after their timestamp count as late.
    pub late_after_micros: i64,
}

impl Marking {
    /// Rows of a backfill day: all fresh, nothing noted for a cursor.
    pub fn day(latest: Timestamp) -> Self {
        Self {
            fresh: true,
            ..Self::history(latest)
        }
    }

    /// Rows of history (a converting person's earlier touches): never fresh, nothing noted.
    pub fn history(latest: Timestamp) -> Self {
        Self {
            fresh: false,
            tail: Arc::default(),
            next_from: None,
            latest,
            late_after_micros: i64::MAX,
        }
    }
}

/// What a scan read.
#[derive(Debug, Default)]
pub struct Scanned {
    pub ex: Extract,
    /// Uuids of rows ingested at or after `next_from`.
    pub tail: Vec<Uuid>,
}

impl Scanned {
    /// Folds one parsed row, ingested at `ingested_at`, into the extract.
    pub fn take(
        &mut self,
        mark: &Marking,
        ev: &EventRef<'_>,
        ingested_at: Timestamp,
        rules: &ParseRules,
    ) {
        let ex = &mut self.ex;
        if mark.next_from.is_some_and(|f| ingested_at >= f) {
            self.tail.push(ev.uuid);
        }
        if ev.timestamp > mark.latest {
            if mark.tail.contains(&ev.uuid) {
                // Counted by the run that first read it (overlap re-read).
                ex.counts.read -= 1;
            } else {
                ex.counts.skip(SkipReason::Future);
                tracing::warn!(event = %ev.uuid, timestamp = %ev.timestamp, "skipped an event stamped in the future");
            }
            return;
        }
        let fresh = mark.fresh && !mark.tail.contains(&ev.uuid);
        if fresh {
            let lateness = ingested_at.micros() - ev.timestamp.micros();
            ex.counts.note_arrival(
                lateness.max(0) as f64 / 1e6,
                lateness > mark.late_after_micros,
            );
        }
        if let Err(e) = ex.absorb(ev, fresh, &rules.extract) {
            tracing::warn!(event = %ev.uuid, error = %e, "skipped a conversion with a bad value");
        }
    }

    /// Folds another scan's result in.
    pub fn merge(&mut self, other: Scanned) {
        self.ex.merge(other.ex);
        self.tail.extend(other.tail);
    }
}

/// Who converted in the new rows, for the query of their earlier touches.
#[derive(Debug, Default)]
pub struct Converting {
    /// Each converter's id, sorted: PostHog's person id (`true`) where its rows carry one,
    /// else its distinct id (`false`).
    pub persons: Vec<(String, bool)>,
    /// The first and last new conversion.
    pub span: Option<(Timestamp, Timestamp)>,
}

impl Converting {
    /// The persons behind the extract's fresh conversions.
    pub fn of(ex: &Extract) -> Self {
        let mut out = Converting::default();
        for c in ex.conversions.iter().filter(|c| c.fresh) {
            out.persons.push(match ex.person_ids.get(&c.distinct_id) {
                Some(p) => (p.to_string(), true),
                None => (c.distinct_id.to_string(), false),
            });
            out.span = Some(out.span.map_or((c.timestamp, c.timestamp), |(a, b)| {
                (a.min(c.timestamp), b.max(c.timestamp))
            }));
        }
        out.persons.sort();
        out.persons.dedup();
        out
    }

    /// Adds the distinct ids the extract's links join to a converter's distinct id (one hop):
    /// without person ids, the way to reach a converter's anonymous history.
    pub fn add_linked(&mut self, ex: &Extract) {
        let known: std::collections::HashSet<&str> = self
            .persons
            .iter()
            .filter(|p| !p.1)
            .map(|p| p.0.as_str())
            .collect();
        let mut more = Vec::new();
        for (a, b) in &ex.links {
            if known.contains(a.as_ref()) {
                more.push((b.to_string(), false));
            }
            if known.contains(b.as_ref()) {
                more.push((a.to_string(), false));
            }
        }
        self.persons.extend(more);
        self.persons.sort();
        self.persons.dedup();
    }

    /// The person ids (`true`) or the distinct ids (`false`) of a batch of `persons`.
    pub fn ids(batch: &[(String, bool)], person: bool) -> Vec<String> {
        batch
            .iter()
            .filter(|p| p.1 == person)
            .map(|p| p.0.clone())
            .collect()
    }
}
