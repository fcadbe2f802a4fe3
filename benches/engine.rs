//! The BigQuery engine on the emulator against the in-memory engine on the same events. For
//! each size: generated persons (`generate`, PostHog export shape, 30 days, seed 9) are loaded
//! into a table shaped like PostHog's BigQuery export (one load job from a local NDJSON file),
//! then `attrsync run --once` runs with `engine.kind = "bigquery"` (export source, BigQuery
//! sink) and, beside it, with the in-memory engine on the same events (file source, local
//! sink). Prints wall time, query jobs, distinct paths and attrsync's own peak memory; both
//! runs must report the same conversions, touchpoints and credits.
//!
//! Needs the .venv that scripts/test creates and /usr/bin/time. Run: `scripts/bench engine`
//! (BENCH_PERSONS, default 100000, a comma-separated list; BENCH_DIR, default bench-out).

#[path = "../tests/support/bqemu.rs"]
#[allow(dead_code)]
mod bqemu;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use attrsync::domain::time::Timestamp;
use attrsync::generate::{generate, GenerateOptions, Shape};
use serde_json::{json, Value};

/// One measured run.
struct Measured {
    secs: f64,
    peak_mb: f64,
    stdout: String,
    stderr: String,
}

/// Runs attrsync with `env` under /usr/bin/time.
fn measure(dir: &Path, env: &[(&str, String)]) -> Measured {
    let time_file = dir.join("time.txt");
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&time_file)
        .arg(env!("CARGO_BIN_EXE_attrsync"))
        .args(["run", "--once"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("ATTRSYNC__ADS__FILE__ENABLED", "false")
        .env("ATTRSYNC__ATTRIBUTION__BOOTSTRAP_SAMPLES", "0")
        .env(
            "ATTRSYNC__RUN_STORE__URL",
            format!("sqlite://{}", dir.join("runs.db").display()),
        )
        .output()
        .expect("attrsync runs");
    let secs = started.elapsed().as_secs_f64();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let kb: f64 = std::fs::read_to_string(&time_file)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0.0);
    Measured {
        secs,
        peak_mb: kb / 1024.0,
        stdout,
        stderr,
    }
}

/// The first number on the summary line that starts with `label`.
fn summary(out: &str, label: &str) -> u64 {
    out.lines()
        .find_map(|l| {
            let rest = l.trim_start().strip_prefix(label)?;
            rest.split_whitespace().find_map(|w| w.parse().ok())
        })
        .unwrap_or_else(|| panic!("no '{label}' in:\n{out}"))
}

/// The value of `key=` in the engine's log.
fn logged(err: &str, key: &str) -> u64 {
    let re = regex::Regex::new(&format!(r"{key}=(\d+)")).unwrap();
    re.captures_iter(err)
        .last()
        .and_then(|c| c[1].parse().ok())
        .unwrap_or(0)
}

/// Export rows for the generated events, as PostHog's BigQuery export writes them (written five
/// minutes after each event; person_id the identified user's where `$identify` joined them).
fn export_rows(events: &Path, rows: &Path) -> u64 {
    let mut person: HashMap<String, String> = HashMap::new();
    for line in BufReader::new(std::fs::File::open(events).unwrap()).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if e["event"] == "$identify" {
            let user = e["distinct_id"].as_str().unwrap().to_string();
            if let Some(anon) = e["properties"]["$anon_distinct_id"].as_str() {
                person.insert(anon.to_string(), user.clone());
            }
        }
    }
    let mut out = BufWriter::new(std::fs::File::create(rows).unwrap());
    let mut n = 0;
    for line in BufReader::new(std::fs::File::open(events).unwrap()).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let ts = Timestamp::parse(e["timestamp"].as_str().unwrap()).unwrap();
        let distinct = e["distinct_id"].as_str().unwrap();
        let row = json!({
            "uuid": e["uuid"], "event": e["event"], "properties": e["properties"].to_string(),
            "distinct_id": distinct, "team_id": 1, "timestamp": ts.to_string(),
            "bq_ingested_timestamp": ts.add_micros(300_000_000).to_string(),
            "person_id": person.get(distinct).map(String::as_str).unwrap_or(distinct),
        });
        serde_json::to_writer(&mut out, &row).unwrap();
        out.write_all(b"\n").unwrap();
        n += 1;
    }
    out.flush().unwrap();
    n
}

