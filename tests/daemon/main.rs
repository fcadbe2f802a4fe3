//! The daemon as an operator sees it: the loop, signals, health and metrics endpoints,
//! backfill and check, each through the real binary.

#[path = "../support/mod.rs"]
mod support;

mod backfill;
mod endpoints;
mod lifecycle;

use std::path::Path;
use std::time::Duration;

/// A small event file (a few hundred persons) in `dir`.
pub fn small_events(dir: &Path) -> String {
    let (code, _, err) = support::run_bin(
        dir,
        &[
            "generate",
            "--persons",
            "200",
            "--days",
            "10",
            "--out",
            "events.ndjson",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    "events.ndjson".into()
}

/// GET `url`: (status, body), or None when nothing answers.
pub async fn get(url: &str) -> Option<(u16, String)> {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    Some((r.status().as_u16(), r.text().await.unwrap_or_default()))
}

pub use support::eventually;

/// The runs `status --json` lists, newest first.
pub fn runs(dir: &Path, env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let (code, out, err) = support::run_bin(dir, &["status", "--json", "--limit", "100"], env);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
