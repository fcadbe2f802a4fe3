//! Settings: the embedded default, an environment overlay, an optional file, then
//! `ATTRSYNC__SECTION__KEY` environment variables; validated with errors that name the key.

mod attribution;
mod lenient;
mod ops;
pub mod secret;
mod sinks;
mod sources;
mod store;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use attribution::{AttributionSettings, ConversionSettings, FilterValue, IdentitySettings};
pub use ops::{LogFormat, LogSettings, ScheduleSettings, ServerSettings};
pub use sinks::{BigQuerySettings, SinkKind, SinkSettings};
pub use sources::{PostHogSettings, RateLimitSettings, SourceKind, SourceSettings};
pub use store::RunStoreSettings;

use crate::engine::channels::{ChannelRules, ChannelSpec};

/// The embedded default configuration (`config/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Keys whose environment values are comma-separated lists.
const LIST_KEYS: &[&str] = &["attribution.models"];

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub source: SourceSettings,
    pub posthog: PostHogSettings,
    pub sink: SinkSettings,
    pub bigquery: BigQuerySettings,
    pub run_store: RunStoreSettings,
    pub attribution: AttributionSettings,
    #[serde(default)]
    pub conversions: Vec<ConversionSettings>,
    pub channels: ChannelSpec,
    pub identity: IdentitySettings,
    pub schedule: ScheduleSettings,
    pub server: ServerSettings,
    pub log: LogSettings,
}

/// Why start-up stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// Where to look for overlays; the process environment unless a test passes its own.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config FILE`.
    pub file: Option<PathBuf>,
    /// Directory holding `<env>.toml` overlays (default `config`).
    pub dir: Option<PathBuf>,
    /// Environment to read instead of the process's (tests).
    pub env: Option<HashMap<String, String>>,
}

