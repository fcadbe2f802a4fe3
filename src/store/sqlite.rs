//! SQLite run store (the embedded default). Leases are exclusive locks on files beside the
//! database, which the OS releases when the process dies.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::Row;

use super::types::LeaseInner;
use super::{
    classify, Claim, Finish, Lease, RunCounts, RunRecord, RunStore, RunnerMeta, StoreError, Trigger,
};
use crate::config::RunStoreSettings;
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

fn ts(t: Timestamp) -> String {
    t.to_string()
}

fn parse_ts(s: Option<String>) -> Option<Timestamp> {
    s.and_then(|s| Timestamp::parse(&s).ok())
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `settings.url`.
    pub async fn connect(settings: &RunStoreSettings) -> Result<Self, StoreError> {
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
        let row = sqlx::query(
            "SELECT id, host, pid, started_at FROM sync_runs WHERE job = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(job)
        .fetch_optional(&self.pool)
        .await;
        match row {
            Ok(Some(r)) => format!(
                "run {} on {} (pid {}), started {}",
                r.get::<i64, _>("id"),
                r.get::<String, _>("host"),
                r.get::<i64, _>("pid"),
                r.get::<String, _>("started_at")
            ),
            _ => "another process on this machine".into(),
        }
    }
}

fn record(r: &SqliteRow) -> RunRecord {
    let details: Option<String> = r.get("details");
    RunRecord {
        id: RunId(r.get("id")),
        job: r.get("job"),
        trigger: r.get("trigger"),
        status: r.get("status"),
        started_at: parse_ts(r.get("started_at")).unwrap_or_default(),
        finished_at: parse_ts(r.get("finished_at")),
        window_start: parse_ts(r.get("window_start")),
        window_end: parse_ts(r.get("window_end")),
        counts: RunCounts {
            events_read: r.get("events_read"),
            events_skipped: r.get("events_skipped"),
            conversions: r.get("conversions"),
            touchpoints: r.get("touchpoints"),
            credits: r.get("credits"),
            ad_metric_rows: r.get("ad_metric_rows"),
            rows_written: r.get("rows_written"),
            details: details
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or_default(),
            quality: r
                .get::<Option<String>, _>("quality")
                .and_then(|q| serde_json::from_str(&q).ok())
                .unwrap_or_default(),
        },
        error: r.get("error"),
        host: r.get("host"),
        pid: r.get("pid"),
        version: r.get("version"),
        abandoned_at: parse_ts(r.get("abandoned_at")),
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
                match f.try_lock() {
                    Ok(()) => Some(f),
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Ok(Claim::Held {
                            holder: self.holder(job).await,
                        })
                    }
                    Err(std::fs::TryLockError::Error(e)) => {
                        return Err(StoreError::Failed(
                            anyhow::Error::new(e).context("cannot lock lease file"),
                        ))
                    }
                }
            }
        };
        let now = ts(Timestamp::now());
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| classify(e, "begin claim"))?;
        let note = format!(
            "abandoned: its runner stopped without finishing; detected by {} (pid {}) at {now}",
            meta.host, meta.pid
        );
        let abandoned: Vec<i64> = sqlx::query_scalar(
            "UPDATE sync_runs SET status = 'abandoned', abandoned_at = ?1, finished_at = ?1, error = COALESCE(error, ?2) \
             WHERE job = ?3 AND status = 'running' RETURNING id",
        )
        .bind(&now)
        .bind(&note)
        .bind(job)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| classify(e, "marking abandoned runs"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_runs (job, trigger, status, started_at, host, pid, version) \
             VALUES (?, ?, 'running', ?, ?, ?, ?) RETURNING id",
        )
        .bind(job)
        .bind(trigger.as_str())
        .bind(&now)
        .bind(&meta.host)
        .bind(meta.pid as i64)
        .bind(&meta.version)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| classify(e, "inserting the run row"))?;
        tx.commit().await.map_err(|e| classify(e, "commit claim"))?;
        Ok(Claim::Acquired {
            run: RunId(id),
            lease: Lease {
                job: job.to_string(),
                inner: LeaseInner::File { _lock: lock },
            },
            abandoned: abandoned.into_iter().map(RunId).collect(),
        })
    }

    async fn cursor(&self, source: &str, partition: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT position FROM source_cursors WHERE source = ? AND partition = ?")
            .bind(source)
            .bind(partition)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| classify(e, "reading a cursor"))
    }

    async fn finish(&self, lease: Lease, run: RunId, f: Finish<'_>) -> Result<(), StoreError> {
        let now = ts(Timestamp::now());
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| classify(e, "begin finish"))?;
        let c = f.counts;
        sqlx::query(
            "UPDATE sync_runs SET status = ?, finished_at = ?, window_start = ?, window_end = ?, \
             events_read = ?, events_skipped = ?, conversions = ?, touchpoints = ?, credits = ?, \
             ad_metric_rows = ?, rows_written = ?, error = ?, details = ?, quality = ? WHERE id = ?",
        )
        .bind(f.status.as_str())
        .bind(&now)
        .bind(f.window.0.map(ts))
        .bind(f.window.1.map(ts))
        .bind(c.events_read)
        .bind(c.events_skipped)
        .bind(c.conversions)
        .bind(c.touchpoints)
        .bind(c.credits)
        .bind(c.ad_metric_rows)
        .bind(c.rows_written)
        .bind(f.error)
        .bind(c.details.to_string())
        .bind((!c.quality.is_null()).then(|| c.quality.to_string()))
        .bind(run.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, "updating the run row"))?;
        for (source, partition, position) in f.cursors {
            sqlx::query(
                "INSERT INTO source_cursors (source, partition, position, updated_at, run_id) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (source, partition) DO UPDATE SET position = excluded.position, \
                 updated_at = excluded.updated_at, run_id = excluded.run_id",
            )
            .bind(source)
            .bind(partition)
            .bind(position)
            .bind(&now)
            .bind(run.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| classify(e, "storing a cursor"))?;
        }
        tx.commit()
            .await
            .map_err(|e| classify(e, "commit finish"))?;
        drop(lease);
        Ok(())
    }

    async fn mark_failed(&self, run: RunId, error: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE sync_runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status = 'running'")
            .bind(ts(Timestamp::now()))
            .bind(error)
            .bind(run.0)
            .execute(&self.pool)
            .await
            .map_err(|e| classify(e, "marking a run failed"))?;
        Ok(r.rows_affected() == 1)
    }

    async fn recent(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM sync_runs ORDER BY id DESC LIMIT ?")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| classify(e, "listing runs"))?;
        Ok(rows.iter().map(record).collect())
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM sync_runs WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| classify(e, "reading a run"))?;
        Ok(row.as_ref().map(record))
    }

    async fn last_success(&self) -> Result<Option<Timestamp>, StoreError> {
        let s: Option<String> =
            sqlx::query_scalar("SELECT MAX(finished_at) FROM sync_runs WHERE status = 'succeeded'")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| classify(e, "reading the last success"))?;
        Ok(parse_ts(s))
    }

    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sync_runs WHERE started_at < ? AND status <> 'running'")
            .bind(ts(before))
            .execute(&self.pool)
            .await
            .map_err(|e| classify(e, "pruning old runs"))?;
        Ok(r.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| classify(e, "ping"))?;
        Ok(())
    }

    async fn identity(&self) -> Result<(String, bool), StoreError> {
        let id: String = sqlx::query_scalar("SELECT id FROM store_identity LIMIT 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| classify(e, "reading the store identity"))?;
        let history: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM source_cursors) + (SELECT COUNT(*) FROM sync_runs WHERE status <> 'running')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| classify(e, "reading the store history"))?;
        Ok((id, history > 0))
    }

    async fn secret(&self, name: &str) -> Result<Option<(String, String)>, StoreError> {
        sqlx::query_as("SELECT nonce, ciphertext FROM stored_secrets WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| classify(e, "reading a stored secret"))
    }

    async fn put_secret(
        &self,
        name: &str,
        nonce: &str,
        ciphertext: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stored_secrets (name, nonce, ciphertext, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(nonce)
        .bind(ciphertext)
        .bind(ts(Timestamp::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| classify(e, "storing a secret"))?;
        Ok(())
    }
}
