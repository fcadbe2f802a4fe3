//! Settings: the embedded default, an environment overlay, an optional file, then
//! `ATTRSYNC__SECTION__KEY` environment variables; validated with errors that name the key.

mod ads;
mod attribution;
mod lenient;
mod ops;
mod quality;
mod reporting;
pub mod secret;
mod sinks;
mod sources;
mod store;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

pub use ads::{AdFileSettings, AdPlatformSettings, AdsSettings};
pub use attribution::{AttributionSettings, ConversionSettings, FilterValue, IdentitySettings};
pub use ops::{LogFormat, LogSettings, ScheduleSettings, ServerSettings};
pub use quality::{OnLowScore, QualitySettings, QualityWeights};
pub use reporting::{FxSettings, FxSource, ReportingSettings};
pub use sinks::{BigQuerySettings, SinkKind, SinkSettings};
pub use sources::{PostHogSettings, RateLimitSettings, SourceKind, SourceSettings};
pub use store::RunStoreSettings;

use crate::engine::channels::{ChannelRules, ChannelSpec};

/// The embedded default configuration (`config/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Keys whose environment values are comma-separated lists.
const LIST_KEYS: &[&str] = &["attribution.models", "posthog.touch_events"];

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
    pub quality: QualitySettings,
    pub ads: AdsSettings,
    #[serde(default)]
    pub reporting: ReportingSettings,
    pub fx: FxSettings,
    #[serde(default)]
    pub secrets: secret::SecretsSettings,
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
    /// Directory holding `<env>.toml` overlays (default: ATTRSYNC_CONFIG_DIR, else `config`).
    pub dir: Option<PathBuf>,
    /// Environment to read instead of the process's (tests).
    pub env: Option<HashMap<String, String>>,
}

