//! The local sink: `<dir>/<table>/<run_id>.ndjson`, one JSON row per line, and beside it
//! `<run_id>.keys`, the row keys the run wrote (the manifest `attrsync verify` checks against).
//!
//! Files are written as `.partial` and renamed on commit, so a reader never sees a half-written
//! run; an abandoned or failed run's files are deleted.
//!
//! The directory belongs to one run store: `<dir>/.attrsync-store` names it. Run ids restart at
//! 1 in a new store, so another store's runs are refused instead of overwriting `1.ndjson`.

pub mod latest;
mod lines;
mod owner;
pub mod performance;

pub use owner::OWNER_FILE;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;

use super::{EncodedRow, Sink, SinkError, SinkOwner, Table};
use crate::domain::ids::RunId;

struct Open {
    rows: File,
    keys: File,
}

/// Writes NDJSON files under a directory.
pub struct LocalSink {
    dir: PathBuf,
    open: Mutex<HashMap<(RunId, Table), Open>>,
    /// Converts `campaign_performance` sums to this currency too.
    reporting: Option<crate::domain::money::Currency>,
}

impl std::fmt::Debug for LocalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSink").field("dir", &self.dir).finish()
    }
}

/// The two files of a run's table.
const KINDS: [&str; 2] = ["ndjson", "keys"];

/// A run's rows of one table (key, values digest) and the keys its manifest lists.
pub type RunRows = (Vec<(String, u64)>, Option<Vec<String>>);

