//! `[run_store]`.

use std::time::Duration;

use serde::Deserialize;

/// `[run_store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunStoreSettings {
    /// `sqlite://attrsync.db` or `postgres://user@host/db`.
    pub url: String,
    /// Apply migrations at start-up.
    pub auto_migrate: bool,
    pub max_connections: u32,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Prune `sync_runs` rows older than this many days.
    pub keep_runs_days: u32,
}
