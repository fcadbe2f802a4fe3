//! Shared test helpers: event fixtures, settings, output readers, the binary.
#![allow(dead_code)]

pub mod bqemu;
#[allow(unused_imports)]
pub use bqemu::python;
pub mod echo;
pub mod events;
pub mod fake_ecb;
pub mod fake_posthog;
pub mod faulty;
pub mod hogql;
pub mod pg;
pub mod process;
pub mod proxy;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use attrsync::config::{LoadOptions, Settings};

/// Settings from the embedded default plus `ATTRSYNC__…` pairs (never the process env).
pub fn settings(pairs: &[(&str, &str)]) -> Settings {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(&LoadOptions {
        env: Some(env),
        ..Default::default()
    })
    .expect("test settings load")
}

/// Polls `f` until it is true (then `true`) or `timeout` passes (then `false`).
pub async fn eventually<F, Fut>(timeout: std::time::Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// Every JSON row of every NDJSON file of a local-sink table.
pub fn read_table(out: &Path, table: &str) -> Vec<serde_json::Value> {
    let dir = out.join(table);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(d) => d
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
            .collect(),
        Err(_) => return vec![],
    };
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).expect("sink rows are JSON"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A bundled sample file by absolute path (binaries and tests run in temporary directories).
fn bundled(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/sample")
        .join(name)
        .display()
        .to_string()
}

/// The bundled sample events.
pub fn sample_events() -> String {
    bundled("events.ndjson.gz")
}

/// The bundled sample ad metrics.
pub fn sample_ads() -> String {
    bundled("ad_metrics.ndjson")
}

/// The compiled `attrsync` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_attrsync"))
}

/// Runs the binary in `dir` with only the given environment (plus PATH), returning
/// (exit code, stdout, stderr).
pub fn run_bin(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("ATTRSYNC__ADS__FILE__PATH", sample_ads())
        .envs(env.iter().copied())
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
