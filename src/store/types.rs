//! Run-store records.

use std::fmt;

use super::Lease;
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
    Backfill,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Backfill => "backfill",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Trigger::Schedule, Trigger::Manual, Trigger::Backfill]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Abandoned,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Abandoned,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Who is running: written on the run row, shown when a lease is held.
#[derive(Debug, Clone)]
pub struct RunnerMeta {
    pub host: String,
    pub pid: u32,
    pub version: String,
}

impl RunnerMeta {
    /// This process.
    pub fn current() -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            host,
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Counts recorded on a run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunCounts {
    pub events_read: i64,
    pub events_skipped: i64,
    pub conversions: i64,
    pub touchpoints: i64,
    pub credits: i64,
    pub ad_metric_rows: i64,
    pub rows_written: i64,
    /// Breakdowns (skips by reason, rows per table, credits per model).
    #[serde(default)]
    pub details: serde_json::Value,
    /// The run's quality record (see `pipeline::quality`).
    #[serde(default)]
    pub quality: serde_json::Value,
}

/// A `sync_runs` row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub job: String,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub window_start: Option<Timestamp>,
    pub window_end: Option<Timestamp>,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub error: Option<String>,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub abandoned_at: Option<Timestamp>,
}

/// A source's position in one partition, stored when its run commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPosition {
    /// The job the source reads for (`events:file`, `ads:meta:act_1`, ...).
    pub source: String,
    pub partition: String,
    /// Opaque to the store; only the source reads it.
    pub position: String,
}

impl CursorPosition {
    pub fn new(source: &str, partition: &str, position: String) -> Self {
        Self {
            source: source.to_string(),
            partition: partition.to_string(),
            position,
        }
    }
}

/// The outcome of trying to start a run.
#[derive(Debug)]
pub enum Claim {
    /// This process holds the job's lease and run `run` is open.
    Acquired {
        run: RunId,
        lease: Lease,
        abandoned: Vec<RunId>,
    },
    /// Another runner holds the lease.
    Held { holder: String },
}
