//! PostgreSQL run store (production). A job's lease is a session-level advisory lock held on a
//! dedicated connection for the whole run; PostgreSQL drops it when that connection dies.

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Row;
use time::OffsetDateTime;

use super::types::LeaseInner;
use super::{
    classify, Claim, Finish, Lease, RunCounts, RunRecord, RunStore, RunnerMeta, StoreError, Trigger,
};
use crate::config::RunStoreSettings;
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// `attrsync on <host> (pid <pid>)`, the connection's application_name (≤ 63 bytes), so that
/// a lease holder can be named from `pg_stat_activity`.
fn application_name() -> String {
    let m = RunnerMeta::current();
    let mut name = format!("attrsync on {} (pid {})", m.host, m.pid);
    while name.len() > 63 {
        name.remove(12);
    }
    name
}

/// First key of attrsync's advisory locks (second key: hashtext(job)).
const LOCK_CLASS: i32 = 0x4154_5253; // "ATRS"

/// Run store on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    opts: std::sync::Arc<PgConnectOptions>,
}

fn odt(t: Timestamp) -> OffsetDateTime {
    t.to_offset_datetime()
}

fn from_odt(t: Option<OffsetDateTime>) -> Option<Timestamp> {
    t.map(Timestamp::from_offset_datetime)
}

impl PostgresStore {
    /// Builds the pool; connections are made lazily so start-up survives a database that is down.
    pub fn connect_lazy(settings: &RunStoreSettings) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(&settings.url)
            .context("run_store.url is not a valid postgres URL")
            .map_err(StoreError::Failed)?
            .application_name(&application_name());
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(2))
            .acquire_timeout(settings.connect_timeout)
            .connect_lazy_with(opts.clone());
        Ok(Self {
            pool,
            opts: std::sync::Arc::new(opts),
        })
    }

    /// A pool that timed out says nothing of why: connect once directly for the cause, and name
    /// the server.
    async fn unreachable(&self, e: sqlx::Error, what: &str) -> StoreError {
        if !matches!(e, sqlx::Error::PoolTimedOut) {
            return classify(e, what);
        }
        let target = format!(
            "{}:{}/{}",
            self.opts.get_host(),
            self.opts.get_port(),
            self.opts.get_database().unwrap_or("postgres")
        );
        let cause = match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sqlx::ConnectOptions::connect(self.opts.as_ref()),
        )
        .await
        {
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(_)) => {
                "it answers now; it was busy or slow (raise run_store.connect_timeout)".into()
            }
            Err(_) => "no answer within 5 s".into(),
        };
        StoreError::Unavailable(anyhow::anyhow!(
            "{what}: cannot reach PostgreSQL at {target} (run_store.url): {cause}"
        ))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn holder(&self, job: &str) -> String {
        let row = sqlx::query(
            "SELECT id, host, pid, started_at FROM sync_runs WHERE job = $1 AND status = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(job)
        .fetch_optional(&self.pool)
        .await;
        match row {
            Ok(Some(r)) => format!(
                "run {} on {} (pid {}), started {}",
                r.get::<i64, _>("id"),
                r.get::<String, _>("host"),
                r.get::<i32, _>("pid"),
                Timestamp::from_offset_datetime(r.get("started_at"))
            ),
            // The holder took the lock but has not committed its run row yet: name the
            // session that holds the lock instead.
            _ => {
                let who: Option<(String, Option<OffsetDateTime>)> = sqlx::query_as(
                    "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 \
                     AND l.objid::bigint = (hashtext($2)::bigint & 4294967295) AND l.objsubid = 2 LIMIT 1",
                )
                .bind(LOCK_CLASS as i64)
                .bind(job)
                .fetch_optional(&self.pool)
                .await
                .ok()
                .flatten();
                match who {
                    Some((app, since)) => format!(
                        "{app}, connected since {}",
                        since.map_or("?".to_string(), |t| Timestamp::from_offset_datetime(t)
                            .to_string())
                    ),
                    None => "another runner that has just finished".into(),
                }
            }
        }
    }
}

