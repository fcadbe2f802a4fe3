//! The run store's queries, written once for both backends.
//!
//! Placeholders are `$n`, which PostgreSQL and SQLite both read as parameter n. What differs
//! between the backends is how a timestamp, a JSON document and a pid are stored; each backend
//! module names those before invoking the macros here:
//!
//! ```text
//! type Db;                                  // sqlx::Sqlite or sqlx::Postgres
//! type Time;  fn to_db(Timestamp) -> Time;  fn from_db(Time) -> Option<Timestamp>;
//! type Json;  fn json(&Value) -> Json;      fn from_json(Json) -> Value;
//! type Pid;   fn pid(u32) -> Pid;
//! ```
//!
//! Locking (file locks, advisory locks) stays in each backend's own file.

/// Free functions over one backend's connections: opening and closing a run, decoding a row.
macro_rules! run_queries {
    () => {
        use $crate::store::sql::text;

        /// Marks runs `job` left `running` as abandoned and opens a new run, in one transaction.
        async fn open_run(
            conn: &mut <Db as sqlx::Database>::Connection,
            job: &str,
            trigger: $crate::store::Trigger,
            meta: &$crate::store::RunnerMeta,
        ) -> Result<($crate::domain::ids::RunId, Vec<$crate::domain::ids::RunId>), $crate::store::StoreError> {
            use $crate::store::classify;
            let now = $crate::domain::time::Timestamp::now();
            let note = format!(
                "abandoned: its runner stopped without finishing; detected by {} (pid {}) at {now}",
                meta.host, meta.pid
            );
            let mut tx = sqlx::Connection::begin(conn)
                .await
                .map_err(|e| classify(e, "begin claim"))?;
            let abandoned: Vec<i64> = sqlx::query_scalar(text::ABANDON)
                .bind(to_db(now))
                .bind(&note)
                .bind(job)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| classify(e, "marking abandoned runs"))?;
            let id: i64 = sqlx::query_scalar(text::OPEN)
                .bind(job)
                .bind(trigger.as_str())
                .bind(to_db(now))
                .bind(&meta.host)
                .bind(pid(meta.pid))
                .bind(&meta.version)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| classify(e, "inserting the run row"))?;
            tx.commit().await.map_err(|e| classify(e, "commit claim"))?;
            Ok((
                $crate::domain::ids::RunId(id),
                abandoned.into_iter().map($crate::domain::ids::RunId).collect(),
            ))
        }

        /// Writes a run's final state and its cursors in one transaction.
        async fn close_run(
            conn: &mut <Db as sqlx::Database>::Connection,
            run: $crate::domain::ids::RunId,
            f: &$crate::store::Finish<'_>,
        ) -> Result<(), $crate::store::StoreError> {
            use $crate::store::classify;
            let now = to_db($crate::domain::time::Timestamp::now());
            let mut tx = sqlx::Connection::begin(conn)
                .await
                .map_err(|e| classify(e, "begin finish"))?;
            let c = f.counts;
            sqlx::query(text::CLOSE)
                .bind(f.status.as_str())
                .bind(&now)
                .bind(f.window.0.map(to_db))
                .bind(f.window.1.map(to_db))
                .bind(c.events_read)
                .bind(c.events_skipped)
                .bind(c.conversions)
                .bind(c.touchpoints)
                .bind(c.credits)
                .bind(c.ad_metric_rows)
                .bind(c.rows_written)
                .bind(f.error)
                .bind(json(&c.details))
                .bind((!c.quality.is_null()).then(|| json(&c.quality)))
                .bind(run.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| classify(e, "updating the run row"))?;
            for cur in f.cursors {
                sqlx::query(text::PUT_CURSOR)
                    .bind(&cur.source)
                    .bind(&cur.partition)
                    .bind(&cur.position)
                    .bind(&now)
                    .bind(run.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| classify(e, "storing a cursor"))?;
            }
            tx.commit().await.map_err(|e| classify(e, "commit finish"))
        }

        /// The running run of `job`, named for someone who finds its lease held.
        async fn running_run(pool: &sqlx::Pool<Db>, job: &str) -> Option<String> {
            use sqlx::Row;
            let r = sqlx::query(text::RUNNING)
                .bind(job)
                .fetch_optional(pool)
                .await
                .ok()??;
            Some(format!(
                "run {} on {} (pid {}), started {}",
                r.get::<i64, _>("id"),
                r.get::<String, _>("host"),
                r.get::<Pid, _>("pid"),
                from_db(r.get("started_at")).map_or("?".into(), |t| t.to_string())
            ))
        }

        /// A `sync_runs` row; a status or trigger this version does not know is an error.
        fn record(
            r: &<Db as sqlx::Database>::Row,
        ) -> Result<$crate::store::RunRecord, $crate::store::StoreError> {
            use sqlx::Row;
            use $crate::store::{RunStatus, StoreError, Trigger};
            let id: i64 = r.get("id");
            let status: String = r.get("status");
            let trigger: String = r.get("trigger");
            let unknown = |what: &str, v: &str| {
                StoreError::Failed(anyhow::anyhow!(
                    "run {id} has {what} {v:?}, which this version does not know"
                ))
            };
            let time = |c: &str| r.get::<Option<Time>, _>(c).and_then(from_db);
            Ok($crate::store::RunRecord {
                id: $crate::domain::ids::RunId(id),
                job: r.get("job"),
                trigger: Trigger::parse(&trigger).ok_or_else(|| unknown("trigger", &trigger))?,
                status: RunStatus::parse(&status).ok_or_else(|| unknown("status", &status))?,
                started_at: time("started_at").unwrap_or_default(),
                finished_at: time("finished_at"),
                window_start: time("window_start"),
                window_end: time("window_end"),
                counts: $crate::store::RunCounts {
                    events_read: r.get("events_read"),
                    events_skipped: r.get("events_skipped"),
                    conversions: r.get("conversions"),
                    touchpoints: r.get("touchpoints"),
                    credits: r.get("credits"),
                    ad_metric_rows: r.get("ad_metric_rows"),
                    rows_written: r.get("rows_written"),
                    details: r.get::<Option<Json>, _>("details").map(from_json).unwrap_or_default(),
                    quality: r.get::<Option<Json>, _>("quality").map(from_json).unwrap_or_default(),
                },
                error: r.get("error"),
                host: r.get("host"),
                pid: i64::from(r.get::<Pid, _>("pid")),
                version: r.get("version"),
                abandoned_at: time("abandoned_at"),
            })
        }
    };
}

