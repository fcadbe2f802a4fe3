//! `[run_store]` as the stores need it: the backend the URL's scheme selects. Only
//! [`StoreConfig::from_settings`] builds one, so the backends check nothing again.

use std::time::Duration;

use crate::config::{Problems, RunStoreSettings};

/// Which run store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://file` or `sqlite::memory:`.
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
}

/// Validated `[run_store]` connection settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub(super) backend: Backend,
    pub(super) url: String,
    pub(super) max_connections: u32,
    pub(super) connect_timeout: Duration,
}

impl StoreConfig {
    /// Checks `run_store.url`, naming the key.
    pub fn from_settings(s: &RunStoreSettings) -> Result<Self, Problems> {
        let mut p = Problems::default();
        let url = s.url.trim();
        let backend = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                p.bad(
                    "run_store.url",
                    format!("'{url}' names no database file; use e.g. sqlite://attrsync.db (or sqlite::memory: for a throwaway store)"),
                );
            }
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            p.bad("run_store.url", "must start with sqlite: or postgres://");
            return Err(p);
        };
        if !p.is_empty() {
            return Err(p);
        }
        Ok(Self {
            backend,
            url: url.to_string(),
            max_connections: s.max_connections,
            connect_timeout: s.connect_timeout,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}
