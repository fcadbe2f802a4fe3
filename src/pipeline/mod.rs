//! The cycle: claim → extract → attribute → load → commit, for the events job, each ad account
//! and the exchange-rate job (see docs/ARCHITECTURE.md). A [`Pipeline`] holds one source, sink
//! and run store; its state (runs in flight, the campaign index, the store identity) is its own.

pub mod ads;
pub mod attribute;
pub mod campaigns;
pub mod channel_credit;
mod credit_groups;
mod error;
mod events;
pub mod failpoint;
pub mod fx;
pub mod json;
mod lifecycle;
pub mod load;
mod plan;
mod pushed;
pub mod quality;
pub mod rows;
pub mod run_metrics;
pub mod summary;

use std::collections::BTreeSet;
use std::sync::Mutex;

pub use error::{Outcome, RunError};
pub use events::{RunSpec, EVENTS_PARTITION};
pub use plan::{plan_from, RunOptions};
pub use summary::RunSummary;

use crate::ads::AnyAdSource;
use crate::domain::ids::RunId;
use crate::sinks::SinkOwner;

/// One source, sink and run store, and what runs need between them.
pub struct Pipeline<S, K, R> {
    source: S,
    sink: K,
    store: R,
    options: RunOptions,
    /// Ad accounts pulled after the events job each cycle.
    ads: Vec<AnyAdSource>,
    /// The exchange-rate job, when `reporting.currency` is set.
    fx: Option<fx::FxJob>,
    /// Runs opened and not yet settled, so a cancelled cycle's runs can still be recorded.
    in_flight: Mutex<BTreeSet<RunId>>,
    /// What the latest events run saw of campaigns (for spend coverage).
    campaigns: ads::SharedIndex,
    /// The run store's identity, read once.
    owner: tokio::sync::OnceCell<SinkOwner>,
    /// The BigQuery engine, when `engine.kind = "bigquery"`: events cycles run as SQL in
    /// BigQuery instead of in memory.
    engine: Option<crate::pushdown::Engine>,
}

impl<S, K, R> Pipeline<S, K, R> {
    /// A pipeline with no ad accounts and no exchange-rate job.
    pub fn new(source: S, sink: K, store: R, options: RunOptions) -> Self {
        Self {
            source,
            sink,
            store,
            options,
            ads: Vec::new(),
            fx: None,
            in_flight: Mutex::default(),
            campaigns: Mutex::default(),
            owner: tokio::sync::OnceCell::new(),
            engine: None,
        }
    }

    /// Runs events cycles on the BigQuery engine (`None`: in memory).
    pub fn with_engine(mut self, engine: Option<crate::pushdown::Engine>) -> Self {
        self.engine = engine;
        self
    }

    /// Pulls these ad accounts after the events job.
    pub fn with_ads(mut self, ads: Vec<AnyAdSource>) -> Self {
        self.ads = ads;
        self
    }

    /// Runs the exchange-rate job before the ad accounts.
    pub fn with_fx(mut self, fx: Option<fx::FxJob>) -> Self {
        self.fx = fx;
        self
    }

    /// The same pipeline writing to another sink (before any run).
    pub fn with_sink<K2>(self, sink: K2) -> Pipeline<S, K2, R> {
        Pipeline {
            source: self.source,
            sink,
            store: self.store,
            options: self.options,
            ads: self.ads,
            fx: self.fx,
            in_flight: Mutex::default(),
            campaigns: Mutex::default(),
            owner: tokio::sync::OnceCell::new(),
            engine: self.engine,
        }
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    pub fn sink(&self) -> &K {
        &self.sink
    }

    pub fn store(&self) -> &R {
        &self.store
    }

    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    pub fn ads(&self) -> &[AnyAdSource] {
        &self.ads
    }

    pub fn fx(&self) -> Option<&fx::FxJob> {
        self.fx.as_ref()
    }
}
