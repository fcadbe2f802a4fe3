//! The BigQuery engine, built piece by piece: attribution as SQL run inside BigQuery over
//! PostHog's export table, each piece generated from the configuration and checked against
//! the in-memory engine on the emulator (`tests/bigquery/pushdown.rs`). Not yet selectable:
//! `engine.kind` arrives once every table is produced row for row.
//!
//! A cycle is a series of query jobs: the run's events are staged in a work table
//! (`stage.rs`), then each step adds the work tables the next one reads. Work tables live in a
//! dataset of their own under a per-run prefix. (One multi-statement script would need fewer
//! jobs, but the emulator binds no query parameters inside scripts.)

pub mod conversions;
pub mod credits;
mod expr;
pub mod identity;
pub mod paths;
pub mod stage;
pub mod touchpoints;

use crate::bigquery::{Connection, Param};

/// Where a run's work tables go: `project.dataset.<prefix><name>`.
#[derive(Debug, Clone)]
pub struct Work {
    project: String,
    dataset: String,
    prefix: String,
}

impl Work {
    pub fn new(project: &str, dataset: &str, prefix: &str) -> Self {
        Self {
            project: project.into(),
            dataset: dataset.into(),
            prefix: prefix.into(),
        }
    }

    /// A work table, backquoted.
    pub fn t(&self, name: &str) -> String {
        format!("`{}.{}.{}{name}`", self.project, self.dataset, self.prefix)
    }
}

/// A failed job: what to do and why (see [`crate::bigquery::classify`]).
pub type JobError = (crate::http::ErrorKind, anyhow::Error);

/// Runs one statement.
pub async fn exec(conn: &Connection, sql: &str, params: &[Param]) -> Result<(), JobError> {
    conn.query(sql, params, Some(0)).await.map(|_| ())
}

/// The first cell of a one-row query, as an integer.
pub async fn count(conn: &Connection, sql: &str) -> Result<i64, JobError> {
    let resp = conn.query(sql, &[], None).await?;
    let cell = resp
        .rows
        .and_then(|r| r.into_iter().next())
        .and_then(|r| r.columns)
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.value);
    cell.as_ref()
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            (
                crate::http::ErrorKind::Permanent,
                anyhow::anyhow!("expected a count from: {sql}"),
            )
        })
}
