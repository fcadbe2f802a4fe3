//! `[source]` for `kind = "file"`: a file to read.

use std::path::PathBuf;

use crate::config::{Problems, SourceSettings};

/// Validated file-source settings.
#[derive(Debug, Clone)]
pub struct FileConfig {
    pub(super) path: PathBuf,
}

impl FileConfig {
    pub fn from_settings(s: &SourceSettings) -> Result<Self, Problems> {
        if s.path.as_os_str().is_empty() {
            let mut p = Problems::default();
            p.bad(
                "source.path",
                "is empty; name the NDJSON export file to read (e.g. data/sample/events.ndjson.gz)",
            );
            return Err(p);
        }
        Ok(Self {
            path: s.path.clone(),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}
