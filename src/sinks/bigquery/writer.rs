//! Streams rows with `tabledata.insertAll`: bounded batches, several in flight, per-row errors
//! retried for those rows only, transient failures retried with backoff within a budget.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::anyhow;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::table_data_insert_all_request::TableDataInsertAllRequestGzipped;

use super::encoder::{pack, Batch};
use crate::http::RetryPolicy;
use crate::sinks::{EncodedRow, SinkError, Table};

/// insertAll row-error reasons that no retry can fix.
const PERMANENT_REASONS: [&str; 5] = [
    "invalid",
    "invalidQuery",
    "accessDenied",
    "notFound",
    "responseTooLarge",
];

/// Requests, rows and body bytes sent (acknowledged requests only).
#[derive(Debug, Default)]
pub struct WriterStats {
    pub requests: AtomicU64,
    pub rows: AtomicU64,
    /// JSON body bytes before compression.
    pub bytes: AtomicU64,
    /// Bytes on the wire (gzip).
    pub wire_bytes: AtomicU64,
}

/// What the writer needs.
#[derive(Clone)]
pub struct Writer {
    pub stats: Arc<WriterStats>,
    pub client: gcp_bigquery_client::Client,
    pub project: String,
    pub dataset: String,
    pub batch_rows: usize,
    pub batch_bytes: usize,
    pub in_flight: usize,
    pub retry: RetryPolicy,
}

/// A client error as the sink's error (see [`crate::bigquery::classify`]).
pub fn classify(e: BQError, what: &str) -> SinkError {
    let (kind, err) = crate::bigquery::classify(e, what);
    SinkError::of(kind, err)
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(body).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

impl Writer {
    /// Writes all `rows` to `table`; `Ok` once BigQuery acknowledged every one.
    pub async fn insert(&self, table: Table, rows: &[EncodedRow]) -> Result<(), SinkError> {
        let all: Vec<usize> = (0..rows.len()).collect();
        let batches = pack(rows, &all, self.batch_rows, self.batch_bytes)
            .map_err(|e| SinkError::Permanent(anyhow!("{table}: {e}")))?;
        stream::iter(batches)
            .map(|b| self.send(table, rows, b))
            .buffer_unordered(self.in_flight.max(1))
            .try_for_each(|()| async { Ok(()) })
            .await
    }

    async fn send(
        &self,
        table: Table,
        rows: &[EncodedRow],
        mut batch: Batch,
    ) -> Result<(), SinkError> {
        let what = format!("insertAll into {}.{}", self.dataset, table.name());
        let mut tries = self.retry.attempts("bigquery", &what);
        loop {
            tries.begin();
            let bytes = batch.body.len();
            let gz = gzip(&batch.body);
            let wire = gz.len();
            let req = TableDataInsertAllRequestGzipped::new(gz);
            let last = match self
                .client
                .tabledata()
                .insert_all_gzipped(&self.project, &self.dataset, table.name(), req)
                .await
            {
                Ok(resp) => {
                    let errors = resp.insert_errors.unwrap_or_default();
                    self.stats.requests.fetch_add(1, Ordering::Relaxed);
                    self.stats.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                    self.stats
                        .wire_bytes
                        .fetch_add(wire as u64, Ordering::Relaxed);
                    if errors.is_empty() {
                        self.stats
                            .rows
                            .fetch_add(batch.rows.len() as u64, Ordering::Relaxed);
                        metrics::counter!("attrsync_sink_rows_total", "table" => table.name())
                            .increment(batch.rows.len() as u64);
                        metrics::counter!("attrsync_sink_request_bytes_total", "table" => table.name()).increment(bytes as u64);
                        return Ok(());
                    }
                    let mut failing = Vec::new();
                    let mut first = String::new();
                    for e in &errors {
                        let Some(row) = e.index.and_then(|i| batch.rows.get(i as usize)).copied()
                        else {
                            continue;
                        };
                        let (reason, message) = e
                            .errors
                            .as_ref()
                            .and_then(|v| {
                                v.iter()
                                    .find(|p| p.reason.as_deref() != Some("stopped"))
                                    .or(v.first())
                            })
                            .map(|p| {
                                (
                                    p.reason.clone().unwrap_or_default(),
                                    p.message.clone().unwrap_or_default(),
                                )
                            })
                            .unwrap_or_default();
                        if PERMANENT_REASONS.contains(&reason.as_str()) {
                            return Err(SinkError::Permanent(anyhow!(
                                "{what}: BigQuery rejected row {}: {reason}: {message}",
                                rows[row].row_key
                            )));
                        }
                        if first.is_empty() {
                            first = format!("row {}: {reason}: {message}", rows[row].row_key);
                        }
                        failing.push(row);
                    }
                    let done = batch.rows.len() - failing.len();
                    self.stats.rows.fetch_add(done as u64, Ordering::Relaxed);
                    metrics::counter!("attrsync_sink_rows_total", "table" => table.name())
                        .increment(done as u64);
                    tracing::warn!(
                        table = table.name(),
                        failed = failing.len(),
                        acknowledged = done,
                        "retrying rows BigQuery did not insert"
                    );
                    // The failing rows are a subset of a batch that fit: they fit in one.
                    batch = pack(rows, &failing, self.batch_rows, self.batch_bytes)
                        .map_err(|e| SinkError::Permanent(anyhow!("{e}")))?
                        .remove(0);
                    first
                }
                Err(e) => match classify(e, &what) {
                    SinkError::Transient(e) => format!("{e:#}"),
                    permanent => return Err(permanent),
                },
            };
            tries
                .wait(None, last)
                .await
                .map_err(|g| SinkError::Transient(anyhow!("{what}: {g}")))?;
        }
    }
}
