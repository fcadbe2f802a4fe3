//! What every configured command starts from: settings, logging, and the seams they select.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::{ConfigError, LoadOptions, Settings, SinkKind, SourceKind};
use crate::pipeline::{Pipeline, RunOptions};
use crate::sinks::bigquery::BigQuerySink;
use crate::sinks::local::LocalSink;
use crate::sinks::AnySink;
use crate::sources::file::FileSource;
use crate::sources::posthog::PostHogSource;
use crate::sources::AnySource;
use crate::store::{AnyStore, RunStore};

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

    /// Loads settings and starts logging.
    pub fn load(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let settings = Settings::load(&LoadOptions {
            file,
            ..Default::default()
        })?;
        crate::telemetry::init(settings.log.format);
        Ok(Self { settings })
    }

    /// Loads settings for `check`: every validation problem is returned instead of stopping.
    pub fn load_for_check(file: Option<PathBuf>) -> Result<(Self, Vec<ConfigError>), ConfigError> {
        let settings = Settings::load_unvalidated(&LoadOptions {
            file,
            ..Default::default()
        })?;
        crate::telemetry::init(settings.log.format);
        let problems = settings.problems();
        Ok((Self { settings }, problems))
    }

    /// Opens the run store, migrating when `run_store.auto_migrate` is on.
    pub async fn store(&self) -> anyhow::Result<AnyStore> {
        let store = AnyStore::open(&self.settings.run_store).await?;
        if self.settings.run_store.auto_migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Opens the run store without touching it (PostgreSQL connects lazily).
    pub async fn store_lazy(&self) -> anyhow::Result<AnyStore> {
        Ok(AnyStore::open(&self.settings.run_store).await?)
    }

    /// The configured event source.
    pub fn source(&self) -> anyhow::Result<AnySource> {
        let s = &self.settings;
        Ok(match s.source.kind {
            SourceKind::File => AnySource::File(FileSource::new(s.source.path.clone())),
            SourceKind::Posthog => {
                let key = s
                    .posthog_api_key()?
                    .context("posthog.api_key is required")?;
                AnySource::PostHog(PostHogSource::new(&s.posthog, key)?)
            }
        })
    }

    /// The configured sink (BigQuery connects and chooses its credentials here).
    pub async fn sink(&self) -> anyhow::Result<AnySink> {
        let s = &self.settings;
        Ok(match s.sink.kind {
            SinkKind::Local => AnySink::Local(
                LocalSink::new(s.sink.dir.clone()).with_reporting(s.reporting_currency()),
            ),
            SinkKind::Bigquery => AnySink::BigQuery(Box::new(
                BigQuerySink::connect(&s.bigquery)
                    .await?
                    .with_reporting(s.reporting_currency()),
            )),
        })
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
        let ads = crate::ads::sources(&s.ads, self.vault(&store)?).context("[ads]")?;
        let fx = match s.reporting_currency() {
            Some(c) => Some(crate::pipeline::fx::FxJob::new(c, s.fx.clone())?),
            None => None,
        };
        Ok(
            Pipeline::new(self.source()?, self.sink().await?, store, options)
                .with_ads(ads)
                .with_fx(fx),
        )
    }
}
