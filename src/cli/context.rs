//! What every configured command starts from: settings, logging, and the seams they select.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::ads::AdsConfig;
use crate::config::{ConfigError, LoadOptions, Problems, Settings};
use crate::pipeline::{Pipeline, RunOptions};
use crate::pushdown::PushdownConfig;
use crate::sinks::{AnySink, SinkConfig};
use crate::sources::{AnySource, SourceConfig};
use crate::store::{AnyStore, RunStore, StoreConfig};

/// Loaded settings plus helpers to open the configured seams.
#[derive(Debug)]
pub struct Context {
    pub settings: Settings,
}

impl Context {
    /// A context over settings loaded elsewhere (tests, benchmarks).
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// Loads settings (stopping at the first problem, naming its key) and starts logging.
    pub fn load(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let (ctx, problems) = Self::load_unchecked(file)?;
        match problems.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(ctx),
        }
    }

    /// Loads settings for `check`: every validation problem is returned instead of stopping.
    pub fn load_for_check(file: Option<PathBuf>) -> Result<(Self, Vec<ConfigError>), ConfigError> {
        Self::load_unchecked(file)
    }

    fn load_unchecked(file: Option<PathBuf>) -> Result<(Self, Vec<ConfigError>), ConfigError> {
        let settings = Settings::load_unvalidated(&LoadOptions {
            file,
            ..Default::default()
        })?;
        crate::telemetry::init(settings.log.format);
        let problems = problems(&settings);
        Ok((Self { settings }, problems))
    }

    /// The run store's validated connection settings.
    pub fn store_config(&self) -> anyhow::Result<StoreConfig> {
        first(StoreConfig::from_settings(&self.settings.run_store))
    }

    /// Opens the run store, migrating when `run_store.auto_migrate` is on.
    pub async fn store(&self) -> anyhow::Result<AnyStore> {
        let store = self.store_lazy().await?;
        if self.settings.run_store.auto_migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Opens the run store without touching it (PostgreSQL connects lazily).
    pub async fn store_lazy(&self) -> anyhow::Result<AnyStore> {
        Ok(AnyStore::open(&self.store_config()?).await?)
    }

    /// The configured event source.
    pub fn source(&self) -> anyhow::Result<AnySource> {
        first(SourceConfig::from_settings(&self.settings))?.build()
    }

    /// The configured sink (BigQuery connects and chooses its credentials here).
    pub async fn sink(&self) -> anyhow::Result<AnySink> {
        first(SinkConfig::from_settings(&self.settings))?
            .build(self.settings.reporting_currency())
            .await
    }

    /// Builds reports from the configured sink and run store.
    pub async fn reporter(&self) -> anyhow::Result<crate::report::Reporter> {
        use crate::report::{ReportSource, Reporter};
        let source = match self.sink().await? {
            AnySink::Local(l) => ReportSource::Local(l.dir().to_path_buf()),
            AnySink::BigQuery(b) => ReportSource::BigQuery(b),
        };
        Ok(Reporter {
            source,
            store: self.store_lazy().await?,
            models: self
                .settings
                .attribution
                .models
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            reporting: self.settings.reporting_currency(),
            recent_runs: self.settings.report.recent_runs,
        })
    }

    /// Where the daemon writes the report (`report.path`, else beside the local sink's
    /// output, else `report.html`).
    pub fn report_path(&self) -> std::path::PathBuf {
        let s = &self.settings;
        if !s.report.path.as_os_str().is_empty() {
            return s.report.path.clone();
        }
        match s.sink.kind {
            crate::config::SinkKind::Local => s.sink.dir.join("report.html"),
            crate::config::SinkKind::Bigquery => "report.html".into(),
        }
    }

    /// The BigQuery engine, when `engine.kind = "bigquery"`.
    pub fn engine(&self) -> anyhow::Result<Option<crate::pushdown::Engine>> {
        let s = &self.settings;
        if s.engine.kind == crate::config::EngineKind::Memory {
            return Ok(None);
        }
        let export = match first(SourceConfig::from_settings(s))? {
            SourceConfig::BigQueryExport(c) => Some(c),
            _ => None,
        };
        Ok(first(PushdownConfig::from_settings(s, export.as_ref()))?
            .map(|c| crate::pushdown::Engine::new(c, s.channels.clone())))
    }

    /// The configured ad accounts, one source each.
    pub fn ad_sources(
        &self,
        vault: Option<std::sync::Arc<dyn crate::http::oauth::TokenVault>>,
    ) -> anyhow::Result<Vec<crate::ads::AnyAdSource>> {
        let config = first(AdsConfig::from_settings(&self.settings.ads))?;
        crate::ads::sources(&config, vault).context("[ads]")
    }

    /// Where rotated refresh tokens are kept: the run store, encrypted with `[secrets]`'s key
    /// (none without a key).
    pub fn vault(
        &self,
        store: &AnyStore,
    ) -> anyhow::Result<Option<std::sync::Arc<dyn crate::http::oauth::TokenVault>>> {
        Ok(self.settings.secrets.key()?.map(|k| {
            std::sync::Arc::new(crate::store::vault::StoreVault::new(store.clone(), k))
                as std::sync::Arc<dyn crate::http::oauth::TokenVault>
        }))
    }

    /// The pipeline for the configured source, sink and store.
    pub async fn pipeline(&self) -> anyhow::Result<Pipeline<AnySource, AnySink, AnyStore>> {
        let s = &self.settings;
        let options = RunOptions::from_settings(s)?;
        let store = self.store_lazy().await?;
        let ads = self.ad_sources(self.vault(&store)?)?;
        let fx = match s.reporting_currency() {
            Some(c) => Some(crate::pipeline::fx::FxJob::new(c, s.fx.clone())?),
            None => None,
        };
        Ok(
            Pipeline::new(self.source()?, self.sink().await?, store, options)
                .with_ads(ads)
                .with_fx(fx)
                .with_engine(self.engine()?),
        )
    }
}

/// Every problem of the settings: each section's own, then those of the source, sink and run
/// store they select (each component checks its own section).
pub fn problems(settings: &Settings) -> Vec<ConfigError> {
    let mut p = Problems::default();
    for e in settings.problems() {
        p.push(e);
    }
    let source = p.take(SourceConfig::from_settings(settings));
    p.take(SinkConfig::from_settings(settings));
    p.take(StoreConfig::from_settings(&settings.run_store));
    p.take(AdsConfig::from_settings(&settings.ads));
    let export = match &source {
        Some(SourceConfig::BigQueryExport(c)) => Some(c),
        _ => None,
    };
    p.take(PushdownConfig::from_settings(settings, export));
    p.0
}

/// A component's checked settings, or its first problem.
fn first<T>(checked: Result<T, Problems>) -> anyhow::Result<T> {
    checked.map_err(|p| match p.first() {
        Some(e) => anyhow::Error::new(e),
        None => anyhow::anyhow!("invalid settings"),
    })
}