/// The [`RunStore`](super::RunStore) methods that need no lock, for a store with a `pool`.
macro_rules! pool_methods {
    () => {
        async fn cursor(
            &self,
            source: &str,
            partition: &str,
        ) -> Result<Option<String>, $crate::store::StoreError> {
            sqlx::query_scalar(text::CURSOR)
                .bind(source)
                .bind(partition)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "reading a cursor"))
        }

        async fn mark_failed(
            &self,
            run: $crate::domain::ids::RunId,
            error: &str,
        ) -> Result<bool, $crate::store::StoreError> {
            let r = sqlx::query(text::MARK_FAILED)
                .bind(to_db($crate::domain::time::Timestamp::now()))
                .bind(error)
                .bind(run.0)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "marking a run failed"))?;
            Ok(r.rows_affected() == 1)
        }

        async fn recent(
            &self,
            limit: u32,
        ) -> Result<Vec<$crate::store::RunRecord>, $crate::store::StoreError> {
            let rows = sqlx::query(text::RECENT)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "listing runs"))?;
            rows.iter().map(record).collect()
        }

        async fn run(
            &self,
            id: $crate::domain::ids::RunId,
        ) -> Result<Option<$crate::store::RunRecord>, $crate::store::StoreError> {
            let row = sqlx::query(text::RUN)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "reading a run"))?;
            row.as_ref().map(record).transpose()
        }

        async fn last_success(
            &self,
        ) -> Result<Option<$crate::domain::time::Timestamp>, $crate::store::StoreError> {
            let t: Option<Time> = sqlx::query_scalar(text::LAST_SUCCESS)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "reading the last success"))?;
            Ok(t.and_then(from_db))
        }

        async fn prune(
            &self,
            before: $crate::domain::time::Timestamp,
        ) -> Result<u64, $crate::store::StoreError> {
            let r = sqlx::query(text::PRUNE)
                .bind(to_db(before))
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "pruning old runs"))?;
            Ok(r.rows_affected())
        }

        async fn identity(&self) -> Result<(String, bool), $crate::store::StoreError> {
            let id: String = sqlx::query_scalar(text::IDENTITY)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "reading the store identity"))?;
            let history: i64 = sqlx::query_scalar(text::HISTORY)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "reading the store history"))?;
            Ok((id, history > 0))
        }

        async fn secret(
            &self,
            name: &str,
        ) -> Result<Option<(String, String)>, $crate::store::StoreError> {
            sqlx::query_as(text::SECRET)
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "reading a stored secret"))
        }

        async fn put_secret(
            &self,
            name: &str,
            nonce: &str,
            ciphertext: &str,
        ) -> Result<(), $crate::store::StoreError> {
            sqlx::query(text::PUT_SECRET)
                .bind(name)
                .bind(nonce)
                .bind(ciphertext)
                .bind(to_db($crate::domain::time::Timestamp::now()))
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::store::classify(e, "storing a secret"))?;
            Ok(())
        }
    };
}

