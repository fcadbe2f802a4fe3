//! Named fault-injection points for crash-safety tests, off unless an environment variable
//! names them: `ATTRSYNC_FAILPOINT_<NAME>=pause` stops there until the process is killed;
//! `=wait:<file>` stops until the file exists; `=after:<n>` lets the first n hits pass, then
//! pauses. Each stop is announced on stderr.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Between the sink's acknowledgement and the run-store commit.
pub const BEFORE_COMMIT: &str = "before_commit";
/// After extraction, before attribution and loading.
pub const AFTER_EXTRACT: &str = "after_extract";
/// During the load, after the touchpoints table was written and before the others.
pub const AFTER_TOUCHPOINTS: &str = "after_touchpoints";
/// After every row was written and checked, before the sink makes them final (BigQuery: the
/// commit marker in `runs`).
pub const BEFORE_SINK_COMMIT: &str = "before_sink_commit";

static HITS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

async fn pause_forever() {
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Honours the failpoint `name` if it is set.
pub async fn hit(name: &str) {
    let var = format!("ATTRSYNC_FAILPOINT_{}", name.to_ascii_uppercase());
    let Ok(action) = std::env::var(&var) else {
        return;
    };
    let hits = {
        let mut h = HITS.lock().expect("failpoint lock");
        let n = h
            .get_or_insert_with(HashMap::new)
            .entry(name.to_string())
            .or_default();
        *n += 1;
        *n
    };
    if let Some(n) = action.strip_prefix("after:") {
        if hits <= n.parse::<u64>().unwrap_or(0) {
            return;
        }
        eprintln!("failpoint {name} reached ({action})");
        pause_forever().await;
    }
    eprintln!("failpoint {name} reached ({action})");
    if action == "pause" {
        pause_forever().await;
    }
    if let Some(file) = action.strip_prefix("wait:") {
        while !std::path::Path::new(file).exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("failpoint {name} released");
    }
}
