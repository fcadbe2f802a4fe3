//! SQLite run store (the embedded default). Leases are exclusive locks on files beside the
//! database, which the OS releases when the process dies.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::lease::{LeaseInner, Settle};
use super::StoreConfig;
use super::{classify, Claim, Finish, Lease, RunStore, RunnerMeta, StoreError, Trigger};
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Run store on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Directory and file stem for lease files; `None` for in-memory databases.
    lock_base: Option<PathBuf>,
}

// How this backend stores what `sql.rs` writes: timestamps and JSON as text.
type Db = sqlx::Sqlite;
type Time = String;
type Json = String;
type Pid = i64;

fn to_db(t: Timestamp) -> Time {
    t.to_string()
}

fn from_db(t: Time) -> Option<Timestamp> {
    Timestamp::parse(&t).ok()
}

fn json(v: &serde_json::Value) -> Json {
    v.to_string()
}

fn from_json(j: Json) -> serde_json::Value {
    serde_json::from_str(&j).unwrap_or_default()
}

fn pid(p: u32) -> Pid {
    p.into()
}

super::sql::run_queries!();

impl SqliteStore {
    /// Opens (creating if missing) the database at `settings.url`.
    pub async fn connect(settings: &StoreConfig) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(&settings.url)
            .with_context(|| "run_store.url is not a valid sqlite URL".to_string())
            .map_err(StoreError::Failed)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(settings.connect_timeout);
        let file = opts.get_filename().to_path_buf();
        let lock_base =
            (!file.as_os_str().is_empty() && file.to_str() != Some(":memory:")).then_some(file);
        // Two processes creating the database at once (a daemon starting while someone runs
        // `status`) can meet SQLITE_BUSY while one switches it to WAL; that passes quickly.
        let mut attempt = 0;
        let pool = loop {
            attempt += 1;
            let tried = SqlitePoolOptions::new()
                .max_connections(settings.max_connections.max(1))
                .acquire_timeout(settings.connect_timeout)
                .connect_with(opts.clone())
                .await;
            match tried {
                Ok(p) => break p,
                Err(sqlx::Error::Database(d)) if attempt < 20 && d.message().contains("locked") => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(classify(e, "cannot open the SQLite run store")),
            }
        };
        Ok(Self { pool, lock_base })
    }

    fn lock_path(&self, job: &str) -> Option<PathBuf> {
        let base = self.lock_base.as_ref()?;
        let safe: String = job
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut name = base.file_name()?.to_os_string();
        name.push(format!(".{safe}.lock"));
        Some(base.with_file_name(name))
    }

    async fn holder(&self, job: &str) -> String {
        running_run(&self.pool, job)
            .await
            .unwrap_or_else(|| "another process on this machine".into())
    }
}

impl RunStore for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        // sqlx takes no lock on SQLite: serialise processes that start together (the daemon and
        // a `status`) with an exclusive lock beside the database.
        let lock = match &self.lock_base {
            None => None,
            Some(base) => {
                let mut name = base.file_name().unwrap_or_default().to_os_string();
                name.push(".migrate.lock");
                let path = base.with_file_name(name);
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("cannot open {}", path.display()))
                    .map_err(StoreError::Failed)?;
                let f = tokio::task::spawn_blocking(move || f.lock().map(|_| f))
                    .await
                    .map_err(|e| {
                        StoreError::Failed(anyhow::anyhow!("migration lock task failed: {e}"))
                    })?
                    .context("cannot lock the migration lock file")
                    .map_err(StoreError::Failed)?;
                Some(f)
            }
        };
        let result = MIGRATOR
            .run(&self.pool)
            .await
            .context("applying SQLite run-store migrations")
            .map_err(StoreError::Failed);
        drop(lock);
        result
    }

    async fn claim(
        &self,
        job: &str,
        trigger: Trigger,
        meta: &RunnerMeta,
    ) -> Result<Claim, StoreError> {
        let lock = match self.lock_path(job) {
            None => None,
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("cannot open lease file {}", path.display()))
                    .map_err(StoreError::Failed)?;
                let settle = Settle::start();
                loop {
                    match f.try_lock() {
                        Ok(()) => break Some(f),
                        Err(std::fs::TryLockError::WouldBlock) => {
                            if !settle.again().await {
                                return Ok(Claim::Held {
                                    holder: self.holder(job).await,
                                });
                            }
                        }
                        Err(std::fs::TryLockError::Error(e)) => {
                            return Err(StoreError::Failed(
                                anyhow::Error::new(e).context("cannot lock lease file"),
                            ))
                        }
                    }
                }
            }
        };
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| classify(e, "connecting to open a run"))?;
        let (run, abandoned) = open_run(&mut conn, job, trigger, meta).await?;
        Ok(Claim::Acquired {
            run,
            lease: Lease {
                job: job.to_string(),
                inner: LeaseInner::File { _lock: lock },
            },
            abandoned,
        })
    }

    async fn finish(&self, lease: Lease, run: RunId, f: Finish<'_>) -> Result<(), StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| classify(e, "connecting to finish a run"))?;
        close_run(&mut conn, run, &f).await?;
        // The file lock goes only after the run is written.
        drop(lease);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| classify(e, "ping"))?;
        Ok(())
    }

    super::sql::pool_methods!();
}
