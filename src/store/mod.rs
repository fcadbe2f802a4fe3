//! The run store: run history (`sync_runs`), cursors (`source_cursors`) and per-job leases.
//! SQLite for the embedded default, PostgreSQL in production; same tables and meaning.

mod config;
mod lease;
pub mod postgres;
mod sql;
pub mod sqlite;
mod types;
pub mod vault;

pub use config::{Backend, StoreConfig};
pub use lease::Lease;
pub use types::{Claim, CursorPosition, RunCounts, RunRecord, RunStatus, RunnerMeta, Trigger};

use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;
use crate::http::{Classify, ErrorKind};

/// Why the run store failed; the variant says whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Connection refused, timed out, pool exhausted: try again later.
    #[error("run store unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A query or migration failed in a way retrying will not fix.
    #[error("run store error: {0:#}")]
    Failed(anyhow::Error),
}

impl Classify for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Unavailable(_) => ErrorKind::Transient,
            StoreError::Failed(_) => ErrorKind::Permanent,
        }
    }
}

/// Classifies a sqlx error: connection-level problems are transient.
pub(crate) fn classify(e: sqlx::Error, what: &str) -> StoreError {
    // A connection cut mid-handshake surfaces as a protocol error ("unexpected response from
    // SSLRequest"): that is the network, not the database, so it is worth retrying too.
    let transient = matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
    ) || matches!(&e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57P03"));
    let err = anyhow::Error::new(e).context(what.to_string());
    if transient {
        StoreError::Unavailable(err)
    } else {
        StoreError::Failed(err)
    }
}

/// A final state for a run, written with its cursors in one transaction.
#[derive(Debug, Clone)]
pub struct Finish<'a> {
    pub status: RunStatus,
    pub counts: &'a RunCounts,
    pub error: Option<&'a str>,
    pub window: (Option<Timestamp>, Option<Timestamp>),
    /// Positions to store; empty when the run failed.
    pub cursors: &'a [CursorPosition],
}

/// What the pipeline needs from a run store.
pub trait RunStore: Send + Sync {
    /// Applies pending migrations.
    fn migrate(&self) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;

    /// Takes the job's lease and opens a run, marking runs left `running` as `abandoned`.
    fn claim(
        &self,
        job: &str,
        trigger: Trigger,
        meta: &RunnerMeta,
    ) -> impl std::future::Future<Output = Result<Claim, StoreError>> + Send;

    /// A stored cursor position.
    fn cursor(
        &self,
        source: &str,
        partition: &str,
    ) -> impl std::future::Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Finishes a run and stores its cursors atomically, then releases the lease.
    fn finish(
        &self,
        lease: Lease,
        run: RunId,
        finish: Finish<'_>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;

    /// Marks a still-`running` run `failed` with `error`; false when it was not running.
    fn mark_failed(
        &self,
        run: RunId,
        error: &str,
    ) -> impl std::future::Future<Output = Result<bool, StoreError>> + Send;

    /// The most recent runs, newest first.
    fn recent(
        &self,
        limit: u32,
    ) -> impl std::future::Future<Output = Result<Vec<RunRecord>, StoreError>> + Send;

    /// One run by id.
    fn run(
        &self,
        id: RunId,
    ) -> impl std::future::Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    /// When the last successful run of any job finished.
    fn last_success(
        &self,
    ) -> impl std::future::Future<Output = Result<Option<Timestamp>, StoreError>> + Send;

    /// Deletes finished runs that started before `before`; returns how many.
    fn prune(
        &self,
        before: Timestamp,
    ) -> impl std::future::Future<Output = Result<u64, StoreError>> + Send;

    /// Cheap reachability check.
    fn ping(&self) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;

    /// The store's identity (created at migration), and whether it holds cursors or finished
    /// runs from before (a store that does not is new, and its run ids start again at 1).
    fn identity(
        &self,
    ) -> impl std::future::Future<Output = Result<(String, bool), StoreError>> + Send;

    /// An encrypted secret stored earlier: (nonce, ciphertext), base64.
    fn secret(
        &self,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<(String, String)>, StoreError>> + Send;

    /// Stores (replaces) an encrypted secret.
    fn put_secret(
        &self,
        name: &str,
        nonce: &str,
        ciphertext: &str,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

/// The configured run store.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl AnyStore {
    /// Opens the store the configuration names (PostgreSQL lazily, so a down database is
    /// retried).
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        Ok(match config.backend() {
            Backend::Postgres => AnyStore::Postgres(postgres::PostgresStore::connect_lazy(config)?),
            Backend::Sqlite => AnyStore::Sqlite(sqlite::SqliteStore::connect(config).await?),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

impl RunStore for AnyStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.migrate().await)
    }
    async fn claim(
        &self,
        job: &str,
        trigger: Trigger,
        meta: &RunnerMeta,
    ) -> Result<Claim, StoreError> {
        delegate!(self, s => s.claim(job, trigger, meta).await)
    }
    async fn cursor(&self, source: &str, partition: &str) -> Result<Option<String>, StoreError> {
        delegate!(self, s => s.cursor(source, partition).await)
    }
    async fn finish(&self, lease: Lease, run: RunId, finish: Finish<'_>) -> Result<(), StoreError> {
        delegate!(self, s => s.finish(lease, run, finish).await)
    }
    async fn mark_failed(&self, run: RunId, error: &str) -> Result<bool, StoreError> {
        delegate!(self, s => s.mark_failed(run, error).await)
    }
    async fn recent(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        delegate!(self, s => s.recent(limit).await)
    }
    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        delegate!(self, s => s.run(id).await)
    }
    async fn last_success(&self) -> Result<Option<Timestamp>, StoreError> {
        delegate!(self, s => s.last_success().await)
    }
    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        delegate!(self, s => s.prune(before).await)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.ping().await)
    }
    async fn identity(&self) -> Result<(String, bool), StoreError> {
        delegate!(self, s => s.identity().await)
    }
    async fn secret(&self, name: &str) -> Result<Option<(String, String)>, StoreError> {
        delegate!(self, s => s.secret(name).await)
    }
    async fn put_secret(
        &self,
        name: &str,
        nonce: &str,
        ciphertext: &str,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.put_secret(name, nonce, ciphertext).await)
    }
}
