//! The BigQuery engine (`engine.kind = "bigquery"`): attribution as SQL run inside BigQuery
//! over PostHog's export table, each step generated from the configuration by pure code and
//! checked against the in-memory engine on the emulator (`tests/bigquery/pushdown.rs`,
//! `tests/bigquery/engine.rs`).
//!
//! A cycle (`cycle.rs`) is a series of query jobs: the cycle's rows are staged in a work table
//! (`stage.rs`, `converters.rs`), then each step adds the work tables the next one reads, and
//! `publish.rs` inserts the rows into the sink's tables. Work tables live in a dataset of
//! their own under a per-job prefix and are replaced by each cycle. (One multi-statement
//! script would need fewer jobs, but the emulator binds no query parameters inside scripts.)

pub mod config;
pub mod conversions;
pub mod converters;
pub mod credits;
pub mod cycle;
mod expr;
pub mod identity;
pub mod paths;
pub mod publish;
pub mod readback;
pub mod stage;
pub mod touchpoints;

pub use config::PushdownConfig;
pub use cycle::{Engine, EngineCycle, Models};

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

/// Runs one statement and waits until its job is done (a long job answers unfinished first),
/// adding the bytes BigQuery billed for it to the connection's count.
pub async fn exec(conn: &Connection, sql: &str, params: &[Param]) -> Result<(), JobError> {
    let mut pages = conn.pages(sql, params, 1).await?;
    while pages.next().await?.is_some() {}
    let billed = pages.bytes_processed.unwrap_or(0).max(0) as u64;
    conn.bytes
        .fetch_add(billed, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// A result row's cells as text (NULL as `None`).
pub fn texts(r: gcp_bigquery_client::model::table_row::TableRow) -> Vec<Option<String>> {
    r.columns
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.value.and_then(|v| v.as_str().map(String::from)))
        .collect()
}

/// The cells of a one-row query, as text (NULL as `None`).
pub async fn row(
    conn: &Connection,
    sql: &str,
    params: &[Param],
) -> Result<Vec<Option<String>>, JobError> {
    let mut pages = conn.pages(sql, params, 10).await?;
    let mut first = None;
    while let Some(rows) = pages.next().await? {
        if first.is_none() {
            first = rows.into_iter().next();
        }
    }
    Ok(first.map(texts).unwrap_or_default())
}

/// The first cell of a one-row query, as an integer.
pub async fn count(conn: &Connection, sql: &str) -> Result<i64, JobError> {
    row(conn, sql, &[])
        .await?
        .into_iter()
        .next()
        .flatten()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            (
                crate::http::ErrorKind::Permanent,
                anyhow::anyhow!("expected a count from: {sql}"),
            )
        })
}
