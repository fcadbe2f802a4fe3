//! The `bigquery_export` source on the emulator: a table shaped like PostHog's BigQuery batch
//! export (its events model: properties as a JSON string or JSON, day-partitioned on
//! `timestamp`), loaded with generated events, read into the same rows the file source writes
//! from the same events; late rows arrive in the next cycle and nothing is written twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use attrsync::cli::Context;
use attrsync::domain::time::Timestamp;
use attrsync::generate::{generate, GenerateOptions, Shape};
use attrsync::pipeline::{Outcome, RunError, RunSummary};
use attrsync::sources::Source;
use attrsync::store::{RunStore, Trigger};
use serde_json::{json, Value};

use crate::support::bqemu::{Emulator, PROJECT};
use crate::support::faulty::{Fault, Faulty};
use crate::support::read_table;

const RULE_MODELS: [&str; 6] = [
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
];

/// Generated events (PostHog export shape), oldest first.
pub fn events(dir: &Path, persons: u64, days: u32) -> Vec<Value> {
    let out = dir.join("events.ndjson");
    generate(
        &GenerateOptions {
            persons,
            days,
            seed: 11,
            end: Timestamp::now().date(),
            out: out.clone(),
            shape: Shape::Export,
            ads_out: None,
        },
        |_, _| {},
    )
    .unwrap();
    let mut evs: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    evs.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    evs
}

/// PostHog's person after merges: every distinct id an `$identify` joined gets the
/// identified one.
pub fn person_ids(evs: &[Value]) -> HashMap<String, String> {
    let mut person = HashMap::new();
    for e in evs.iter().filter(|e| e["event"] == "$identify") {
        let user = e["distinct_id"].as_str().unwrap().to_string();
        if let Some(anon) = e["properties"]["$anon_distinct_id"].as_str() {
            person.insert(anon.to_string(), user.clone());
        }
        person.insert(user.clone(), user);
    }
    person
}

/// The export table, with or without JSON-typed properties and `person_id`.
pub async fn export_table(emu: &Emulator, table: &str, json_properties: bool) {
    let props = if json_properties { "JSON" } else { "STRING" };
    let fields = json!([
        {"name": "uuid", "type": "STRING"}, {"name": "event", "type": "STRING"},
        {"name": "properties", "type": props}, {"name": "elements", "type": "STRING"},
        {"name": "set", "type": "STRING"}, {"name": "set_once", "type": "STRING"},
        {"name": "distinct_id", "type": "STRING"}, {"name": "team_id", "type": "INT64"},
        {"name": "ip", "type": "STRING"}, {"name": "site_url", "type": "STRING"},
        {"name": "timestamp", "type": "TIMESTAMP"},
        {"name": "bq_ingested_timestamp", "type": "TIMESTAMP"},
        {"name": "person_id", "type": "STRING"}
    ]);
    emu.create_table(
        "posthog",
        json!({
            "tableReference": {"projectId": PROJECT, "datasetId": "posthog", "tableId": table},
            "schema": {"fields": fields},
            "timePartitioning": {"type": "DAY", "field": "timestamp"}
        }),
    )
    .await;
}

/// Export rows for `evs`, each written `delay_secs` after its timestamp (or at `at`).
pub fn rows(evs: &[Value], person: &HashMap<String, String>, at: Option<Timestamp>) -> Vec<Value> {
    evs.iter()
        .map(|e| {
            let ts = Timestamp::parse(e["timestamp"].as_str().unwrap()).unwrap();
            let written = at.unwrap_or(ts.add_micros(300_000_000));
            let distinct = e["distinct_id"].as_str().unwrap();
            json!({
                "uuid": e["uuid"], "event": e["event"],
                "properties": e["properties"].to_string(),
                "elements": "", "set": null, "set_once": null,
                "distinct_id": distinct, "team_id": 1, "ip": null, "site_url": "",
                "timestamp": ts.to_string(), "bq_ingested_timestamp": written.to_string(),
                "person_id": person.get(distinct).cloned().unwrap_or_else(|| distinct.to_string()),
            })
        })
        .collect()
}