fn record(r: &PgRow) -> RunRecord {
    RunRecord {
        id: RunId(r.get("id")),
        job: r.get("job"),
        trigger: r.get("trigger"),
        status: r.get("status"),
        started_at: Timestamp::from_offset_datetime(r.get("started_at")),
        finished_at: from_odt(r.get("finished_at")),
        window_start: from_odt(r.get("window_start")),
        window_end: from_odt(r.get("window_end")),
        counts: RunCounts {
            events_read: r.get("events_read"),
            events_skipped: r.get("events_skipped"),
            conversions: r.get("conversions"),
            touchpoints: r.get("touchpoints"),
            credits: r.get("credits"),
            ad_metric_rows: r.get("ad_metric_rows"),
            rows_written: r.get("rows_written"),
            details: r
                .get::<Option<serde_json::Value>, _>("details")
                .unwrap_or_default(),
            quality: r
                .get::<Option<serde_json::Value>, _>("quality")
                .unwrap_or_default(),
        },
        error: r.get("error"),
        host: r.get("host"),
        pid: r.get::<i32, _>("pid") as i64,
        version: r.get("version"),
        abandoned_at: from_odt(r.get("abandoned_at")),
    }
}

impl RunStore for PostgresStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        let what = "applying PostgreSQL run-store migrations";
        match MIGRATOR.run(&self.pool).await {
            Ok(()) => Ok(()),
            Err(sqlx::migrate::MigrateError::Execute(e)) => Err(self.unreachable(e, what).await),
            Err(other) => Err(StoreError::Failed(anyhow::Error::new(other).context(what))),
        }
    }

    async fn claim(
        &self,
        job: &str,
        trigger: Trigger,
        meta: &RunnerMeta,
    ) -> Result<Claim, StoreError> {
        let mut conn = match self.pool.acquire().await {
            Ok(c) => c,
            Err(e) => return Err(self.unreachable(e, "connecting for the lease").await),
        };
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(LOCK_CLASS)
            .bind(job)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| classify(e, "taking the job lease"))?;
        if !got {
            drop(conn);
            return Ok(Claim::Held {
                holder: self.holder(job).await,
            });
        }
        let lease = Lease {
            job: job.to_string(),
            inner: LeaseInner::Postgres(Some(conn)),
        };
        let now = Timestamp::now();
        let note = format!(
            "abandoned: its runner stopped without finishing; detected by {} (pid {}) at {now}",
            meta.host, meta.pid
        );
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| classify(e, "begin claim"))?;
        let abandoned: Vec<i64> = sqlx::query_scalar(
            "UPDATE sync_runs SET status = 'abandoned', abandoned_at = $1, finished_at = $1, error = COALESCE(error, $2) \
             WHERE job = $3 AND status = 'running' RETURNING id",
        )
        .bind(odt(now))
        .bind(&note)
        .bind(job)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| classify(e, "marking abandoned runs"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_runs (job, trigger, status, started_at, host, pid, version) \
             VALUES ($1, $2, 'running', $3, $4, $5, $6) RETURNING id",
        )
        .bind(job)
        .bind(trigger.as_str())
        .bind(odt(now))
        .bind(&meta.host)
        .bind(meta.pid as i32)
        .bind(&meta.version)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| classify(e, "inserting the run row"))?;
        tx.commit().await.map_err(|e| classify(e, "commit claim"))?;
        Ok(Claim::Acquired {
            run: RunId(id),
            lease,
            abandoned: abandoned.into_iter().map(RunId).collect(),
        })
    }

    async fn cursor(&self, source: &str, partition: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT position FROM source_cursors WHERE source = $1 AND partition = $2",
        )
        .bind(source)
        .bind(partition)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| classify(e, "reading a cursor"))
    }

    async fn finish(&self, mut lease: Lease, run: RunId, f: Finish<'_>) -> Result<(), StoreError> {
        // Commit on the lease's own connection: if that session died, its advisory lock is gone
        // (another runner may hold the job now) and the commit must fail with it.
        let LeaseInner::Postgres(slot) = &mut lease.inner else {
            return Err(StoreError::Failed(anyhow::anyhow!(
                "lease of another store kind"
            )));
        };
        let Some(mut conn) = slot.take() else {
            return Err(StoreError::Failed(anyhow::anyhow!(
                "lease connection already released"
            )));
        };
        let result = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(|e| classify(e, "begin finish"))?;
            let c = f.counts;
            sqlx::query(
                "UPDATE sync_runs SET status = $1, finished_at = now(), window_start = $2, window_end = $3, \
                 events_read = $4, events_skipped = $5, conversions = $6, touchpoints = $7, credits = $8, \
                 ad_metric_rows = $9, rows_written = $10, error = $11, details = $12, quality = $13 WHERE id = $14",
            )
            .bind(f.status.as_str())
            .bind(f.window.0.map(odt))
            .bind(f.window.1.map(odt))
            .bind(c.events_read)
            .bind(c.events_skipped)
            .bind(c.conversions)
            .bind(c.touchpoints)
            .bind(c.credits)
            .bind(c.ad_metric_rows)
            .bind(c.rows_written)
            .bind(f.error)
            .bind(&c.details)
            .bind((!c.quality.is_null()).then_some(&c.quality))
            .bind(run.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| classify(e, "updating the run row"))?;
            for (source, partition, position) in f.cursors {
                sqlx::query(
                    "INSERT INTO source_cursors (source, partition, position, updated_at, run_id) VALUES ($1, $2, $3, now(), $4) \
                     ON CONFLICT (source, partition) DO UPDATE SET position = excluded.position, \
                     updated_at = excluded.updated_at, run_id = excluded.run_id",
                )
                .bind(source)
                .bind(partition)
                .bind(position)
                .bind(run.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| classify(e, "storing a cursor"))?;
            }
            tx.commit().await.map_err(|e| classify(e, "commit finish"))
        }
        .await;
        *slot = Some(conn);
        release(lease).await;
        result
    }

    async fn mark_failed(&self, run: RunId, error: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE sync_runs SET status = 'failed', finished_at = now(), error = $1 WHERE id = $2 AND status = 'running'")
            .bind(error)
            .bind(run.0)
            .execute(&self.pool)
            .await
            .map_err(|e| classify(e, "marking a run failed"))?;
        Ok(r.rows_affected() == 1)
    }

    async fn recent(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM sync_runs ORDER BY id DESC LIMIT $1")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| classify(e, "listing runs"))?;
        Ok(rows.iter().map(record).collect())
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM sync_runs WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| classify(e, "reading a run"))?;
        Ok(row.as_ref().map(record))
    }

    async fn last_success(&self) -> Result<Option<Timestamp>, StoreError> {
        let t: Option<OffsetDateTime> =
            sqlx::query_scalar("SELECT MAX(finished_at) FROM sync_runs WHERE status = 'succeeded'")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| classify(e, "reading the last success"))?;
        Ok(from_odt(t))
    }

    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sync_runs WHERE started_at < $1 AND status <> 'running'")
            .bind(odt(before))
            .execute(&self.pool)
            .await
            .map_err(|e| classify(e, "pruning old runs"))?;
        Ok(r.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match sqlx::query("SELECT 1").execute(&self.pool).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.unreachable(e, "ping").await),
        }
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
        sqlx::query_as("SELECT nonce, ciphertext FROM stored_secrets WHERE name = $1")
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
            "INSERT INTO stored_secrets (name, nonce, ciphertext, updated_at) VALUES ($1, $2, $3, now()) \
             ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(nonce)
        .bind(ciphertext)
        .execute(&self.pool)
        .await
        .map_err(|e| classify(e, "storing a secret"))?;
        Ok(())
    }
}

/// Unlocks on the lease's own connection; if that fails the connection is closed, which
/// releases the lock too.
async fn release(mut lease: Lease) {
    if let LeaseInner::Postgres(conn) = &mut lease.inner {
        if let Some(mut c) = conn.take() {
            let ok = sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
                .bind(LOCK_CLASS)
                .bind(&lease.job)
                .execute(&mut *c)
                .await
                .is_ok();
            if !ok {
                let _ = c.detach();
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A lease dropped without `finish` (an error path) must not leave its lock on a pooled
        // connection: detach closes that connection, and PostgreSQL releases the lock.
        if let LeaseInner::Postgres(conn) = &mut self.inner {
            if let Some(c) = conn.take() {
                drop(c.detach());
            }
        }
    }
}
