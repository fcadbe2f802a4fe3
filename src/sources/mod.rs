//! Event sources: PostHog's query API, PostHog's BigQuery batch export and PostHog export
//! files. A source only reads; the
//! pipeline decides what is new and moves the cursor after the sink acknowledged.

pub mod bigquery_export;
pub mod columns;
mod config;
pub mod file;
pub mod horizon;
pub mod marking;
pub mod posthog;
pub mod wire;

pub use config::SourceConfig;

use crate::domain::conversion::PropertySlots;
use crate::domain::extract::{Extract, ExtractRules};
use crate::domain::time::Timestamp;
use crate::http::{Classify, ErrorKind};

/// What a run asks of a source.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// The source's committed cursor (its own format); `None` on a first run. Ignored when
    /// `window` is set.
    pub cursor: Option<String>,
    /// A fixed event-time window `[from, until)` (a backfill day): its events are the new ones,
    /// and nothing after `until` is used.
    pub window: Option<(Timestamp, Timestamp)>,
    /// The run's clock.
    pub now: Timestamp,
    /// Events stamped after `now + max_future_micros` are skipped as `future`.
    pub max_future_micros: i64,
    /// How far before a new conversion its journey reaches.
    pub lookback_micros: i64,
    /// Extra history to read for training data-driven models.
    pub training_micros: i64,
}

impl ReadRequest {
    /// The latest timestamp an event may carry.
    pub fn latest_allowed(&self) -> Timestamp {
        self.now.add_micros(self.max_future_micros.max(0))
    }
}

/// What the parser needs to keep from each event.
#[derive(Debug, Clone, Default)]
pub struct ParseRules {
    pub slots: PropertySlots,
    pub extract: ExtractRules,
}

impl ParseRules {
    /// The events the configured conversions are made of.
    pub fn conversion_events(&self) -> Vec<String> {
        self.extract
            .conversions
            .defs
            .iter()
            .map(|d| d.event.clone())
            .collect()
    }
}

/// Why a source could not deliver; the variant says what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Worth retrying later (network, throttling, server errors beyond the attempt budget).
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Will fail again until someone changes config or credentials.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl SourceError {
    /// The variant for an error of `kind`.
    pub fn of(kind: ErrorKind, e: anyhow::Error) -> Self {
        match kind {
            ErrorKind::Transient => SourceError::Transient(e),
            ErrorKind::Permanent => SourceError::Permanent(e),
        }
    }
}

impl Classify for SourceError {
    fn kind(&self) -> ErrorKind {
        match self {
            SourceError::Transient(_) => ErrorKind::Transient,
            SourceError::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

/// A source of PostHog events.
pub trait Source {
    /// The job name runs and leases use (`file:events.ndjson`, `posthog:12345`).
    fn job(&self) -> String;

    /// Reads and reduces the events the request covers, marking the new ones fresh and
    /// proposing the cursor to commit after them (the pipeline commits it, never the source).
    fn extract(
        &self,
        req: &ReadRequest,
        rules: &ParseRules,
    ) -> impl std::future::Future<Output = Result<Extract, SourceError>> + Send;
}

/// The configured event source.
#[derive(Debug, Clone)]
pub enum AnySource {
    File(file::FileSource),
    PostHog(posthog::PostHogSource),
    BigQueryExport(bigquery_export::BigQueryExportSource),
}

impl Source for AnySource {
    fn job(&self) -> String {
        match self {
            AnySource::File(s) => s.job(),
            AnySource::PostHog(s) => s.job(),
            AnySource::BigQueryExport(s) => s.job(),
        }
    }

    async fn extract(&self, req: &ReadRequest, rules: &ParseRules) -> Result<Extract, SourceError> {
        match self {
            AnySource::File(s) => s.extract(req, rules).await,
            AnySource::PostHog(s) => s.extract(req, rules).await,
            AnySource::BigQueryExport(s) => s.extract(req, rules).await,
        }
    }
}
