//! PostgreSQL run store (production). A job's lease is a session-level advisory lock held on a
//! dedicated connection for the whole run; PostgreSQL drops it when that connection dies.

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use time::OffsetDateTime;

use super::lease::{LeaseInner, Settle};
use super::StoreConfig;
use super::{classify, Claim, Finish, Lease, RunStore, RunnerMeta, StoreError, Trigger};
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

// How this backend stores what `sql.rs` writes: native timestamps and JSONB.
type Db = sqlx::Postgres;
type Time = OffsetDateTime;
type Json = serde_json::Value;
type Pid = i32;

fn to_db(t: Timestamp) -> Time {
    t.to_offset_datetime()
}

fn from_db(t: Time) -> Option<Timestamp> {
    Some(Timestamp::from_offset_datetime(t))
}

fn json(v: &serde_json::Value) -> Json {
    v.clone()
}

fn from_json(j: Json) -> serde_json::Value {
    j
}

fn pid(p: u32) -> Pid {
    // Linux pids fit in 22 bits.
    p as i32
}

super::sql::run_queries!();

impl PostgresStore {
    /// Builds the pool; connections are made lazily so start-up survives a database that is down.
    pub fn connect_lazy(settings: &StoreConfig) -> Result<Self, StoreError> {
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
        if let Some(run) = running_run(&self.pool, job).await {
            return run;
        }
        // The holder took the lock but has not committed its run row yet: name the session
        // that holds the lock instead.
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
        if !try_lock_settled(&mut conn, job).await? {
            drop(conn);
            return Ok(Claim::Held {
                holder: self.holder(job).await,
            });
        }
        let lease = Lease {
            job: job.to_string(),
            inner: LeaseInner::Postgres(Some(conn)),
        };
        let mut conn = match self.pool.acquire().await {
            Ok(c) => c,
            Err(e) => return Err(self.unreachable(e, "connecting to open a run").await),
        };
        let (run, abandoned) = open_run(&mut conn, job, trigger, meta).await?;
        Ok(Claim::Acquired {
            run,
            lease,
            abandoned,
        })
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
        let result = close_run(&mut conn, run, &f).await;
        *slot = Some(conn);
        release(lease).await;
        result
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match sqlx::query("SELECT 1").execute(&self.pool).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.unreachable(e, "ping").await),
        }
    }

    super::sql::pool_methods!();
}

/// `pg_try_advisory_lock` on the job's key, tried again through a [`Settle`] window: a dropped
/// lease's lock goes only once the server has seen its session end.
async fn try_lock_settled(conn: &mut sqlx::PgConnection, job: &str) -> Result<bool, StoreError> {
    let settle = Settle::start();
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(LOCK_CLASS)
            .bind(job)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| classify(e, "taking the job lease"))?;
        if got || !settle.again().await {
            return Ok(got);
        }
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
