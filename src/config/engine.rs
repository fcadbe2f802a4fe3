//! `[engine]`: where attribution runs.

use serde::Deserialize;

use super::lenient;

/// Which engine attributes a cycle's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// In this process, over the events the source reads.
    #[default]
    Memory,
    /// As SQL jobs inside BigQuery, over PostHog's BigQuery export (see the README,
    /// "Attribution inside BigQuery").
    Bigquery,
}

lenient::named_enum!(EngineKind { Memory => "memory", Bigquery => "bigquery" });

/// `[engine]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    #[serde(default)]
    pub kind: EngineKind,
    /// Dataset of the BigQuery engine's work tables (replaced by each cycle); empty means
    /// `<bigquery.dataset>_work`.
    #[serde(default)]
    pub work_dataset: String,
}
