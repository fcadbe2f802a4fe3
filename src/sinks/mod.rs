//! Sinks: where rows go. A sink acknowledges a batch only once it is durable; every row has a
//! deterministic `row_key`, so a re-sent row is recognisable downstream.

pub mod bigquery;
mod config;
pub mod local;

use crate::domain::ids::RunId;
use crate::http::{Classify, ErrorKind};

pub use crate::domain::table::Table;
pub use config::SinkConfig;

/// A row already encoded as one JSON object, with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRow {
    pub row_key: String,
    pub json: String,
    /// Digest of the row's value columns (for the run's checksum).
    pub values: u64,
}

/// Why a sink refused; the variant says whether retrying later can help.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The warehouse is throttling or failing for now: the next run may succeed.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Permissions, schema or the rows must change first.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl SinkError {
    /// The variant for an error of `kind`.
    pub fn of(kind: ErrorKind, e: anyhow::Error) -> Self {
        match kind {
            ErrorKind::Transient => SinkError::Transient(e),
            ErrorKind::Permanent => SinkError::Permanent(e),
        }
    }

    /// The same error, saying what was being done.
    pub fn context(self, doing: &'static str) -> Self {
        match self {
            SinkError::Transient(e) => SinkError::Transient(e.context(doing)),
            SinkError::Permanent(e) => SinkError::Permanent(e.context(doing)),
        }
    }
}

impl Classify for SinkError {
    fn kind(&self) -> ErrorKind {
        match self {
            SinkError::Transient(_) => ErrorKind::Transient,
            SinkError::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

/// The run store a sink's output belongs to: a sink holds one store's runs only, because run
/// ids restart with a new store and would overwrite (or be mistaken for) the old ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkOwner {
    /// The store's identity (`store_identity.id`).
    pub store_id: String,
    /// Where the store is, for people (`run_store.url` without a password).
    pub store_label: String,
    /// The store has cursors or finished runs from before this process.
    pub has_history: bool,
}

/// A destination for rows.
pub trait Sink {
    /// Creates whatever must exist before rows arrive (directories, tables, views) and checks
    /// that the sink belongs to `owner`'s store. Returns notes for the run's quality record.
    fn prepare(
        &self,
        owner: &SinkOwner,
    ) -> impl std::future::Future<Output = Result<Vec<String>, SinkError>> + Send;

    /// Writes one batch; `Ok(n)` says how many rows of it the destination acknowledged.
    fn write(
        &self,
        run: RunId,
        table: Table,
        rows: Vec<EncodedRow>,
    ) -> impl std::future::Future<Output = Result<u64, SinkError>> + Send;

    /// Makes the run's rows final (and, in BigQuery, visible); after `Ok` the run store may
    /// commit.
    fn commit(
        &self,
        run: RunId,
        job: &str,
    ) -> impl std::future::Future<Output = Result<(), SinkError>> + Send;

    /// Forgets what an abandoned or failed run wrote, where the sink can.
    fn discard(
        &self,
        run: RunId,
    ) -> impl std::future::Future<Output = Result<(), SinkError>> + Send;

    /// Rebuilds what is derived from the tables after a round of runs (the local sink's
    /// `campaign_performance.ndjson`); BigQuery's views need nothing.
    fn refresh_derived(&self) -> impl std::future::Future<Output = Result<(), SinkError>> + Send {
        async { Ok(()) }
    }

    /// Whether the sink still holds committed rows of `table` (a local directory may have been
    /// deleted); snapshot sources rewrite what it no longer holds.
    fn holds(&self, _table: Table) -> impl std::future::Future<Output = bool> + Send {
        async { true }
    }
}

/// The configured sink.
#[derive(Debug)]
pub enum AnySink {
    Local(local::LocalSink),
    BigQuery(Box<bigquery::BigQuerySink>),
}

impl Sink for AnySink {
    async fn prepare(&self, owner: &SinkOwner) -> Result<Vec<String>, SinkError> {
        match self {
            AnySink::Local(s) => s.prepare(owner).await,
            AnySink::BigQuery(s) => s.prepare(owner).await,
        }
    }

    async fn write(
        &self,
        run: RunId,
        table: Table,
        rows: Vec<EncodedRow>,
    ) -> Result<u64, SinkError> {
        match self {
            AnySink::Local(s) => s.write(run, table, rows).await,
            AnySink::BigQuery(s) => s.write(run, table, rows).await,
        }
    }

    async fn commit(&self, run: RunId, job: &str) -> Result<(), SinkError> {
        match self {
            AnySink::Local(s) => s.commit(run, job).await,
            AnySink::BigQuery(s) => s.commit(run, job).await,
        }
    }

    async fn discard(&self, run: RunId) -> Result<(), SinkError> {
        match self {
            AnySink::Local(s) => s.discard(run).await,
            AnySink::BigQuery(s) => s.discard(run).await,
        }
    }

    async fn refresh_derived(&self) -> Result<(), SinkError> {
        match self {
            AnySink::Local(s) => s.refresh_derived().await,
            AnySink::BigQuery(s) => s.refresh_derived().await,
        }
    }

    async fn holds(&self, table: Table) -> bool {
        match self {
            AnySink::Local(s) => s.holds(table).await,
            AnySink::BigQuery(s) => s.holds(table).await,
        }
    }
}
