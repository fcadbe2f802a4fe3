//! Where a file source stands: the file's identity (absolute path and a digest of its first
//! bytes) and the byte offset (of the decompressed stream) up to which its lines were read.
//! Lines appended after the offset are new whatever their timestamps; a file whose beginning
//! changed is a new file.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::sources::horizon::Horizon;

/// How many leading bytes identify a file.
pub const HEAD_BYTES: usize = 64 * 1024;

/// The committed position in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCursor {
    /// Absolute path.
    pub path: String,
    /// How many leading bytes `head_sha1` covers (the file may have been shorter).
    pub head_len: u64,
    pub head_sha1: String,
    /// Bytes read (of the decompressed stream), ending after a complete line.
    pub offset: u64,
}

/// A stored cursor of a file source.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    Offset(FileCursor),
    /// Before byte offsets: a horizon on event time (read once to upgrade).
    Legacy(Horizon),
}

impl Stored {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if let Ok(c) = serde_json::from_str::<FileCursor>(text) {
            return Ok(Stored::Offset(c));
        }
        Horizon::parse(text)
            .map(Stored::Legacy)
            .context("the stored file cursor is not valid")
    }
}

impl FileCursor {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("cursor serialises")
    }
}

/// The hex SHA-1 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let d = Sha1::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens a file, decompressing gzip (one or more members) when its magic bytes say so; with
/// the stream's length when it is known (a plain file), which lets the reader size its tables.
pub fn open(path: &Path) -> anyhow::Result<(Box<dyn Read + Send>, Option<u64>)> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open event file {}", path.display()))?;
    let mut peek = std::io::BufReader::with_capacity(1 << 20, file);
    let gz = {
        let buf = peek
            .fill_buf()
            .with_context(|| format!("cannot read {}", path.display()))?;
        buf.len() >= 2 && buf[..2] == [0x1f, 0x8b]
    };
    Ok(if gz {
        (Box::new(flate2::read::MultiGzDecoder::new(peek)), None)
    } else {
        let len = peek.get_ref().metadata().ok().map(|m| m.len());
        (Box::new(peek), len)
    })
}

/// Why a stored cursor does not apply to the file now at `path`, if it does not.
pub fn mismatch(c: &FileCursor, path: &str, head: &[u8]) -> Option<String> {
    if c.path != path {
        return Some(format!(
            "source.path is now {path}, the cursor was for {}: reading it as a new file",
            c.path
        ));
    }
    let n = c.head_len as usize;
    if head.len() < n || digest(&head[..n]) != c.head_sha1 {
        return Some(format!(
            "the beginning of {path} changed since the last run (a new file under the same name): reading it from the start"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_applies_only_to_the_same_file_with_the_same_start() {
        let head = b"{\"a\":1}\n{\"b\":2}\n".to_vec();
        let c = FileCursor {
            path: "/data/e.ndjson".into(),
            head_len: 8,
            head_sha1: digest(&head[..8]),
            offset: 16,
        };
        assert_eq!(mismatch(&c, "/data/e.ndjson", &head), None);
        let mut longer = head.clone();
        longer.extend_from_slice(b"{\"c\":3}\n");
        assert_eq!(mismatch(&c, "/data/e.ndjson", &longer), None, "appended");
        assert!(mismatch(&c, "/other/e.ndjson", &head)
            .unwrap()
            .contains("new file"));
        let mut changed = head.clone();
        changed[2] = b'x';
        assert!(mismatch(&c, "/data/e.ndjson", &changed)
            .unwrap()
            .contains("changed"));
        assert!(mismatch(&c, "/data/e.ndjson", b"{\"a").is_some(), "shorter");
        assert_eq!(Stored::parse(&c.to_text()).unwrap(), Stored::Offset(c));
        let legacy = r#"{"from":"2024-01-01T00:00:00Z","tail":[]}"#;
        assert!(matches!(Stored::parse(legacy).unwrap(), Stored::Legacy(_)));
        assert!(Stored::parse("nonsense").is_err());
    }
}
