//! The daemon as an operator sees it: the loop, signals, health and metrics endpoints,
//! backfill and check, each through the real binary.

#[path = "../support/mod.rs"]
mod support;

mod backfill;
mod endpoints;
mod lifecycle;

use std::path::Path;
use std::time::{Duration, Instant};

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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// Polls until `f` is true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The runs `status --json` lists, newest first.
pub fn runs(dir: &Path, env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let (code, out, err) = support::run_bin(dir, &["status", "--json", "--limit", "100"], env);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