/// The events of the last two days of up to 8 persons who bought then (late), and the rest.
pub fn split_late(evs: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let recent = Timestamp::now().date().add_days(-2).to_string();
    let late_persons: HashSet<&str> = evs
        .iter()
        .filter(|e| e["event"] == "purchase" && e["timestamp"].as_str().unwrap() >= recent.as_str())
        .map(|e| e["distinct_id"].as_str().unwrap())
        .take(8)
        .collect();
    assert!(late_persons.len() >= 3, "late persons to test with");
    evs.iter().cloned().partition(|e| {
        late_persons.contains(e["distinct_id"].as_str().unwrap())
            && e["timestamp"].as_str().unwrap() >= recent.as_str()
    })
}

/// One cycle into a local sink under `dir`, with `env` on top of the defaults.
pub async fn cycle(dir: &Path, env: &[(&str, &str)]) -> RunSummary {
    try_cycle(dir, env).await.0.unwrap()
}

/// One cycle; its outcome, and the events cursor stored after it.
async fn try_cycle(
    dir: &Path,
    env: &[(&str, &str)],
) -> (Result<RunSummary, RunError>, Option<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join("out").display().to_string();
    let db = format!("sqlite://{}", dir.join("runs.db").display());
    let mut all: Vec<(&str, &str)> = vec![
        ("ATTRSYNC__SINK__DIR", &out),
        ("ATTRSYNC__RUN_STORE__URL", &db),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    all.extend_from_slice(env);
    let ctx = Context::new(crate::support::settings(&all));
    let p = ctx.pipeline().await.unwrap();
    p.store().migrate().await.unwrap();
    let outcome = match p.run_once(Trigger::Manual).await {
        Ok(Outcome::Completed(s)) => Ok(*s),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    let job = p.source().job();
    (outcome, p.store().cursor(&job, "events").await.unwrap())
}

pub fn export_env<'a>(endpoint: &'a str, table: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("ATTRSYNC__SOURCE__KIND", "bigquery_export"),
        ("ATTRSYNC__BIGQUERY_EXPORT__TABLE", table),
        ("ATTRSYNC__BIGQUERY_EXPORT__SETTLE", "0s"),
        ("ATTRSYNC__BIGQUERY_EXPORT__PAGE_SIZE", "700"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", endpoint),
    ]
}

/// Row key → the row, for one table of a local sink.
fn by_key(out: &Path, table: &str) -> BTreeMap<String, Value> {
    read_table(out, table)
        .into_iter()
        .map(|r| (r["row_key"].as_str().unwrap().to_string(), r))
        .collect()
}

/// The same keys, credits to 1e-9 and value micros exactly; returns the credit rows compared.
fn assert_same(
    a: &Path,
    b: &Path,
    models: Option<&[&str]>,
    keys: Option<&HashSet<String>>,
) -> usize {
    let mut compared = 0;
    for table in ["conversions", "touchpoints", "attribution_credits"] {
        if keys.is_some() && table == "touchpoints" {
            continue;
        }
        let keep = |(_, r): &(&String, &Value)| {
            models.is_none_or(|m| {
                r.get("model")
                    .is_none_or(|x| m.contains(&x.as_str().unwrap()))
            }) && keys.is_none_or(|ks| ks.contains(r["conversion_id"].as_str().unwrap()))
        };
        let (ra, rb) = (by_key(a, table), by_key(b, table));
        let ka: Vec<&String> = ra.iter().filter(keep).map(|(k, _)| k).collect();
        let kb: Vec<&String> = rb.iter().filter(keep).map(|(k, _)| k).collect();
        assert_eq!(ka, kb, "{table}: the same row keys");
        assert!(!ka.is_empty(), "{table}: rows to compare");
        for k in ka {
            let (x, y) = (&ra[k], &rb[k]);
            if let (Some(cx), Some(cy)) = (x["credit"].as_f64(), y["credit"].as_f64()) {
                assert!((cx - cy).abs() < 1e-9, "{table} {k}: credit {cx} vs {cy}");
                compared += 1;
            }
            for field in ["value_micros", "credited_value_micros", "channel", "model"] {
                assert_eq!(x.get(field), y.get(field), "{table} {k}: {field}");
            }
        }
    }
    compared
}

/// An emulator, 150 generated persons over `days`, and the file source's run on them
/// (`<dir>/file/out`).
struct Setup {
    emu: Emulator,
    dir: tempfile::TempDir,
    evs: Vec<Value>,
    person: HashMap<String, String>,
}

async fn setup(days: u32) -> Setup {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let evs = events(dir.path(), 150, days);
    let person = person_ids(&evs);
    let file = dir.path().join("events.ndjson").display().to_string();
    cycle(
        &dir.path().join("file"),
        &[("ATTRSYNC__SOURCE__PATH", &file)],
    )
    .await;
    Setup {
        emu,
        dir,
        evs,
        person,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_source_writes_what_the_file_source_writes_from_the_same_events() {
    let Setup {
        emu,
        dir,
        evs,
        person,
    } = setup(6).await;

    let endpoint = emu.endpoint();
    for (table, json_properties) in [("events", false), ("events_json", true)] {
        export_table(&emu, table, json_properties).await;
        emu.insert("posthog", table, &rows(&evs, &person, None))
            .await;
        // The export is at-least-once: a batch written twice changes nothing.
        emu.insert("posthog", table, &rows(&evs[..40], &person, None))
            .await;
        let name = format!("{PROJECT}.posthog.{table}");
        let run_dir = dir.path().join(table);
        let s = cycle(&run_dir, &export_env(&endpoint, &name)).await;
        assert!(s.conversions > 10, "{s:?}");
        let compared = assert_same(
            &dir.path().join("file/out"),
            &run_dir.join("out"),
            None,
            None,
        );
        assert!(compared > 100, "{compared} credits compared");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_late_arrive_in_the_next_cycle_and_nothing_is_written_twice() {
    let Setup {
        emu,
        dir,
        evs,
        person,
    } = setup(4).await;

    // Conversions of the last two days (and their sessions' events) reach BigQuery late: a
    // phone that was offline, an export batch that failed and was retried.
    let (late, on_time) = split_late(&evs);
    export_table(&emu, "events", false).await;
    emu.insert("posthog", "events", &rows(&on_time, &person, None))
        .await;
    let endpoint = emu.endpoint();
    let name = format!("{PROJECT}.posthog.events");
    let env = export_env(&endpoint, &name);
    let run_dir = dir.path().join("export");
    let first = cycle(&run_dir, &env).await;
    let first_keys: HashSet<String> = by_key(&run_dir.join("out"), "conversions")
        .into_keys()
        .collect();

    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    emu.insert(
        "posthog",
        "events",
        &rows(&late, &person, Some(Timestamp::now())),
    )
    .await;
    let second = cycle(&run_dir, &env).await;
    let all = by_key(&run_dir.join("out"), "conversions");
    let late_keys: HashSet<String> = all
        .keys()
        .filter(|k| !first_keys.contains(*k))
        .cloned()
        .collect();
    let late_purchases = late
        .iter()
        .filter(|e| e["event"] == "purchase" || e["event"] == "signed_up")
        .count();
    assert_eq!(
        late_keys.len(),
        late_purchases,
        "each late conversion once: {first:?} {second:?}"
    );
    assert_eq!(
        second.conversions as usize, late_purchases,
        "the second cycle writes only the late ones"
    );
    assert!(second.read.late_events >= late.len() as u64, "{second:?}");
    // Every conversion once across both cycles, as the file source saw them all.
    let file_keys: HashSet<String> = by_key(&dir.path().join("file/out"), "conversions")
        .into_keys()
        .collect();
    let ours: HashSet<String> = all.into_keys().collect();
    assert_eq!(ours, file_keys);
    // The late conversions' journeys were read back from history: rule-based credits match.
    let compared = assert_same(
        &dir.path().join("file/out"),
        &run_dir.join("out"),
        Some(&RULE_MODELS),
        Some(&late_keys),
    );
    assert!(compared >= late_purchases * RULE_MODELS.len(), "{compared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_each_missing_column_and_a_missing_table_setting() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    emu.create_table(
        "posthog",
        json!({
            "tableReference": {"projectId": PROJECT, "datasetId": "posthog", "tableId": "old"},
            "schema": {"fields": [
                {"name": "uuid", "type": "STRING"}, {"name": "event", "type": "STRING"},
                {"name": "properties", "type": "INT64"}, {"name": "distinct_id", "type": "STRING"},
                {"name": "timestamp", "type": "TIMESTAMP"}
            ]}
        }),
    )
    .await;
    let endpoint = emu.endpoint();
    let table = format!("{PROJECT}.posthog.old");
    let db = format!("sqlite://{}", dir.path().join("runs.db").display());
    let mut env = export_env(&endpoint, &table);
    env.push(("ATTRSYNC__RUN_STORE__URL", &db));
    let (code, out, err) = crate::support::run_bin(dir.path(), &["check"], &env);
    assert_ne!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains("source (bigquery_export"))
        .unwrap_or_else(|| panic!("{out}{err}"));
    assert!(
        line.contains("missing column(s): bq_ingested_timestamp")
            && line.contains("properties is INT64, expected STRING or JSON"),
        "{line}"
    );
    // A good table passes and says what it found.
    export_table(&emu, "events", true).await;
    let table = format!("{PROJECT}.posthog.events");
    let mut env = export_env(&endpoint, &table);
    env.push(("ATTRSYNC__RUN_STORE__URL", &db));
    let (_, out, _) = crate::support::run_bin(dir.path(), &["check"], &env);
    assert!(
        out.lines().any(|l| l.contains("source (bigquery_export")
            && l.contains(
                "properties as JSON, person_id present, partitioned by day on timestamp"
            )),
        "{out}"
    );
    // No table configured: start-up names the key.
    let env = [
        ("ATTRSYNC__SOURCE__KIND", "bigquery_export"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__RUN_STORE__URL", db.as_str()),
    ];
    let (code, out, err) = crate::support::run_bin(dir.path(), &["run", "--once"], &env);
    assert_ne!(code, 0);
    assert!(
        format!("{out}{err}").contains("bigquery_export.table"),
        "{out}{err}"
    );
}

/// An emulator whose export table `posthog.events` holds `persons` generated persons over
/// `days`, each row written five minutes after its event.
pub async fn loaded(persons: u64, days: u32) -> (Emulator, tempfile::TempDir, Vec<Value>) {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let evs = events(dir.path(), persons, days);
    let person = person_ids(&evs);
    export_table(&emu, "events", false).await;
    emu.insert("posthog", "events", &rows(&evs, &person, None))
        .await;
    (emu, dir, evs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_reads_each_day_by_event_time_with_its_journeys() {
    let (emu, dir, _) = loaded(150, 6).await;
    let today = Timestamp::now().date();
    let (from, to) = (
        today.add_days(-3).to_string(),
        today.add_days(-1).to_string(),
    );
    let args = ["backfill", "--from", from.as_str(), "--to", to.as_str()];
    let file = dir.path().join("events.ndjson").display().to_string();
    let endpoint = emu.endpoint();
    let table = format!("{PROJECT}.posthog.events");
    for (name, mut env) in [
        ("file", vec![("ATTRSYNC__SOURCE__PATH", file.as_str())]),
        ("export", export_env(&endpoint, &table)),
    ] {
        let run_dir = dir.path().join(name);
        std::fs::create_dir_all(&run_dir).unwrap();
        env.push(("ATTRSYNC__ADS__FILE__ENABLED", "false"));
        let (code, out, err) = crate::support::run_bin(&run_dir, &args, &env);
        assert_eq!(code, 0, "{name}: {out}{err}");
    }
    let (a, b) = (dir.path().join("file/out"), dir.path().join("export/out"));
    let days: HashSet<String> = read_table(&b, "conversions")
        .iter()
        .map(|r| r["converted_at"].as_str().unwrap()[..10].to_string())
        .collect();
    assert!(
        days.len() >= 2 && days.iter().all(|d| *d >= from && *d <= to),
        "{days:?}"
    );
    // Journeys reach back before each day: rule-based credits match the file source's.
    let compared = assert_same(&a, &b, Some(&RULE_MODELS), None);
    assert!(compared > 50, "{compared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_or_fail_the_run_keeping_the_cursor() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let evs = events(dir.path(), 60, 3);
    let person = person_ids(&evs);
    let (late, on_time) = evs.split_at(evs.len() / 10);
    export_table(&emu, "events", false).await;
    emu.insert("posthog", "events", &rows(on_time, &person, None))
        .await;
    let proxy = Faulty::start(&emu.endpoint()).await;
    let endpoint = proxy.endpoint();
    let table = format!("{PROJECT}.posthog.events");
    let mut env = export_env(&endpoint, &table);
    env.push(("ATTRSYNC__BIGQUERY_EXPORT__PAGE_SIZE", "40"));
    let run_dir = dir.path().join("export");

    // A backend error and a body cut short while paging: retried, nothing lost.
    proxy.inject(
        "/queries/",
        vec![Fault::Error(503, "backendError"), Fault::Malformed],
    );
    let (first, cursor) = try_cycle(&run_dir, &env).await;
    let first = first.expect("retried past transient failures");
    let pages = proxy
        .seen()
        .iter()
        .filter(|r| r.contains("/queries/"))
        .count();
    assert!(
        pages >= 4,
        "paged through the result: {pages} page requests"
    );
    let on_time_conversions = on_time
        .iter()
        .filter(|e| e["event"] == "purchase" || e["event"] == "signed_up")
        .count();
    assert_eq!(first.conversions as usize, on_time_conversions);

    // Rows the export writes later; the query is refused: the run fails, its cause is
    // recorded and the cursor stays.
    emu.insert(
        "posthog",
        "events",
        &rows(late, &person, Some(Timestamp::now())),
    )
    .await;
    proxy.inject("/queries", vec![Fault::Error(400, "invalidQuery")]);
    let (failed, after) = try_cycle(&run_dir, &env).await;
    let err = failed.expect_err("a refused query fails the run");
    assert_eq!(err.kind, attrsync::http::ErrorKind::Permanent);
    assert_eq!(after, cursor, "the cursor does not move");
    let ctx = Context::new(crate::support::settings(&[(
        "ATTRSYNC__RUN_STORE__URL",
        &format!("sqlite://{}", run_dir.join("runs.db").display()),
    )]));
    let last = ctx
        .store()
        .await
        .unwrap()
        .recent(1)
        .await
        .unwrap()
        .remove(0);
    assert!(
        last.error
            .as_deref()
            .is_some_and(|e| e.contains("invalidQuery")),
        "{:?}",
        last.error
    );

    // The next cycle reads the late rows once.
    let (third, moved) = try_cycle(&run_dir, &env).await;
    let third = third.unwrap();
    assert_ne!(moved, cursor);
    let late_conversions = late
        .iter()
        .filter(|e| e["event"] == "purchase" || e["event"] == "signed_up")
        .count();
    assert_eq!(third.conversions as usize, late_conversions);
    let keys = read_table(&run_dir.join("out"), "conversions");
    assert_eq!(keys.len(), on_time_conversions + late_conversions);
}
