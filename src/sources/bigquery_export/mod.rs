//! PostHog's BigQuery batch export as an event source, read incrementally by the time the
//! export wrote each row (`bq_ingested_timestamp`), like the PostHog source reads by ingestion
//! time: each run takes the rows written since the committed horizon, up to now minus a settle
//! delay, stamped no earlier than `max_lateness` before it (so BigQuery prunes the table's
//! day partitions on `timestamp`). Then the converting persons' earlier touches are read over
//! the lookback window, in batches of persons. A backfill day reads by event time instead.
//! Results are read a page at a time; the export's duplicate rows (it is at-least-once) are
//! skipped by uuid like any other duplicate.

mod config;
pub mod query;
mod rows;
mod schema;
pub mod window;

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::marking::{Converting, Marking, Scanned};
use super::{columns, ParseRules, ReadRequest, Source, SourceError};
use crate::bigquery::{Connection, Param};
use crate::domain::extract::{Extract, SkipReason};
pub use config::{BigQueryExportConfig, TableRef};
use query::{Queries, ScanKind};
pub use schema::ExportSchema;
pub use window::{History, Incremental, Window};

/// The export source. It connects on first use, so building it needs no network.
#[derive(Debug, Clone)]
pub struct BigQueryExportSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conf: BigQueryExportConfig,
    conn: OnceCell<Connection>,
}

fn failed((kind, e): (crate::http::ErrorKind, anyhow::Error)) -> SourceError {
    SourceError::of(kind, e)
}

impl BigQueryExportSource {
    pub fn new(conf: &BigQueryExportConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                conf: conf.clone(),
                conn: OnceCell::new(),
            }),
        }
    }

    async fn connection(&self) -> Result<&Connection, SourceError> {
        self.inner
            .conn
            .get_or_try_init(|| Connection::open(&self.inner.conf.conn))
            .await
            .map_err(|e| SourceError::Permanent(e.context("connecting to BigQuery")))
    }

    /// Reads the export table's schema: every missing column is named.
    pub async fn check(&self) -> Result<ExportSchema, SourceError> {
        let conn = self.connection().await?;
        let t = &self.inner.conf.table;
        let table = conn
            .client
            .table()
            .get(&t.project, &t.dataset, &t.table, None)
            .await
            .map_err(|e| failed(crate::bigquery::classify(e, &format!("reading table {t}"))))?;
        ExportSchema::of(&table)
            .map_err(|m| SourceError::Permanent(anyhow::anyhow!("export table {t}: {m}")))
    }

    /// Reads every page of one query into `out`.
    async fn scan(
        &self,
        label: &str,
        (sql, params): (&str, &[Param]),
        (mark, q, rules): (&Marking, &Queries, &ParseRules),
        out: &mut Scanned,
    ) -> Result<(), SourceError> {
        let conn = self.connection().await?;
        let mut pages = conn
            .pages(sql, params, self.inner.conf.page_size)
            .await
            .map_err(failed)?;
        let (mut page, mut rows) = (0u64, 0u64);
        while let Some(batch) = pages.next().await.map_err(failed)? {
            page += 1;
            rows += batch.len() as u64;
            for row in batch {
                out.ex.count_read();
                match columns::to_event(rows::scalars(row), q.width()) {
                    Ok((ev, ingested_at)) => out.take(mark, &ev, ingested_at, rules),
                    Err(e) => {
                        out.ex.counts.skip(SkipReason::Malformed);
                        tracing::warn!(scan = label, page, error = %e, "skipped a malformed row");
                    }
                }
            }
            tracing::info!(scan = label, page, rows, "read BigQuery export page");
        }
        tracing::info!(
            scan = label,
            rows,
            bytes_processed = pages.bytes_processed.unwrap_or(0),
            "BigQuery export scan done"
        );
        Ok(())
    }
}

impl Source for BigQueryExportSource {
    fn job(&self) -> String {
        format!("bigquery_export:{}", self.inner.conf.table)
    }

    async fn extract(&self, req: &ReadRequest, rules: &ParseRules) -> Result<Extract, SourceError> {
        let conf = &self.inner.conf;
        let schema = self.check().await?;
        if !schema.partitioned {
            tracing::warn!(table = %conf.table, "the export table is not partitioned on timestamp: every query scans all of it");
        }
        let latest = req.latest_allowed();
        let conversion_events = rules.conversion_events();
        let q = Queries::new(
            &conf.table.sql(),
            schema,
            &conversion_events,
            &conf.touch_events,
            &rules.slots,
        );
        let events = Param::StringArray("events", q.events.clone());
        let mut out = Scanned::default();

        // The new rows: a backfill day by event time, else by the time the export wrote them.
        let win = Window::of(conf, req)?;
        let (from, to) = win.range;
        match &win.incremental {
            Some(inc) => {
                let min_ts = inc.min_ts;
                let mark = Marking {
                    fresh: true,
                    tail: Arc::new(inc.tail.clone()),
                    next_from: Some(inc.next_from),
                    latest,
                    late_after_micros: conf.overlap.as_micros() as i64,
                };
                let params = [
                    Param::Timestamp("from", from),
                    Param::Timestamp("to", to),
                    Param::Timestamp("min_ts", min_ts),
                    events.clone(),
                ];
                tracing::info!(from = %from, to = %to, min_ts = %min_ts, "reading rows the export wrote");
                let sql = q.select(ScanKind::Ingested);
                self.scan("new rows", (&sql, &params), (&mark, &q, rules), &mut out)
                    .await?;
            }
            None => {
                let mark = Marking::day(latest);
                let params = [
                    Param::Timestamp("from", from),
                    Param::Timestamp("to", to),
                    events.clone(),
                ];
                let sql = q.select(ScanKind::Stamped);
                self.scan("day", (&sql, &params), (&mark, &q, rules), &mut out)
                    .await?;
            }
        }

        // Journeys of the persons with new conversions: their touches before the window.
        let mut converting = Converting::of(&out.ex);
        if !schema.person_id {
            // Without PostHog's person id, reach the ids the window links to converters.
            converting.add_linked(&out.ex);
        }
        if let Some(h) = converting.span.and_then(|span| win.history(span, req)) {
            let persons = &converting.persons;
            let batches = persons.chunks(conf.persons_per_query).count();
            tracing::info!(persons = persons.len(), batches, since = %h.from, "reading journeys of converting persons");
            let mark = Marking::history(latest);
            let sql = q.select(ScanKind::Journeys);
            let mut history = Scanned::default();
            for (i, batch) in persons.chunks(conf.persons_per_query).enumerate() {
                let params = [
                    Param::Timestamp("from", h.from),
                    Param::Timestamp("to", h.until),
                    Param::Timestamp("ingested_before", h.ingested_before),
                    Param::StringArray("person_ids", Converting::ids(batch, true)),
                    Param::StringArray("distinct_ids", Converting::ids(batch, false)),
                    events.clone(),
                ];
                let label = format!("journeys batch {}/{batches}", i + 1);
                self.scan(&label, (&sql, &params), (&mark, &q, rules), &mut history)
                    .await?;
            }
            out.ex.merge(history.ex);
        }
        let mut ex = out.ex;
        ex.read_from = Some(from);
        ex.read_until = Some(to);
        if let Some((next, label)) = win.next_cursor(out.tail) {
            ex.cursor_label = Some(label);
            ex.next_cursor = Some(next);
        }
        tracing::info!(
            read = ex.counts.read,
            late_events = ex.counts.late_events,
            "BigQuery export extract done"
        );
        Ok(ex)
    }
}
