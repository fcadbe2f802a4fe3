//! One cycle of the BigQuery engine, reading exactly what the export source would hand the
//! in-memory engine (the same window, freshness and history rules, `sources::bigquery_export::
//! window`): the new rows are staged, the converting persons' earlier rows added as history,
//! then identities, touchpoints, conversions, the data-driven fit and the credits are made as
//! work tables and published into the sink's tables. attrsync holds the distinct paths (for
//! the data-driven fit) and the next cursor's tail, never the events.

use std::sync::atomic::Ordering;
use std::time::Instant;

use gcp_bigquery_client::model::dataset::Dataset;
use tokio::sync::OnceCell;

use super::{converters, credits, exec, identity, paths, publish, readback, stage, touchpoints};
use super::{JobError, PushdownConfig, Work};
use crate::bigquery::{classify, Connection, Param};
use crate::domain::ids::{RunId, Uuid};
use crate::domain::time::Timestamp;
use crate::engine::channels::ChannelSpec;
use crate::engine::models::shapley::PathTransform;
use crate::engine::models::RuleModel;
use crate::http::{Classify, ErrorKind};
use crate::sources::bigquery_export::{ExportSchema, Window};
use crate::sources::columns::wanted_events;
use crate::sources::{ParseRules, ReadRequest};

/// The BigQuery engine: its settings and its connection (opened on first use).
#[derive(Debug)]
pub struct Engine {
    conf: PushdownConfig,
    channels: ChannelSpec,
    conn: OnceCell<Connection>,
    /// Set once the work dataset is known to exist (checked once per process).
    prepared: OnceCell<()>,
}

/// What a cycle credits with: the attribution plan's models and windows.
#[derive(Debug, Clone, Copy)]
pub struct Models<'a> {
    pub rules: &'a [RuleModel],
    /// Markov's order, when enabled.
    pub markov: Option<usize>,
    /// Shapley's path transform, when enabled.
    pub shapley: Option<PathTransform>,
    /// `attribution.lookback_days` (non-converting journeys).
    pub lookback_micros: i64,
    /// Each conversion definition's lookback.
    pub conversion_lookback: &'a [i64],
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct EngineCycle {
    /// Rows staged, persons, and the rows this cycle wrote.
    pub counts: readback::Counts,
    /// Distinct training paths of the data-driven models.
    pub distinct_paths: usize,
    /// Query jobs the cycle ran.
    pub jobs: u64,
    /// Bytes BigQuery billed for its statements.
    pub bytes_billed: u64,
    /// What the cycle covered.
    pub window: (Timestamp, Timestamp),
    /// The cursor to commit and its label (incremental cycles).
    pub cursor: Option<(String, String)>,
}

fn permanent(e: anyhow::Error) -> JobError {
    (ErrorKind::Permanent, e)
}

/// Keeps a job's failure kind and says which step failed.
fn step<T>(r: Result<T, JobError>, what: &'static str) -> Result<T, JobError> {
    r.map_err(|(k, e)| (k, e.context(what)))
}

impl Engine {
    pub fn new(conf: PushdownConfig, channels: ChannelSpec) -> Self {
        Self {
            conf,
            channels,
            conn: OnceCell::new(),
            prepared: OnceCell::new(),
        }
    }

    async fn connection(&self) -> Result<&Connection, JobError> {
        self.conn
            .get_or_try_init(|| Connection::open(self.conf.export.connection()))
            .await
            .map_err(|e| (ErrorKind::Permanent, e.context("connecting to BigQuery")))
    }

    /// The work tables of this deployment's export: `<work_dataset>.<dataset>_<table>_<name>`
    /// (two export tables never share work tables).
    fn work(&self, conn: &Connection) -> Work {
        let t = self.conf.export.table();
        let prefix: String = format!("{}_{}", t.dataset, t.table)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Work::new(
            &conn.project,
            &self.conf.work_dataset,
            &format!("{prefix}_"),
        )
    }

    /// Makes sure the work dataset exists (creating it in the connection's location); says
    /// what it found.
    pub async fn prepare(&self) -> Result<String, JobError> {
        let conn = self.connection().await?;
        let ds = &self.conf.work_dataset;
        match conn.client.dataset().get(&conn.project, ds).await {
            Ok(_) => Ok(format!("work dataset {}.{ds} is in place", conn.project)),
            Err(gcp_bigquery_client::error::BQError::ResponseError { error })
                if error.error.code == 404 =>
            {
                tracing::info!(dataset = %ds, "creating the BigQuery engine's work dataset");
                let d = Dataset::new(&conn.project, ds).location(&conn.location);
                conn.client.dataset().create(d).await.map_err(|e| {
                    let (k, e) = classify(e, "creating the work dataset");
                    (k, e.context("the engine needs BigQuery Data Editor on its project to create engine.work_dataset"))
                })?;
                Ok(format!("work dataset {}.{ds} created", conn.project))
            }
            Err(e) => Err(classify(e, &format!("reading dataset {ds}"))),
        }
    }

