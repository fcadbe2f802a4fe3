//! PostHog events from a newline-delimited JSON file (plain or gzip), as batch exports and the
//! events API write them. Read in parallel blocks; bad lines are counted and skipped.

mod reader;

use std::path::PathBuf;

use anyhow::Context;

use super::{ParseRules, ReadRequest, Source, SourceError};
use crate::domain::extract::Extract;

pub use reader::{read_path, read_stream, LineError, ReadOptions};

/// The file source.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    pub threads: usize,
}

impl FileSource {
    pub fn new(path: PathBuf) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { path, threads }
    }
}

impl Source for FileSource {
    fn job(&self) -> String {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("file:{name}")
    }

    async fn extract(&self, req: &ReadRequest, rules: &ParseRules) -> Result<Extract, SourceError> {
        let path = self.path.clone();
        let rules = rules.clone();
        let opts = ReadOptions {
            threads: self.threads,
            until: req.until,
            ..ReadOptions::default()
        };
        tokio::task::spawn_blocking(move || read_path(&path, &rules, &opts))
            .await
            .context("file reader thread panicked")
            .map_err(SourceError::Permanent)?
            .map_err(SourceError::Permanent)
    }
}