impl Settings {
    /// Loads and validates the layered configuration.
    pub fn load(opts: &LoadOptions) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = opts.env.clone().unwrap_or_else(|| std::env::vars().collect());
        let mut b = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
        if let Some(name) = env.get("ATTRSYNC_ENV").filter(|n| !n.is_empty()) {
            let dir = opts.dir.clone().unwrap_or_else(|| PathBuf::from("config"));
            let path = dir.join(format!("{name}.toml"));
            if !path.is_file() {
                return Err(ConfigError::File {
                    path,
                    message: format!("ATTRSYNC_ENV={name} selects this overlay, but it does not exist"),
                });
            }
            b = b.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        if let Some(path) = &opts.file {
            if !path.is_file() {
                return Err(ConfigError::File { path: path.clone(), message: "not found".into() });
            }
            b = b.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        let vars: config::Map<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with("ATTRSYNC__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut e = config::Environment::with_prefix("ATTRSYNC")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .source(Some(vars));
        for k in LIST_KEYS {
            e = e.with_list_parse_key(k);
        }
        let built = b.add_source(e).build().map_err(|e| ConfigError::File {
            path: opts.file.clone().unwrap_or_else(|| PathBuf::from("config")),
            message: e.to_string(),
        })?;
        let settings: Settings = serde_path_to_error::deserialize(built).map_err(|e| {
            let key = e.path().to_string();
            let message = e.into_inner().to_string();
            ConfigError::Invalid { key, message: explain(&message) }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| Err(ConfigError::Invalid { key: key.into(), message });
        let a = &self.attribution;
        if a.lookback_days == 0 || a.lookback_days > 3650 {
            return bad("attribution.lookback_days", format!("{} is out of range; use 1 to 3650", a.lookback_days));
        }
        if a.models.is_empty() {
            return bad("attribution.models", "enable at least one model".into());
        }
        if !(a.time_decay_half_life_days > 0.0 && a.time_decay_half_life_days.is_finite()) {
            return bad("attribution.time_decay_half_life_days", "must be a positive number of days".into());
        }
        for (k, v) in [("position_based_first", a.position_based_first), ("position_based_last", a.position_based_last)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(&format!("attribution.{k}"), format!("{v} must be between 0 and 1"));
            }
        }
        if a.position_based_first + a.position_based_last > 1.0 + 1e-12 {
            return bad(
                "attribution.position_based_last",
                "position_based_first + position_based_last must not exceed 1".into(),
            );
        }
        if a.markov_order == 0 || a.markov_order > 8 {
            return bad("attribution.markov_order", format!("{} is out of range; use 1 to 8", a.markov_order));
        }
        if !["exposure", "unique", "first", "frequency"].contains(&a.shapley_path_transform.as_str()) {
            return bad(
                "attribution.shapley_path_transform",
                format!("'{}' is not one of exposure, unique, first, frequency", a.shapley_path_transform),
            );
        }
        if self.conversions.is_empty() {
            return bad("conversions", "define at least one [[conversions]] entry (name, event, default_currency)".into());
        }
        for (i, c) in self.conversions.iter().enumerate() {
            if c.name.trim().is_empty() || c.event.trim().is_empty() {
                return bad(&format!("conversions[{i}]"), "name and event must not be empty".into());
            }
        }
        ChannelRules::compile(&self.channels)
            .map_err(|e| ConfigError::Invalid { key: "channels".into(), message: e.to_string() })?;
        if self.source.kind == SourceKind::Posthog {
            if self.posthog.project_id.as_deref().is_none_or(str::is_empty) {
                return bad("posthog.project_id", "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__PROJECT_ID)".into());
            }
            if self.posthog_api_key()?.is_none() {
                return bad("posthog.api_key", "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__API_KEY or posthog.api_key_file)".into());
            }
            if !(self.posthog.host.starts_with("http://") || self.posthog.host.starts_with("https://")) {
                return bad("posthog.host", format!("'{}' must start with https:// (or http:// for a local instance)", self.posthog.host));
            }
            if self.posthog.page_size == 0 || self.posthog.page_size > 50_000 {
                return bad("posthog.page_size", format!("{} is out of range; PostHog returns 1 to 50000 rows per query", self.posthog.page_size));
            }
            let rl = &self.posthog.rate_limit;
            if rl.per_minute == 0 || rl.per_hour == 0 || rl.concurrency == 0 {
                return bad("posthog.rate_limit", "per_minute, per_hour and concurrency must be at least 1".into());
            }
        }
        if self.sink.kind == SinkKind::Bigquery {
            if self.bigquery.project_id.as_deref().is_none_or(str::is_empty) {
                return bad("bigquery.project_id", "required when sink.kind = \"bigquery\" (set ATTRSYNC__BIGQUERY__PROJECT_ID)".into());
            }
            if self.bigquery.batch_rows == 0 || self.bigquery.batch_rows > 50_000 {
                return bad("bigquery.batch_rows", "use 1 to 50000 rows per insertAll request".into());
            }
            if self.bigquery.batch_bytes < 1024 || self.bigquery.batch_bytes > 10_000_000 {
                return bad("bigquery.batch_bytes", "use 1 KB to 10 MB (BigQuery's request limit)".into());
            }
        }
        if !(self.run_store.url.starts_with("sqlite:") || self.run_store.url.starts_with("postgres://") || self.run_store.url.starts_with("postgresql://")) {
            return bad("run_store.url", "must start with sqlite: or postgres://".into());
        }
        if self.schedule.interval.is_zero() {
            return bad("schedule.interval", "must be longer than zero, e.g. \"15m\"".into());
        }
        Ok(())
    }

    /// The PostHog key, inline or from `posthog.api_key_file`.
    pub fn posthog_api_key(&self) -> Result<Option<secret::Secret>, ConfigError> {
        secret::resolve(&self.posthog.api_key, &self.posthog.api_key_file, "posthog.api_key")
    }

    /// The lookback window in microseconds.
    pub fn lookback_micros(&self) -> i64 {
        self.attribution.lookback_days as i64 * crate::domain::time::MICROS_PER_DAY
    }
}

/// Adds what is allowed to serde's terse messages.
fn explain(message: &str) -> String {
    if message.contains("unknown field") {
        format!("{message}; remove it or check its spelling")
    } else {
        message.to_string()
    }
}

/// Reads `path` relative to the working directory, or as given when absolute.
pub fn resolve_path(path: &Path) -> PathBuf {
    path.to_path_buf()
}
