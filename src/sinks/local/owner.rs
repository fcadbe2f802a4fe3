//! Which run store the output directory belongs to (`<dir>/.attrsync-store`): run ids restart
//! at 1 in a new store, so another store's output is refused instead of overwritten.

use std::fs;

use anyhow::Context;

use super::{io_err, LocalSink};
use crate::sinks::{SinkError, SinkOwner};

/// The file naming the run store the directory belongs to.
pub const OWNER_FILE: &str = ".attrsync-store";

/// What `OWNER_FILE` holds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Marker {
    store_id: String,
    run_store: String,
    marked_at: String,
}

impl LocalSink {
    /// Checks (or records) which store the directory belongs to.
    pub(super) fn claim_blocking(&self, owner: &SinkOwner) -> Result<Vec<String>, SinkError> {
        let path = self.dir.join(OWNER_FILE);
        let refuse = |msg: String| Err(SinkError::Permanent(anyhow::anyhow!(msg)));
        match fs::read_to_string(&path) {
            Ok(text) => {
                let m: Marker = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not attrsync's store marker", path.display()))
                    .map_err(io_err)?;
                if m.store_id == owner.store_id {
                    return Ok(Vec::new());
                }
                refuse(format!(
                    "sink.dir {} holds the output of another run store ({}, {}), but this run store is {} ({}): \
                     its runs would be mixed with (and overwrite) those files. Point sink.dir at a new directory, \
                     or move the old one aside, or restore the run store that wrote it",
                    self.dir.display(),
                    short(&m.store_id),
                    m.run_store,
                    short(&owner.store_id),
                    owner.store_label
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut notes = Vec::new();
                if self.has_output() && !owner.has_history {
                    return refuse(format!(
                        "sink.dir {} holds output that this run store ({}, {}) did not write: the store is new, so its \
                         run ids start again at 1 and would overwrite those files. Point sink.dir at a new directory, \
                         or move the old one aside, or restore the run store that wrote it",
                        self.dir.display(),
                        short(&owner.store_id),
                        owner.store_label
                    ));
                }
                if !self.has_output() && owner.has_history {
                    notes.push(format!(
                        "sink.dir {} is empty but the run store has earlier runs: events already read are not written \
                         again (reset the run store too to rebuild everything; see README, Operations)",
                        self.dir.display()
                    ));
                }
                let marker = Marker {
                    store_id: owner.store_id.clone(),
                    run_store: owner.store_label.clone(),
                    marked_at: crate::domain::time::Timestamp::now().to_string(),
                };
                fs::write(
                    &path,
                    serde_json::to_string_pretty(&marker).expect("marker serialises"),
                )
                .with_context(|| format!("cannot write {} (sink.dir)", path.display()))
                .map_err(io_err)?;
                Ok(notes)
            }
            Err(e) => Err(io_err(
                anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
            )),
        }
    }
}

/// A store id as people read it (its first 8 characters).
fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}