impl LocalSink {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            open: Mutex::new(HashMap::new()),
            reporting: None,
        }
    }

    /// Also converts `campaign_performance` sums to `currency`.
    pub fn with_reporting(mut self, currency: Option<crate::domain::money::Currency>) -> Self {
        self.reporting = currency;
        self
    }

    /// The final rows file of a run's table.
    pub fn file_of(&self, run: RunId, table: Table) -> PathBuf {
        self.path(run, table, "ndjson", false)
    }

    /// The final key manifest of a run's table.
    pub fn keys_of(&self, run: RunId, table: Table) -> PathBuf {
        self.path(run, table, "keys", false)
    }

    fn path(&self, run: RunId, table: Table, kind: &str, partial: bool) -> PathBuf {
        let suffix = if partial { ".partial" } else { "" };
        self.dir
            .join(table.name())
            .join(format!("{run}.{kind}{suffix}"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether any committed rows file of any table exists.
    pub(super) fn has_output(&self) -> bool {
        Table::ALL.iter().any(|t| self.holds_table(*t))
    }

    fn holds_table(&self, t: Table) -> bool {
        fs::read_dir(self.dir.join(t.name())).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "ndjson"))
        })
    }

    fn write_blocking(&self, run: RunId, table: Table, rows: &[EncodedRow]) -> anyhow::Result<()> {
        let mut open = self.open.lock().expect("sink lock");
        let w = match open.entry((run, table)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let create = |kind: &str| -> anyhow::Result<File> {
                    let path = self.path(run, table, kind, true);
                    File::create(&path).with_context(|| format!("cannot create {}", path.display()))
                };
                v.insert(Open {
                    rows: create("ndjson")?,
                    keys: create("keys")?,
                })
            }
        };
        lines::write_lines(&mut w.rows, rows.iter().map(|r| r.json.as_str()))?;
        lines::write_lines(&mut w.keys, rows.iter().map(|r| r.row_key.as_str()))?;
        Ok(())
    }

    fn commit_blocking(&self, run: RunId) -> anyhow::Result<()> {
        let mut open = self.open.lock().expect("sink lock");
        let keys: Vec<(RunId, Table)> = open.keys().filter(|(r, _)| *r == run).copied().collect();
        for key in keys {
            let o = open.remove(&key).expect("present");
            for (kind, f) in KINDS.into_iter().zip([o.rows, o.keys]) {
                f.sync_all().context("fsync failed")?;
                let (from, to) = (
                    self.path(run, key.1, kind, true),
                    self.path(run, key.1, kind, false),
                );
                fs::rename(&from, &to).with_context(|| {
                    format!("cannot rename {} to {}", from.display(), to.display())
                })?;
            }
        }
        Ok(())
    }

    fn discard_blocking(&self, run: RunId) -> anyhow::Result<()> {
        self.open
            .lock()
            .expect("sink lock")
            .retain(|(r, _), _| *r != run);
        for t in Table::ALL {
            for kind in KINDS {
                for p in [
                    self.path(run, t, kind, true),
                    self.path(run, t, kind, false),
                ] {
                    match fs::remove_file(&p) {
                        Ok(()) => {
                            tracing::info!(file = %p.display(), "removed output of an unfinished run")
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(e).with_context(|| format!("cannot remove {}", p.display()))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The rows found in a run's rows file (key and values digest), and the keys its manifest
    /// lists (if present).
    pub fn run_keys(&self, run: RunId, table: Table) -> anyhow::Result<RunRows> {
        let rows = self.file_of(run, table);
        let mut found = Vec::new();
        match File::open(&rows) {
            Ok(f) => {
                for (i, line) in BufReader::new(f).lines().enumerate() {
                    let line = line.with_context(|| format!("reading {}", rows.display()))?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let v: serde_json::Value = serde_json::from_str(&line).with_context(|| {
                        format!("{} line {} is not JSON", rows.display(), i + 1)
                    })?;
                    let values = crate::domain::checksum::values_of(table, |f| v.get(f).cloned());
                    match v["row_key"].as_str() {
                        Some(k) => found.push((k.to_string(), values)),
                        None => anyhow::bail!("{} line {} has no row_key", rows.display(), i + 1),
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", rows.display())),
        }
        let manifest = match fs::read_to_string(self.keys_of(run, table)) {
            Ok(text) => Some(
                text.lines()
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            Err(_) => None,
        };
        Ok((found, manifest))
    }
}

pub(super) fn io_err(e: anyhow::Error) -> SinkError {
    SinkError::Permanent(e)
}

impl Sink for LocalSink {
    async fn prepare(&self, owner: &SinkOwner) -> Result<Vec<String>, SinkError> {
        fs::create_dir_all(&self.dir)
            .with_context(|| {
                format!(
                    "cannot create output directory {} (sink.dir)",
                    self.dir.display()
                )
            })
            .map_err(io_err)?;
        let notes = self.claim_blocking(owner)?;
        for t in Table::ALL {
            let d = self.dir.join(t.name());
            fs::create_dir_all(&d)
                .with_context(|| {
                    format!("cannot create output directory {} (sink.dir)", d.display())
                })
                .map_err(io_err)?;
        }
        Ok(notes)
    }

    async fn write(
        &self,
        run: RunId,
        table: Table,
        rows: Vec<EncodedRow>,
    ) -> Result<u64, SinkError> {
        self.write_blocking(run, table, &rows)
            .with_context(|| format!("writing {table} rows of run {run}"))
            .map_err(io_err)?;
        let n = rows.len() as u64;
        // Freeing a chunk's strings is work the next write need not wait for.
        rayon::spawn(move || drop(rows));
        Ok(n)
    }

    async fn commit(&self, run: RunId, _job: &str) -> Result<(), SinkError> {
        self.commit_blocking(run).map_err(io_err)
    }

    async fn holds(&self, table: Table) -> bool {
        self.holds_table(table)
    }

    async fn refresh_derived(&self) -> Result<(), SinkError> {
        let dir = self.dir.clone();
        let reporting = self.reporting;
        let n = tokio::task::spawn_blocking(move || performance::rebuild(&dir, reporting))
            .await
            .map_err(|e| {
                SinkError::Permanent(anyhow::anyhow!("campaign_performance panicked: {e}"))
            })?
            .map_err(|e| SinkError::Transient(e.context("cannot rebuild campaign_performance")))?;
        if n > 0 {
            tracing::info!(rows = n, file = %self.dir.join(performance::FILE).display(), "campaign_performance rebuilt");
        }
        Ok(())
    }

    async fn discard(&self, run: RunId) -> Result<(), SinkError> {
        self.discard_blocking(run).map_err(io_err)
    }
}