pub(crate) use pool_methods;
pub(crate) use run_queries;

/// The statements themselves.
pub(crate) mod text {
    pub const ABANDON: &str = "UPDATE sync_runs SET status = 'abandoned', abandoned_at = $1, \
         finished_at = $1, error = COALESCE(error, $2) WHERE job = $3 AND status = 'running' RETURNING id";
    pub const OPEN: &str =
        "INSERT INTO sync_runs (job, trigger, status, started_at, host, pid, version) \
         VALUES ($1, $2, 'running', $3, $4, $5, $6) RETURNING id";
    pub const CLOSE: &str = "UPDATE sync_runs SET status = $1, finished_at = $2, window_start = $3, \
         window_end = $4, events_read = $5, events_skipped = $6, conversions = $7, touchpoints = $8, \
         credits = $9, ad_metric_rows = $10, rows_written = $11, error = $12, details = $13, \
         quality = $14 WHERE id = $15";
    pub const PUT_CURSOR: &str =
        "INSERT INTO source_cursors (source, partition, position, updated_at, run_id) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, partition) DO UPDATE SET \
         position = excluded.position, updated_at = excluded.updated_at, run_id = excluded.run_id";
    pub const RUNNING: &str = "SELECT id, host, pid, started_at FROM sync_runs \
         WHERE job = $1 AND status = 'running' ORDER BY id DESC LIMIT 1";
    pub const CURSOR: &str =
        "SELECT position FROM source_cursors WHERE source = $1 AND partition = $2";
    pub const MARK_FAILED: &str = "UPDATE sync_runs SET status = 'failed', finished_at = $1, \
         error = $2 WHERE id = $3 AND status = 'running'";
    pub const RECENT: &str = "SELECT * FROM sync_runs ORDER BY id DESC LIMIT $1";
    pub const RUN: &str = "SELECT * FROM sync_runs WHERE id = $1";
    pub const LAST_SUCCESS: &str =
        "SELECT MAX(finished_at) FROM sync_runs WHERE status = 'succeeded'";
    pub const PRUNE: &str = "DELETE FROM sync_runs WHERE started_at < $1 AND status <> 'running'";
    pub const IDENTITY: &str = "SELECT id FROM store_identity LIMIT 1";
    /// Cursors or finished runs: a store without them is new.
    pub const HISTORY: &str = "SELECT (SELECT COUNT(*) FROM source_cursors) + \
         (SELECT COUNT(*) FROM sync_runs WHERE status <> 'running')";
    pub const SECRET: &str = "SELECT nonce, ciphertext FROM stored_secrets WHERE name = $1";
    pub const PUT_SECRET: &str =
        "INSERT INTO stored_secrets (name, nonce, ciphertext, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, \
         ciphertext = excluded.ciphertext, updated_at = excluded.updated_at";
}
