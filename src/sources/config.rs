//! Which event source runs, chosen by `source.kind`; each kind carries its own validated
//! settings (see `file/config.rs`, `posthog/config.rs`, `bigquery_export/config.rs`).

use super::bigquery_export::{BigQueryExportConfig, BigQueryExportSource};
use super::file::{FileConfig, FileSource};
use super::posthog::{PostHogConfig, PostHogSource};
use super::AnySource;
use crate::config::{Problems, Settings, SourceKind};

/// The configured event source.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    File(FileConfig),
    PostHog(PostHogConfig),
    BigQueryExport(BigQueryExportConfig),
}

impl SourceConfig {
    /// The source `source.kind` selects, with its section checked.
    pub fn from_settings(s: &Settings) -> Result<Self, Problems> {
        match s.source.kind {
            SourceKind::File => FileConfig::from_settings(&s.source).map(SourceConfig::File),
            SourceKind::Posthog => {
                PostHogConfig::from_settings(&s.posthog).map(SourceConfig::PostHog)
            }
            SourceKind::BigqueryExport => {
                BigQueryExportConfig::from_settings(s).map(SourceConfig::BigQueryExport)
            }
        }
    }

    /// Builds the source.
    pub fn build(&self) -> anyhow::Result<AnySource> {
        Ok(match self {
            SourceConfig::File(c) => AnySource::File(FileSource::new(c.path().to_path_buf())),
            SourceConfig::PostHog(c) => AnySource::PostHog(PostHogSource::new(c)?),
            SourceConfig::BigQueryExport(c) => {
                AnySource::BigQueryExport(BigQueryExportSource::new(c))
            }
        })
    }
}
