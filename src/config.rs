//! Settings: the embedded default, an environment overlay, an optional file, then
//! `ATTRSYNC__SECTION__KEY` environment variables; validated with errors that name the key.

mod ads;
mod attribution;
mod engine;
mod lenient;
mod ops;
mod quality;
mod reporting;
pub mod secret;
mod sinks;
mod sources;
mod store;
mod validate;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

pub use ads::{AdFileSettings, AdPlatformSettings, AdsSettings};
pub use attribution::{AttributionSettings, ConversionSettings, FilterValue, IdentitySettings};
pub use engine::{EngineKind, EngineSettings};
pub use ops::{LogFormat, LogSettings, ReportSettings, ScheduleSettings, ServerSettings};
pub use quality::{OnLowScore, QualitySettings, QualityWeights};
pub use reporting::{FxSettings, FxSource, ReportingSettings};
pub use sinks::{BigQuerySettings, SinkKind, SinkSettings};
pub use sources::{
    BigQueryExportSettings, PostHogSettings, RateLimitSettings, SourceKind, SourceSettings,
};
pub use store::{redact_url, RunStoreSettings};
pub use validate::Problems;

use crate::engine::channels::ChannelSpec;

/// The embedded default configuration (`config/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Keys whose environment values are comma-separated lists.
const LIST_KEYS: &[&str] = &[
    "attribution.models",
    "posthog.touch_events",
    "bigquery_export.touch_events",
];

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub source: SourceSettings,
    pub posthog: PostHogSettings,
    pub bigquery_export: BigQueryExportSettings,
    pub sink: SinkSettings,
    #[serde(default)]
    pub engine: EngineSettings,
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
    pub report: ReportSettings,
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
    /// Loads the layered configuration and checks the sections no component owns; the
    /// source, sink and run store check theirs when they are built (`cli::problems` runs all).
    pub fn load(opts: &LoadOptions) -> Result<Self, ConfigError> {
        let settings = Self::load_unvalidated(opts)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Loads the layers without the checks types cannot make (see [`Settings::problems`]).
    pub fn load_unvalidated(opts: &LoadOptions) -> Result<Self, ConfigError> {
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
            let key = dotted(&e.path().to_string());
            let message = e.into_inner().to_string();
            ConfigError::Invalid {
                key,
                message: explain(&message),
            }
        })?;
        Ok(settings)
    }

    /// Checks what types cannot; the first problem stops start-up, naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
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

/// A key path with a dot after every index: `conversions[0].default_currency`.
fn dotted(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == ']' && chars.peek().is_some_and(|n| *n != '[' && *n != '.') {
            out.push('.');
        }
    }
    out
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
    fn keys_inside_lists_are_dotted_and_list_values_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[[conversions]]\nname = \"x\"\nevent = \"x\"\ndefault_currency = \"dollars\"\n",
        )
        .unwrap();
        let err = Settings::load(&LoadOptions {
            file: Some(file),
            env: Some(Default::default()),
            ..Default::default()
        })
        .unwrap_err();
        let (key, _) = key_of(err);
        assert_eq!(key, "conversions[0].default_currency");
        let s = load_env(&[(
            "ATTRSYNC__ATTRIBUTION__MODELS",
            "linear , markov,first_touch ",
        )])
        .unwrap();
        assert_eq!(s.attribution.models.len(), 3);
    }

    #[test]
    fn bad_binds_name_their_key_and_every_problem_is_reported() {
        let (got, msg) = key_of(load_env(&[("ATTRSYNC__SERVER__BIND", "9090")]).unwrap_err());
        assert_eq!(got, "server.bind", "{msg}");
        let all = load_env(&[]).unwrap();
        let mut broken = all.clone();
        broken.attribution.lookback_days = 0;
        broken.schedule.interval = std::time::Duration::ZERO;
        assert_eq!(broken.problems().len(), 2, "every problem is reported");
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
            s.posthog.api_key.as_ref().unwrap().expose(),
            "phx_topsecret_value"
        );
    }
}
