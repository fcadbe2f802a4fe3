//! How runs end: an [`Outcome`], or a [`RunError`] whose cause the run row records.

use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;
use crate::http::{Classify, ErrorKind};
use crate::store::{CursorPosition, StoreError};

use super::RunSummary;

/// How a cycle ended without error.
#[derive(Debug)]
pub enum Outcome {
    Completed(Box<RunSummary>),
    /// Another runner holds the job's lease; nothing was done.
    LeaseHeld {
        job: String,
        holder: String,
    },
}

/// Why a cycle failed. The run row (when one was opened) records the same cause.
#[derive(Debug, thiserror::Error)]
#[error("{}{cause:#}", run.map(|r| format!("run {r} failed: ")).unwrap_or_default())]
pub struct RunError {
    pub run: Option<RunId>,
    /// Whether retrying later may succeed (network, throttling, a store that is down).
    pub kind: ErrorKind,
    /// The run's final state could not be written: it is still `running` in the store (or its
    /// commit went through unseen). [`super::Pipeline::settle`] sorts it out once the store
    /// answers.
    pub unrecorded: bool,
    pub cause: anyhow::Error,
}

impl Classify for RunError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        RunError {
            run: None,
            kind: e.kind(),
            unrecorded: false,
            cause: anyhow::Error::new(e),
        }
    }
}

/// Why a run is failing, before it is recorded: the cause, and what the caller must do.
#[derive(Debug)]
pub(crate) struct Failure {
    pub cause: anyhow::Error,
    pub kind: ErrorKind,
}

impl Failure {
    /// A seam's error, with what the run was doing.
    pub fn of<E>(e: E, doing: &'static str) -> Self
    where
        E: Classify + std::error::Error + Send + Sync + 'static,
    {
        Failure {
            kind: e.kind(),
            cause: anyhow::Error::new(e).context(doing),
        }
    }

    /// A failure that will repeat until someone changes something (data quality, a bug).
    pub fn permanent(cause: anyhow::Error) -> Self {
        Failure {
            cause,
            kind: ErrorKind::Permanent,
        }
    }

    /// A failure of the environment (a rate feed that did not answer).
    pub fn transient(cause: anyhow::Error) -> Self {
        Failure {
            cause,
            kind: ErrorKind::Transient,
        }
    }
}

/// A run that failed part-way: why, and what it had done (recorded on its row).
#[derive(Debug)]
pub(crate) struct Failed {
    pub failure: Failure,
    pub partial: RunSummary,
}

impl Failed {
    pub fn new(failure: Failure, partial: RunSummary) -> Self {
        Failed { failure, partial }
    }
}

/// What a run that did its work leaves to commit.
#[derive(Debug)]
pub(crate) struct Cycled {
    pub summary: RunSummary,
    /// The position to store; `None` leaves the cursor where it was.
    pub cursor: Option<CursorPosition>,
    /// The span of data the run covered, recorded on its row.
    pub window: (Option<Timestamp>, Option<Timestamp>),
}
