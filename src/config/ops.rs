//! `[schedule]`, `[server]`, `[report]` and `[log]`.

use std::time::Duration;

use serde::Deserialize;

/// `[schedule]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long a shutdown waits for the current run to commit.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Random delay before the first tick, up to this, so replicas spread out.
    #[serde(with = "humantime_serde")]
    pub start_jitter: Duration,
    /// Longest wait after consecutive failed runs.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// `/healthz`, `/readyz` and `/metrics`; empty to disable.
    pub bind: String,
    /// `/readyz` fails when the last successful run is older than this.
    #[serde(with = "humantime_serde")]
    pub ready_max_age: Duration,
}

/// `[report]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    /// The daemon rewrites the report after every cycle and serves it at `/report`.
    pub enabled: bool,
    /// Where the daemon writes it; empty: `<sink.dir>/report.html` with the local sink,
    /// `report.html` in the working directory with BigQuery.
    #[serde(default)]
    pub path: std::path::PathBuf,
    /// Recent runs shown in the data-quality section.
    pub recent_runs: u32,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

super::lenient::named_enum!(LogFormat { Json => "json", Pretty => "pretty" });

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}
