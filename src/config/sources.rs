//! `[source]` and `[posthog]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::lenient;
use super::secret::Secret;

/// Where events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    File,
    Posthog,
}

lenient::named_enum!(SourceKind { File => "file", Posthog => "posthog" });

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    pub kind: SourceKind,
    /// NDJSON export file (plain or `.gz`) for `kind = "file"`.
    pub path: PathBuf,
}

/// `[posthog]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostHogSettings {
    /// `https://us.posthog.com`, `https://eu.posthog.com` or a self-hosted URL.
    pub host: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project_id: Option<String>,
    /// Personal API key with the `query:read` scope.
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    pub page_size: u32,
    /// Re-read this much before the cursor to catch late events.
    #[serde(with = "humantime_serde")]
    pub overlap: Duration,
    /// Per-request timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per request (first try included) before the run fails.
    pub max_attempts: u32,
    /// Retries the whole run may spend across requests.
    pub retry_budget: u32,
    /// Persons per journey query.
    pub persons_per_query: u32,
    /// How far back the very first run reads.
    pub initial_days: u32,
    /// Events that can start a session (touchpoint candidates besides those with a signal).
    pub touch_events: Vec<String>,
    pub rate_limit: RateLimitSettings,
}

/// A documented API quota, as a default to configure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub per_minute: u32,
    pub per_hour: u32,
    pub concurrency: u32,
}
