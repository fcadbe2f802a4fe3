//! Event sources: PostHog's query API and PostHog export files. A source only reads; the
//! pipeline decides what is new and moves the cursor after the sink acknowledged.

pub mod file;
pub mod posthog;
pub mod wire;

use crate::domain::conversion::PropertySlots;
use crate::domain::extract::{Extract, ExtractRules};
use crate::domain::time::Timestamp;

/// What a run asks of a source.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// Read events at or after this instant (the committed horizon); `None` = the source's
    /// own start (all of a file; `posthog.initial_days` for PostHog).
    pub from: Option<Timestamp>,
    /// Events at or after this instant are left for a later run (backfill end), if set.
    pub until: Option<Timestamp>,
    /// How far before a new conversion its journey reaches.
    pub lookback_micros: i64,
    /// Extra history to read for training data-driven models.
    pub training_micros: i64,
}

/// What the parser needs to keep from each event.
#[derive(Debug, Clone, Default)]
pub struct ParseRules {
    pub slots: PropertySlots,
    pub extract: ExtractRules,
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
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Transient(_))
    }
}

/// A source of PostHog events.
pub trait Source {
    /// The job name runs and leases use (`file:events.ndjson`, `posthog:12345`).
    fn job(&self) -> String;

    /// How far before the last window end the next run re-reads, to catch late events.
    fn overlap_micros(&self) -> i64 {
        0
    }

    /// Reads and reduces the events the request covers.
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
}

impl Source for AnySource {
    fn job(&self) -> String {
        match self {
            AnySource::File(s) => s.job(),
            AnySource::PostHog(s) => s.job(),
        }
    }

    fn overlap_micros(&self) -> i64 {
        match self {
            AnySource::File(s) => s.overlap_micros(),
            AnySource::PostHog(s) => s.overlap_micros(),
        }
    }

    async fn extract(&self, req: &ReadRequest, rules: &ParseRules) -> Result<Extract, SourceError> {
        match self {
            AnySource::File(s) => s.extract(req, rules).await,
            AnySource::PostHog(s) => s.extract(req, rules).await,
        }
    }
}