async fn load(emu: &bqemu::Emulator, rows: &Path) {
    let fields = json!([
        {"name": "uuid", "type": "STRING"}, {"name": "event", "type": "STRING"},
        {"name": "properties", "type": "STRING"}, {"name": "distinct_id", "type": "STRING"},
        {"name": "team_id", "type": "INT64"}, {"name": "timestamp", "type": "TIMESTAMP"},
        {"name": "bq_ingested_timestamp", "type": "TIMESTAMP"}, {"name": "person_id", "type": "STRING"}
    ]);
    let project = bqemu::PROJECT;
    emu.create_table(
        "posthog",
        json!({
            "tableReference": {"projectId": project, "datasetId": "posthog", "tableId": "events"},
            "schema": {"fields": fields},
            "timePartitioning": {"type": "DAY", "field": "timestamp"}
        }),
    )
    .await;
    emu.load_ndjson("posthog", "events", rows).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<u64> = std::env::var("BENCH_PERSONS")
        .unwrap_or_else(|_| "100000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("BENCH_PERSONS: numbers"))
        .collect();
    let base = PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "bench-out".into()));
    println!("BigQuery engine on bqemulator vs the in-memory engine (generate --persons N --days 30 --seed 9, export shape)");
    println!(
        "{:>9} {:>10} {:>9} {:>6} {:>9} {:>12} {:>10} {:>12} {:>11}",
        "persons",
        "events",
        "engine_s",
        "jobs",
        "peak_MB",
        "paths",
        "memory_s",
        "memory_MB",
        "conversions"
    );
    for n in sizes {
        let dir = std::fs::canonicalize(&base)
            .unwrap_or(base.clone())
            .join(format!("engine-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let events = dir.join("events.ndjson");
        let rows = dir.join("export.ndjson");
        if !rows.exists() {
            generate(
                &GenerateOptions {
                    persons: n,
                    days: 30,
                    seed: 9,
                    end: Timestamp::now().date(),
                    out: events.clone(),
                    shape: Shape::Export,
                    ads_out: None,
                },
                |_, _| {},
            )
            .expect("generate");
            export_rows(&events, &rows);
        }
        let emu = bqemu::Emulator::start().await;
        load(&emu, &rows).await;
        let table = format!("{}.posthog.events", bqemu::PROJECT);
        let run_dir = dir.join("bigquery");
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir).unwrap();
        let pushed = measure(
            &run_dir,
            &[
                ("ATTRSYNC__ENGINE__KIND", "bigquery".into()),
                ("ATTRSYNC__SOURCE__KIND", "bigquery_export".into()),
                ("ATTRSYNC__BIGQUERY_EXPORT__TABLE", table),
                ("ATTRSYNC__BIGQUERY_EXPORT__SETTLE", "0s".into()),
                ("ATTRSYNC__BIGQUERY_EXPORT__INITIAL_DAYS", "60".into()),
                ("ATTRSYNC__SINK__KIND", "bigquery".into()),
                ("ATTRSYNC__BIGQUERY__PROJECT_ID", bqemu::PROJECT.into()),
                ("ATTRSYNC__BIGQUERY__ENDPOINT", emu.endpoint()),
                ("ATTRSYNC__BIGQUERY__TIMEOUT", "600s".into()),
            ],
        );
        drop(emu);
        let mem_dir = dir.join("memory");
        let _ = std::fs::remove_dir_all(&mem_dir);
        std::fs::create_dir_all(&mem_dir).unwrap();
        let memory = measure(
            &mem_dir,
            &[
                ("ATTRSYNC__SOURCE__PATH", events.display().to_string()),
                (
                    "ATTRSYNC__SINK__DIR",
                    mem_dir.join("out").display().to_string(),
                ),
            ],
        );
        for label in ["conversions", "touchpoints", "credits"] {
            assert_eq!(
                summary(&pushed.stdout, label),
                summary(&memory.stdout, label),
                "{label}: both engines report the same"
            );
        }
        println!(
            "{n:>9} {:>10} {:>9.1} {:>6} {:>9.0} {:>12} {:>10.1} {:>12.0} {:>11}",
            summary(&memory.stdout, "events read"),
            pushed.secs,
            logged(&pushed.stderr, "jobs"),
            pushed.peak_mb,
            logged(&pushed.stderr, "distinct_paths"),
            memory.secs,
            memory.peak_mb,
            summary(&pushed.stdout, "conversions"),
        );
    }
}
