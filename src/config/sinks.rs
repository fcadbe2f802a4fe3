//! `[sink]` and `[bigquery]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::lenient;

/// Where rows go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Local,
    Bigquery,
}

lenient::named_enum!(SinkKind { Local => "local", Bigquery => "bigquery" });

/// `[sink]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSettings {
    pub kind: SinkKind,
    /// Output directory of the local sink: `<dir>/<table>/<run_id>.ndjson`.
    pub dir: PathBuf,
}

/// `[bigquery]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigQuerySettings {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project_id: Option<String>,
    pub dataset: String,
    pub location: String,
    /// Service-account key file; else `GOOGLE_APPLICATION_CREDENTIALS`, the metadata server, ADC.
    #[serde(default)]
    pub credentials_path: Option<PathBuf>,
    /// API base for emulators and tests, e.g. `http://127.0.0.1:9050`.
    #[serde(default)]
    pub endpoint: Option<String>,
    pub batch_rows: usize,
    pub batch_bytes: usize,
    pub in_flight: usize,
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}
