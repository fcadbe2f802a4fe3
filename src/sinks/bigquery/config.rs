//! `[bigquery]` as the sink needs it: a connection and batches BigQuery accepts. Only
//! [`BigQueryConfig::from_settings`] builds one, so the sink checks nothing again.

use crate::bigquery::ConnectionConfig;
use crate::config::{BigQuerySettings, Problems};

/// Validated `[bigquery]` settings.
#[derive(Debug, Clone)]
pub struct BigQueryConfig {
    pub(super) conn: ConnectionConfig,
    pub(super) dataset: String,
    pub(super) batch_rows: usize,
    pub(super) batch_bytes: usize,
    pub(super) in_flight: usize,
}

/// insertAll's documented limits: 50,000 rows and 10 MB per request.
const MAX_BATCH_ROWS: usize = 50_000;
const MAX_BATCH_BYTES: usize = 10_000_000;

impl BigQueryConfig {
    /// Checks `[bigquery]` for `sink.kind = "bigquery"`; every problem names its key.
    pub fn from_settings(s: &BigQuerySettings) -> Result<Self, Problems> {
        let mut p = Problems::default();
        let conn = p.take(ConnectionConfig::from_settings(
            s,
            "sink.kind = \"bigquery\"",
        ));
        if s.batch_rows == 0 || s.batch_rows > MAX_BATCH_ROWS {
            p.bad(
                "bigquery.batch_rows",
                "use 1 to 50000 rows per insertAll request",
            );
        }
        if !(1024..=MAX_BATCH_BYTES).contains(&s.batch_bytes) {
            p.bad(
                "bigquery.batch_bytes",
                "use 1 KB to 10 MB (BigQuery's request limit)",
            );
        }
        match conn {
            Some(conn) if p.is_empty() => Ok(Self {
                conn,
                dataset: s.dataset.clone(),
                batch_rows: s.batch_rows,
                batch_bytes: s.batch_bytes,
                in_flight: s.in_flight.max(1),
            }),
            _ => Err(p),
        }
    }

    /// The dataset, for messages.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }
}
