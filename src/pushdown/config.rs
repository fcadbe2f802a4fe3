//! `[engine]` checked against the rest of the settings: the BigQuery engine reads PostHog's
//! export and writes the BigQuery sink's tables, so it needs both; what it cannot do yet is
//! refused at start-up, naming the key.

use crate::config::{EngineKind, Problems, Settings, SinkKind, SourceKind};
use crate::sources::bigquery_export::BigQueryExportConfig;

use super::paths::SEP;

/// The BigQuery engine's checked settings.
#[derive(Debug, Clone)]
pub struct PushdownConfig {
    /// The export table and the connection jobs run on.
    pub export: BigQueryExportConfig,
    /// Project and dataset of the sink's tables.
    pub sink: (String, String),
    /// Dataset of the work tables.
    pub work_dataset: String,
}

/// Whether `name` is a dataset id BigQuery accepts (letters, digits, underscores; ≤ 1024).
fn valid_dataset(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 1024
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl PushdownConfig {
    /// `None` for the in-memory engine; every problem of the BigQuery engine's names its key.
    /// `export` is the source's checked config (`None` when the source is another kind, or
    /// its own check failed and reported why).
    pub fn from_settings(
        s: &Settings,
        export: Option<&BigQueryExportConfig>,
    ) -> Result<Option<Self>, Problems> {
        if s.engine.kind == EngineKind::Memory {
            return Ok(None);
        }
        let mut p = Problems::default();
        if s.source.kind != SourceKind::BigqueryExport {
            p.bad(
                "engine.kind",
                format!(
                    "\"bigquery\" reads PostHog's BigQuery export, but source.kind is \"{}\"; \
                     set source.kind = \"bigquery_export\" or engine.kind = \"memory\"",
                    s.source.kind.as_str()
                ),
            );
        }
        if s.sink.kind != SinkKind::Bigquery {
            p.bad(
                "engine.kind",
                format!(
                    "\"bigquery\" writes the BigQuery sink's tables, but sink.kind is \"{}\"; \
                     set sink.kind = \"bigquery\" or engine.kind = \"memory\"",
                    s.sink.kind.as_str()
                ),
            );
        }
        if s.identity
            .stitch_property
            .as_deref()
            .is_some_and(|v| !v.trim().is_empty())
        {
            p.bad(
                "identity.stitch_property",
                "the bigquery engine does not stitch identities by a property yet; \
                 leave it empty or use engine.kind = \"memory\"",
            );
        }
        for (i, r) in s.channels.rules.iter().enumerate() {
            if r.channel.contains(SEP.trim()) {
                p.bad(
                    format!("channels.rules[{i}].channel"),
                    format!(
                        "'{}' holds '{}', which the bigquery engine uses to join channels into paths",
                        r.channel,
                        SEP.trim()
                    ),
                );
            }
        }
        let work_dataset = match s.engine.work_dataset.trim() {
            "" => format!("{}_work", s.bigquery.dataset),
            w => w.to_string(),
        };
        if !valid_dataset(&work_dataset) {
            p.bad(
                "engine.work_dataset",
                format!("'{work_dataset}' is not a BigQuery dataset id (letters, digits and underscores)"),
            );
        }
        match export.cloned() {
            Some(export) if p.is_empty() => Ok(Some(Self {
                sink: (
                    export.connection().project_id.clone(),
                    s.bigquery.dataset.clone(),
                ),
                export,
                work_dataset,
            })),
            _ => Err(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadOptions;

    /// The engine's config as `cli::problems` checks it: with the source's export config.
    fn check(s: &Settings) -> Result<Option<PushdownConfig>, Problems> {
        let export = BigQueryExportConfig::from_settings(s).ok();
        PushdownConfig::from_settings(s, export.as_ref())
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_unvalidated(&LoadOptions {
            env: Some(env),
            ..Default::default()
        })
        .unwrap()
    }

    fn keys(p: Problems) -> Vec<String> {
        p.0.into_iter()
            .map(|e| match e {
                crate::config::ConfigError::Invalid { key, .. } => key,
                other => panic!("{other}"),
            })
            .collect()
    }

    const EXPORT: [(&str, &str); 5] = [
        ("ATTRSYNC__ENGINE__KIND", "bigquery"),
        ("ATTRSYNC__SOURCE__KIND", "bigquery_export"),
        ("ATTRSYNC__BIGQUERY_EXPORT__TABLE", "p.posthog.events"),
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", "p"),
    ];

    #[test]
    fn memory_needs_nothing_and_bigquery_needs_the_export_and_the_sink() {
        assert!(check(&settings(&[])).unwrap().is_none());
        let c = check(&settings(&EXPORT)).unwrap().unwrap();
        assert_eq!(c.work_dataset, "attribution_work");
        assert_eq!(c.sink, ("p".to_string(), "attribution".to_string()));
        let err = check(&settings(&[("ATTRSYNC__ENGINE__KIND", "bigquery")])).unwrap_err();
        assert_eq!(keys(err), ["engine.kind", "engine.kind"]);
    }

    #[test]
    fn what_the_engine_cannot_do_is_named_by_key() {
        let mut env = EXPORT.to_vec();
        env.push(("ATTRSYNC__IDENTITY__STITCH_PROPERTY", "email"));
        env.push(("ATTRSYNC__ENGINE__WORK_DATASET", "my-work"));
        let err = check(&settings(&env)).unwrap_err();
        assert_eq!(
            keys(err),
            ["identity.stitch_property", "engine.work_dataset"]
        );
        let mut s = settings(&EXPORT);
        s.channels.rules[0].channel = "paid > search".into();
        let err = check(&s).unwrap_err();
        assert_eq!(keys(err), ["channels.rules[0].channel"]);
    }
}