    async fn schema(&self, conn: &Connection) -> Result<ExportSchema, JobError> {
        let t = self.conf.export.table();
        let table = conn
            .client
            .table()
            .get(&t.project, &t.dataset, &t.table, None)
            .await
            .map_err(|e| classify(e, &format!("reading table {t}")))?;
        ExportSchema::of(&table).map_err(|m| permanent(anyhow::anyhow!("export table {t}: {m}")))
    }

    /// Runs one cycle as run `run`: its rows land in the sink's tables, invisible until the
    /// run commits.
    pub async fn cycle(
        &self,
        plan: Models<'_>,
        parse: &ParseRules,
        req: &ReadRequest,
        (run, loaded_at): (RunId, Timestamp),
    ) -> Result<EngineCycle, JobError> {
        let started = Instant::now();
        let conn = self.connection().await?;
        let jobs_before = conn.jobs.load(Ordering::Relaxed);
        let bytes_before = conn.bytes.load(Ordering::Relaxed);
        self.prepared
            .get_or_try_init(|| async { self.prepare().await.map(|_| ()) })
            .await?;
        let schema = self.schema(conn).await?;
        let w = self.work(conn);
        let table = self.conf.export.table().sql();
        let extras = parse.slots.names();
        let win =
            Window::of(&self.conf.export, req).map_err(|e| (e.kind(), anyhow::Error::new(e)))?;
        let conversion_events = parse.conversion_events();
        let events = Param::StringArray(
            "events",
            wanted_events(&conversion_events, self.conf.export.touch_events()),
        );
        let (from, to) = win.range;
        let mut params = vec![
            Param::Timestamp("from", from),
            Param::Timestamp("to", to),
            Param::Timestamp("latest", win.latest),
            events.clone(),
        ];
        if let Some(inc) = &win.incremental {
            params.push(Param::Timestamp("min_ts", inc.min_ts));
            let tail = inc.tail.iter().map(Uuid::to_string).collect();
            params.push(Param::StringArray("tail", tail));
        }
        let incremental = win.incremental.is_some();
        tracing::info!(from = %from, to = %to, incremental, "engine: staging the new rows");
        let sql = stage::stage_new(&w, &table, schema.person_id, extras, incremental);
        step(exec(conn, &sql, &params).await, "staging the new rows")?;

        let span = converters::find(conn, &w, &parse.extract.conversions, !schema.person_id);
        if let Some(h) = step(span.await, "finding the converting persons")?
            .and_then(|span| win.history(span, req))
        {
            tracing::info!(since = %h.from, "engine: staging the converting persons' history");
            let params = [
                Param::Timestamp("from", h.from),
                Param::Timestamp("to", h.until),
                Param::Timestamp("ingested_before", h.ingested_before),
                events,
            ];
            let sql = stage::stage_history(&w, &table, schema.person_id, extras);
            step(exec(conn, &sql, &params).await, "staging history")?;
        }

        let rounds = identity::resolve(conn, &w, &conversion_events).await;
        let rounds = step(rounds, "resolving identities")?;
        tracing::info!(
            rounds,
            secs = started.elapsed().as_secs_f64(),
            "engine: identities resolved"
        );
        step(
            touchpoints::classify(conn, &w, &self.channels).await,
            "classifying touchpoints",
        )?;
        let rules = &parse.extract.conversions;
        let found = super::conversions::find(conn, &w, rules, plan.conversion_lookback).await;
        step(found, "finding conversions")?;
        let mut data_driven = Vec::new();
        let mut distinct_paths = 0;
        if plan.markov.is_some() || plan.shapley.is_some() {
            let fit = paths::fit(
                conn,
                &w,
                plan.lookback_micros,
                plan.markov,
                plan.shapley,
                paths::CHUNK_PATHS,
            )
            .await;
            distinct_paths = step(fit, "fitting the data-driven models")?;
            data_driven.extend(plan.markov.map(|_| "markov"));
            data_driven.extend(plan.shapley.map(|_| "shapley"));
            tracing::info!(distinct_paths, "engine: data-driven models fitted");
        }
        let credited = credits::credit(conn, &w, plan.rules, &data_driven).await;
        step(credited, "crediting conversions")?;

        let sink = (self.conf.sink.0.as_str(), self.conf.sink.1.as_str());
        let published = publish::publish(conn, &w, sink, run, loaded_at).await;
        step(published, "writing the sink's tables")?;

        let c = step(
            readback::counts(conn, &w).await,
            "counting the cycle's rows",
        )?;
        let mut out = EngineCycle {
            counts: c,
            distinct_paths,
            window: win.range,
            ..Default::default()
        };
        if let Some(inc) = &win.incremental {
            let tail = readback::tail(conn, &w, inc.next_from).await;
            out.cursor = win.next_cursor(step(tail, "reading the cursor's tail")?);
        }
        out.jobs = conn.jobs.load(Ordering::Relaxed) - jobs_before;
        out.bytes_billed = conn.bytes.load(Ordering::Relaxed) - bytes_before;
        tracing::info!(
            jobs = out.jobs,
            bytes_billed = out.bytes_billed,
            conversions = out.counts.conversions,
            touchpoints = out.counts.touchpoints,
            secs = started.elapsed().as_secs_f64(),
            "engine: cycle done"
        );
        Ok(out)
    }
}
