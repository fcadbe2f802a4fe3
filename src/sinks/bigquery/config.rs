//! `[bigquery]` as the sink needs it: a project and batches BigQuery accepts. Only
//! [`BigQueryConfig::from_settings`] builds one, so the sink checks nothing again.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{BigQuerySettings, Problems};

/// Validated `[bigquery]` settings.
#[derive(Debug, Clone)]
pub struct BigQueryConfig {
    pub(super) project_id: String,
    pub(super) dataset: String,
    pub(super) location: String,
    pub(super) credentials_path: Option<PathBuf>,
    pub(super) endpoint: Option<String>,
    pub(super) batch_rows: usize,
    pub(super) batch_bytes: usize,
    pub(super) in_flight: usize,
    pub(super) max_attempts: u32,
    pub(super) timeout: Duration,
}

/// insertAll's documented limits: 50,000 rows and 10 MB per request.
const MAX_BATCH_ROWS: usize = 50_000;
const MAX_BATCH_BYTES: usize = 10_000_000;

impl BigQueryConfig {
    /// Checks `[bigquery]` for `sink.kind = "bigquery"`; every problem names its key.
    pub fn from_settings(s: &BigQuerySettings) -> Result<Self, Problems> {
        let mut p = Problems::default();
        let project_id = s.project_id.clone().filter(|id| !id.is_empty());
        if project_id.is_none() {
            p.bad(
                "bigquery.project_id",
                "required when sink.kind = \"bigquery\" (set ATTRSYNC__BIGQUERY__PROJECT_ID)",
            );
        }
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
        match project_id {
            Some(project_id) if p.is_empty() => Ok(Self {
                project_id,
                dataset: s.dataset.clone(),
                location: s.location.clone(),
                credentials_path: s.credentials_path.clone(),
                endpoint: s.endpoint.clone(),
                batch_rows: s.batch_rows,
                batch_bytes: s.batch_bytes,
                in_flight: s.in_flight.max(1),
                max_attempts: s.max_attempts,
                timeout: s.timeout,
            }),
            _ => Err(p),
        }
    }

    /// The dataset, for messages.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }
}