impl Settings {
    /// Loads and validates the layered configuration.
    pub fn load(opts: &LoadOptions) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = opts
            .env
            .clone()
            .unwrap_or_else(|| std::env::vars().collect());
        let mut b = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(name) = env.get("ATTRSYNC_ENV").filter(|n| !n.is_empty()) {
            let dir = opts.dir.clone().unwrap_or_else(|| {
                PathBuf::from(
                    env.get("ATTRSYNC_CONFIG_DIR")
                        .map(String::as_str)
                        .unwrap_or("config"),
                )
            });
            let path = dir.join(format!("{name}.toml"));
            if !path.is_file() {
                return Err(ConfigError::File {
                    path,
                    message: format!(
                        "ATTRSYNC_ENV={name} selects this overlay, but it does not exist"
                    ),
                });
            }
            b = b.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        if let Some(path) = &opts.file {
            if !path.is_file() {
                return Err(ConfigError::File {
                    path: path.clone(),
                    message: "not found".into(),
                });
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
            ConfigError::Invalid {
                key,
                message: explain(&message),
            }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message,
            })
        };
        let a = &self.attribution;
        if a.lookback_days == 0 || a.lookback_days > 3650 {
            return bad(
                "attribution.lookback_days",
                format!("{} is out of range; use 1 to 3650", a.lookback_days),
            );
        }
        if a.models.is_empty() {
            return bad("attribution.models", "enable at least one model".into());
        }
        if !(a.time_decay_half_life_days > 0.0 && a.time_decay_half_life_days.is_finite()) {
            return bad(
                "attribution.time_decay_half_life_days",
                "must be a positive number of days".into(),
            );
        }
        for (k, v) in [
            ("position_based_first", a.position_based_first),
            ("position_based_last", a.position_based_last),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(
                    &format!("attribution.{k}"),
                    format!("{v} must be between 0 and 1"),
                );
            }
        }
        if a.position_based_first + a.position_based_last > 1.0 + 1e-12 {
            return bad(
                "attribution.position_based_last",
                "position_based_first + position_based_last must not exceed 1".into(),
            );
        }
        if a.markov_order == 0 || a.markov_order > 8 {
            return bad(
                "attribution.markov_order",
                format!("{} is out of range; use 1 to 8", a.markov_order),
            );
        }
        if !["exposure", "unique", "first", "frequency"]
            .contains(&a.shapley_path_transform.as_str())
        {
            return bad(
                "attribution.shapley_path_transform",
                format!(
                    "'{}' is not one of exposure, unique, first, frequency",
                    a.shapley_path_transform
                ),
            );
        }
        let q = &self.quality;
        if !(0.0..=1.0).contains(&q.threshold) {
            return bad(
                "quality.threshold",
                format!("{} must be between 0 and 1", q.threshold),
            );
        }
        if !(0.0..=1.0).contains(&q.coverage_warn_below) {
            return bad(
                "quality.coverage_warn_below",
                format!("{} must be between 0 and 1", q.coverage_warn_below),
            );
        }
        let w = &q.weights;
        if [w.reconciliation, w.identity, w.coverage]
            .iter()
            .any(|x| *x < 0.0 || !x.is_finite())
            || w.reconciliation + w.identity + w.coverage <= 0.0
        {
            return bad(
                "quality.weights",
                "weights must be non-negative with a positive sum".into(),
            );
        }
        if self.conversions.is_empty() {
            return bad(
                "conversions",
                "define at least one [[conversions]] entry (name, event, default_currency)".into(),
            );
        }
        for (i, c) in self.conversions.iter().enumerate() {
            if c.name.trim().is_empty() || c.event.trim().is_empty() {
                return bad(
                    &format!("conversions[{i}]"),
                    "name and event must not be empty".into(),
                );
            }
        }
        ChannelRules::compile(&self.channels).map_err(|e| ConfigError::Invalid {
            key: "channels".into(),
            message: e.to_string(),
        })?;
        if self.source.kind == SourceKind::Posthog {
            if self.posthog.project_id.as_deref().is_none_or(str::is_empty) {
                return bad(
                    "posthog.project_id",
                    "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__PROJECT_ID)"
                        .into(),
                );
            }
            if self.posthog_api_key()?.is_none() {
                return bad("posthog.api_key", "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__API_KEY or posthog.api_key_file)".into());
            }
            if !(self.posthog.host.starts_with("http://")
                || self.posthog.host.starts_with("https://"))
            {
                return bad(
                    "posthog.host",
                    format!(
                        "'{}' must start with https:// (or http:// for a local instance)",
                        self.posthog.host
                    ),
                );
            }
            if self.posthog.page_size == 0 || self.posthog.page_size > 50_000 {
                return bad(
                    "posthog.page_size",
                    format!(
                        "{} is out of range; PostHog returns 1 to 50000 rows per query",
                        self.posthog.page_size
                    ),
                );
            }
            let rl = &self.posthog.rate_limit;
            if rl.per_minute == 0 || rl.per_hour == 0 || rl.concurrency == 0 {
                return bad(
                    "posthog.rate_limit",
                    "per_minute, per_hour and concurrency must be at least 1".into(),
                );
            }
        }
        if self.sink.kind == SinkKind::Bigquery {
            if self
                .bigquery
                .project_id
                .as_deref()
                .is_none_or(str::is_empty)
            {
                return bad(
                    "bigquery.project_id",
                    "required when sink.kind = \"bigquery\" (set ATTRSYNC__BIGQUERY__PROJECT_ID)"
                        .into(),
                );
            }
            if self.bigquery.batch_rows == 0 || self.bigquery.batch_rows > 50_000 {
                return bad(
                    "bigquery.batch_rows",
                    "use 1 to 50000 rows per insertAll request".into(),
                );
            }
            if self.bigquery.batch_bytes < 1024 || self.bigquery.batch_bytes > 10_000_000 {
                return bad(
                    "bigquery.batch_bytes",
                    "use 1 KB to 10 MB (BigQuery's request limit)".into(),
                );
            }
        }
        if !(self.run_store.url.starts_with("sqlite:")
            || self.run_store.url.starts_with("postgres://")
            || self.run_store.url.starts_with("postgresql://"))
        {
            return bad(
                "run_store.url",
                "must start with sqlite: or postgres://".into(),
            );
        }
        if let Some(c) = self.reporting.currency.as_deref() {
            if crate::domain::money::Currency::parse(c).is_err() {
                return bad(
                    "reporting.currency",
                    format!("'{c}' is not a three-letter currency code such as USD or EUR"),
                );
            }
            if self.fx.source == FxSource::File && self.fx.path.as_os_str().is_empty() {
                return bad(
                    "fx.path",
                    "required when fx.source = \"file\" (a CSV of date,currency,rate)".into(),
                );
            }
        }
        self.secrets.key()?;
        if self.schedule.interval.is_zero() {
            return bad(
                "schedule.interval",
                "must be longer than zero, e.g. \"15m\"".into(),
            );
        }
        Ok(())
    }

    /// The PostHog key, inline or from `posthog.api_key_file`.
    pub fn posthog_api_key(&self) -> Result<Option<secret::Secret>, ConfigError> {
        secret::resolve(
            &self.posthog.api_key,
            &self.posthog.api_key_file,
            "posthog.api_key",
        )
    }

    /// The reporting currency, when one is configured.
    pub fn reporting_currency(&self) -> Option<crate::domain::money::Currency> {
        self.reporting
            .currency
            .as_deref()
            .and_then(|c| crate::domain::money::Currency::parse(c).ok())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load_env(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(&LoadOptions {
            env: Some(env),
            ..Default::default()
        })
    }

    fn key_of(e: ConfigError) -> (String, String) {
        match e {
            ConfigError::Invalid { key, message } => (key, message),
            other => panic!("expected a key error, got {other}"),
        }
    }

    #[test]
    fn embedded_default_is_valid() {
        let s = load_env(&[]).unwrap();
        assert_eq!(s.source.kind, SourceKind::File);
        assert_eq!(s.attribution.lookback_days, 30);
        assert_eq!(s.posthog.rate_limit.per_minute, 240);
        assert!(s.conversions.iter().any(|c| c.event == "purchase"));
    }

    #[test]
    fn env_vars_override_nested_keys_and_lists() {
        let s = load_env(&[
            ("ATTRSYNC__RUN_STORE__URL", "postgres://u@h/db"),
            ("ATTRSYNC__ATTRIBUTION__LOOKBACK_DAYS", "14"),
            ("ATTRSYNC__ATTRIBUTION__MODELS", "linear,last_touch"),
            ("ATTRSYNC__POSTHOG__RATE_LIMIT__PER_MINUTE", "60"),
            ("ATTRSYNC__POSTHOG__PROJECT_ID", "12345"),
        ])
        .unwrap();
        assert_eq!(s.run_store.url, "postgres://u@h/db");
        assert_eq!(s.attribution.lookback_days, 14);
        assert_eq!(s.attribution.models.len(), 2);
        assert_eq!(s.posthog.rate_limit.per_minute, 60);
        assert_eq!(s.posthog.project_id.as_deref(), Some("12345"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let (key, msg) = key_of(load_env(&[("ATTRSYNC__SOURCE__PATHS", "x")]).unwrap_err());
        assert_eq!(key, "source.paths");
        assert!(
            msg.contains("unknown field") && msg.contains("path"),
            "{msg}"
        );
    }

    #[test]
    fn invalid_values_are_named_with_what_is_allowed() {
        let (key, msg) = key_of(load_env(&[("ATTRSYNC__SOURCE__KIND", "s3")]).unwrap_err());
        assert_eq!(key, "source.kind");
        assert!(msg.contains("file") && msg.contains("posthog"), "{msg}");
        let (key, msg) =
            key_of(load_env(&[("ATTRSYNC__ATTRIBUTION__LOOKBACK_DAYS", "0")]).unwrap_err());
        assert_eq!(key, "attribution.lookback_days");
        assert!(msg.contains("1 to 3650"), "{msg}");
        let (key, _) =
            key_of(load_env(&[("ATTRSYNC__ATTRIBUTION__MODELS", "linear,magic")]).unwrap_err());
        assert!(key.starts_with("attribution.models"), "{key}");
        let (key, _) = key_of(load_env(&[("ATTRSYNC__SCHEDULE__INTERVAL", "soon")]).unwrap_err());
        assert_eq!(key, "schedule.interval");
    }

    #[test]
    fn posthog_needs_its_key_and_project() {
        let (key, _) = key_of(load_env(&[("ATTRSYNC__SOURCE__KIND", "posthog")]).unwrap_err());
        assert_eq!(key, "posthog.project_id");
        let (key, msg) = key_of(
            load_env(&[
                ("ATTRSYNC__SOURCE__KIND", "posthog"),
                ("ATTRSYNC__POSTHOG__PROJECT_ID", "1"),
            ])
            .unwrap_err(),
        );
        assert_eq!(key, "posthog.api_key");
        assert!(msg.contains("ATTRSYNC__POSTHOG__API_KEY"));
    }

    #[test]
    fn overlay_and_file_layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("staging.toml"),
            "[attribution]\nlookback_days = 7\n",
        )
        .unwrap();
        let file = dir.path().join("extra.toml");
        std::fs::write(&file, "[sink]\ndir = \"elsewhere\"\n").unwrap();
        let env = [("ATTRSYNC_ENV".to_string(), "staging".to_string())]
            .into_iter()
            .collect();
        let s = Settings::load(&LoadOptions {
            file: Some(file),
            dir: Some(dir.path().into()),
            env: Some(env),
        })
        .unwrap();
        assert_eq!(s.attribution.lookback_days, 7);
        assert_eq!(s.sink.dir, PathBuf::from("elsewhere"));
        let env = [("ATTRSYNC_ENV".to_string(), "prod".to_string())]
            .into_iter()
            .collect();
        let err = Settings::load(&LoadOptions {
            dir: Some(dir.path().into()),
            env: Some(env),
            ..Default::default()
        });
        assert!(matches!(err, Err(ConfigError::File { .. })));
    }

    #[test]
    fn the_shipped_production_overlay_is_valid_with_its_environment() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let env = [
            ("ATTRSYNC_ENV", "production"),
            ("ATTRSYNC__POSTHOG__PROJECT_ID", "12345"),
            ("ATTRSYNC__POSTHOG__API_KEY", "phx_x"),
            ("ATTRSYNC__BIGQUERY__PROJECT_ID", "p"),
        ];
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = Settings::load(&LoadOptions {
            dir: Some(dir),
            env: Some(env),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (s.source.kind, s.sink.kind, s.log.format),
            (SourceKind::Posthog, SinkKind::Bigquery, LogFormat::Json)
        );
        assert!(s.run_store.url.starts_with("postgres://"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = load_env(&[("ATTRSYNC__POSTHOG__API_KEY", "phx_topsecret_value")]).unwrap();
        assert!(!format!("{s:?}").contains("topsecret"));
        assert_eq!(
            s.posthog_api_key().unwrap().unwrap().expose(),
            "phx_topsecret_value"
        );
    }
}
