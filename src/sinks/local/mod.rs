//! The local sink: `<dir>/<table>/<run_id>.ndjson`, one JSON row per line.
//!
//! Rows go to `<run_id>.ndjson.partial` and are renamed on commit, so a reader never sees a
//! half-written run; an abandoned run's files are deleted by the runner that finds it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;

use super::{EncodedRow, Sink, SinkError, Table};
use crate::domain::ids::RunId;

/// Writes NDJSON files under a directory.
#[derive(Debug)]
pub struct LocalSink {
    dir: PathBuf,
    open: Mutex<HashMap<(RunId, Table), BufWriter<File>>>,
}

impl LocalSink {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The final file of a run's table.
    pub fn file_of(&self, run: RunId, table: Table) -> PathBuf {
        self.dir.join(table.name()).join(format!("{run}.ndjson"))
    }

    fn partial_of(&self, run: RunId, table: Table) -> PathBuf {
        self.dir
            .join(table.name())
            .join(format!("{run}.ndjson.partial"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write_blocking(&self, run: RunId, table: Table, rows: &[EncodedRow]) -> anyhow::Result<()> {
        let mut open = self.open.lock().expect("sink lock");
        let w = match open.entry((run, table)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let path = self.partial_of(run, table);
                let f = File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                v.insert(BufWriter::with_capacity(1 << 20, f))
            }
        };
        for r in rows {
            w.write_all(r.json.as_bytes())?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    fn commit_blocking(&self, run: RunId) -> anyhow::Result<()> {
        let mut open = self.open.lock().expect("sink lock");
        let keys: Vec<(RunId, Table)> = open.keys().filter(|(r, _)| *r == run).copied().collect();
        for key in keys {
            let w = open.remove(&key).expect("present");
            let f = w
                .into_inner()
                .map_err(|e| e.into_error())
                .context("flush failed")?;
            f.sync_all().context("fsync failed")?;
            let (from, to) = (self.partial_of(run, key.1), self.file_of(run, key.1));
            fs::rename(&from, &to)
                .with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))?;
        }
        Ok(())
    }

    fn discard_blocking(&self, run: RunId) -> anyhow::Result<()> {
        self.open
            .lock()
            .expect("sink lock")
            .retain(|(r, _), _| *r != run);
        for t in Table::ALL {
            for p in [self.partial_of(run, t), self.file_of(run, t)] {
                match fs::remove_file(&p) {
                    Ok(()) => {
                        tracing::info!(file = %p.display(), "removed rows of an unfinished run")
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot remove {}", p.display()))
                    }
                }
            }
        }
        Ok(())
    }
}

fn io_err(e: anyhow::Error) -> SinkError {
    SinkError::Permanent(e)
}

impl Sink for LocalSink {
    async fn prepare(&self) -> Result<(), SinkError> {
        for t in Table::ALL {
            let d = self.dir.join(t.name());
            fs::create_dir_all(&d)
                .with_context(|| {
                    format!("cannot create output directory {} (sink.dir)", d.display())
                })
                .map_err(io_err)?;
        }
        Ok(())
    }

    async fn write(
        &self,
        run: RunId,
        table: Table,
        rows: Vec<EncodedRow>,
    ) -> Result<(), SinkError> {
        self.write_blocking(run, table, &rows)
            .with_context(|| format!("writing {table} rows of run {run}"))
            .map_err(io_err)
    }

    async fn commit(&self, run: RunId) -> Result<(), SinkError> {
        self.commit_blocking(run).map_err(io_err)
    }

    async fn discard(&self, run: RunId) -> Result<(), SinkError> {
        self.discard_blocking(run).map_err(io_err)
    }
}
