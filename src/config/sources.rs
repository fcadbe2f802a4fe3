//! `[source]`, `[posthog]` and `[bigquery_export]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::lenient;
use super::secret::Secret;

/// Where events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    File,
    Posthog,
    BigqueryExport,
}

lenient::named_enum!(SourceKind { File => "file", Posthog => "posthog", BigqueryExport => "bigquery_export" });

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    pub kind: SourceKind,
    /// NDJSON export file (plain or `.gz`) for `kind = "file"`.
    pub path: PathBuf,
    /// Events stamped later than now plus this are skipped as `future` (clock skew, bad data).
    #[serde(with = "humantime_serde")]
    pub max_future: Duration,
}

/// `[posthog]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostHogSettings {
    /// `https://us.posthog.com`, `https://eu.posthog.com` or a self-hosted URL.
    pub host: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project_id: Option<String>,
    /// Personal API key with the `query:read` scope.
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    pub page_size: u32,
    /// Re-read this much ingestion time before the cursor, for rows ClickHouse showed late.
    #[serde(with = "humantime_serde")]
    pub overlap: Duration,
    /// Read only events PostHog ingested at least this long ago (lets ingestion settle).
    #[serde(with = "humantime_serde")]
    pub settle: Duration,
    /// How long after its timestamp an event may still arrive and be read: bounds the
    /// timestamp of the incremental query, so ClickHouse prunes by its sort key.
    #[serde(with = "humantime_serde")]
    pub max_lateness: Duration,
    /// Per-request timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per request (first try included) before the run fails.
    pub max_attempts: u32,
    /// Retries the whole run may spend across requests.
    pub retry_budget: u32,
    /// Persons per journey query.
    pub persons_per_query: u32,
    /// How far back the very first run reads.
    pub initial_days: u32,
    /// Events that can start a session (touchpoint candidates besides those with a signal).
    pub touch_events: Vec<String>,
    pub rate_limit: RateLimitSettings,
}

/// A documented API quota, as a default to configure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub per_minute: u32,
    pub per_hour: u32,
    pub concurrency: u32,
}

/// `[bigquery_export]`: the table PostHog's BigQuery batch export writes. Jobs run with the
/// `[bigquery]` connection (project, location, credentials, endpoint).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigQueryExportSettings {
    /// `project.dataset.table`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub table: Option<String>,
    /// Rows per result page.
    pub page_size: u32,
    /// Re-read this much ingestion time before the cursor: must exceed how long one export
    /// batch takes to land (its `bq_ingested_timestamp` is taken before the load finishes).
    #[serde(with = "humantime_serde")]
    pub overlap: Duration,
    /// Read only rows the export wrote at least this long ago.
    #[serde(with = "humantime_serde")]
    pub settle: Duration,
    /// How long after its timestamp an event may still arrive and be read: bounds the
    /// timestamp of the incremental query, so BigQuery prunes partitions.
    #[serde(with = "humantime_serde")]
    pub max_lateness: Duration,
    /// Persons per journey query.
    pub persons_per_query: u32,
    /// How far back the very first run reads.
    pub initial_days: u32,
    /// Events that can start a session (touchpoint candidates besides those with a signal).
    pub touch_events: Vec<String>,
}
