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

impl RunStoreSettings {
    /// `url` without a password, for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// A URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (auth, host) = match rest.rsplit_once('@') {
                Some((a, h)) => (Some(a), h),
                None => (None, rest),
            };
            match auth {
                Some(a) => match a.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                    None => format!("{scheme}://{a}@{host}"),
                },
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:s3cret@db:5432/a"),
            "postgres://u:***@db:5432/a"
        );
        assert_eq!(
            super::redact_url("sqlite://attrsync.db"),
            "sqlite://attrsync.db"
        );
    }
}
