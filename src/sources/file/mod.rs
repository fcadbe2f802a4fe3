//! PostHog events from a newline-delimited JSON file (plain or gzip), as batch exports and the
//! events API write them. Read in parallel blocks; bad lines are counted and skipped. The cursor
//! is the file's identity and a byte offset: appended lines are new whatever their timestamps.

mod config;
pub mod cursor;
mod reader;

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ParseRules, ReadRequest, Source, SourceError};
use crate::domain::extract::Extract;
use cursor::{FileCursor, Stored, HEAD_BYTES};

pub use config::FileConfig;
pub use reader::{read_path, read_stream, Fresh, LineError, ReadEnd, ReadOptions};

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

/// The absolute form of `p` (resolving symlinks when it exists).
fn absolute(p: &Path) -> String {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Reads the file. With an offset cursor the read assumes the same file and checks its
/// identity from the head it read: a file that changed is read again, whole.
fn read(
    path: &Path,
    req: &ReadRequest,
    rules: &ParseRules,
    threads: usize,
) -> anyhow::Result<Extract> {
    let abs = absolute(path);
    let mut notes = Vec::new();
    let (fresh, expected) = match (&req.window, &req.cursor) {
        (Some((from, until)), _) => (Fresh::Window(*from, *until), None),
        (None, None) => (Fresh::All, None),
        (None, Some(text)) => match Stored::parse(text)? {
            Stored::Legacy(h) => (Fresh::Horizon(h), None),
            Stored::Offset(c) => (Fresh::FromOffset(c.offset), Some(c)),
        },
    };
    let opts = |fresh: Fresh| ReadOptions {
        threads,
        fresh,
        latest: Some(req.latest_allowed()),
        ..ReadOptions::default()
    };
    let (mut ex, mut end) = read_path(path, rules, &opts(fresh))?;
    if let Some(c) = &expected {
        let why = cursor::mismatch(c, &abs, &end.head).or_else(|| {
            (end.bytes < c.offset).then(|| {
                format!(
                    "{abs} is shorter than the committed cursor ({} < {} bytes): reading it as a new file",
                    end.bytes, c.offset
                )
            })
        });
        if let Some(why) = why {
            notes.push(why);
            (ex, end) = read_path(path, rules, &opts(Fresh::All))?;
        }
    }
    if req.window.is_none() {
        let head_len = end.head.len().min(HEAD_BYTES);
        let offset = end.bytes - end.pending;
        ex.next_cursor = Some(
            FileCursor {
                path: abs.clone(),
                head_len: head_len as u64,
                head_sha1: cursor::digest(&end.head[..head_len]),
                offset,
            }
            .to_text(),
        );
        let name = path
            .file_name()
            .map_or(abs.clone(), |n| n.to_string_lossy().into_owned());
        ex.cursor_label = Some(format!("byte {offset} of {name}"));
    }
    ex.notes = notes;
    Ok(ex)
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
        let req = req.clone();
        let threads = self.threads;
        tokio::task::spawn_blocking(move || read(&path, &req, &rules, threads))
            .await
            .context("file reader thread panicked")
            .map_err(SourceError::Permanent)?
            .map_err(SourceError::Permanent)
    }
}
