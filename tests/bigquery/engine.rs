//! The BigQuery engine against the in-memory engine on the emulator: two daemons, each with its
//! own run store and dataset, read the same PostHog-shaped export table; one attributes in
//! memory, the other as SQL jobs inside BigQuery. Their analyst views must hold the same rows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use attrsync::domain::time::Timestamp;
use serde_json::Value;

use crate::export::{cycle, events, export_env, export_table, person_ids, rows};
use crate::support::bqemu::{Emulator, PROJECT};
use crate::support::faulty::Faulty;
use crate::support::process::Proc;

/// A daemon's settings: the export source, the BigQuery sink in `dataset`, and `engine`.
fn env<'a>(
    endpoint: &'a str,
    table: &'a str,
    dataset: &'a str,
    engine: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let mut env = export_env(endpoint, table);
    env.extend([
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__DATASET", dataset),
        ("ATTRSYNC__ENGINE__KIND", engine),
        ("ATTRSYNC__ATTRIBUTION__BOOTSTRAP_SAMPLES", "0"),
    ]);
    env
}

/// Row key → (channel, credit, value micros, person) of a view, as text.
async fn view(emu: &Emulator, dataset: &str, table: &str) -> BTreeMap<String, Vec<Option<String>>> {
    let (value, extra) = match table {
        "attribution_credits" => (
            "credited_value_micros",
            "CAST(credit AS STRING), channel, touchpoint_id",
        ),
        "conversions" => (
            "value_micros",
            "CAST(touchpoints_in_window AS STRING), conversion_name, currency",
        ),
        _ => ("CAST(NULL AS INT64)", "channel, source, medium"),
    };
    let sql = format!(
        "SELECT row_key, person_key, CAST({value} AS STRING), {extra}, CAST(run_id AS STRING) \
         FROM `{PROJECT}.{dataset}.{table}_latest`"
    );
    emu.query(&sql)
        .await
        .into_iter()
        .map(|r| {
            let cells: Vec<Option<String>> =
                r.iter().map(|v| v.as_str().map(String::from)).collect();
            (cells[0].clone().unwrap(), cells[1..].to_vec())
        })
        .collect()
}

/// Both datasets' views hold the same rows: same keys, persons, value micros, channels and
/// counts, credits to 1e-9. Returns the credit rows compared.
async fn assert_same_views(emu: &Emulator, memory: &str, pushed: &str) -> usize {
    let mut credits = 0;
    for table in ["touchpoints", "conversions", "attribution_credits"] {
        let (a, b) = (
            view(emu, memory, table).await,
            view(emu, pushed, table).await,
        );
        assert!(!a.is_empty(), "{table}: rows to compare");
        let (ka, kb): (Vec<&String>, Vec<&String>) = (a.keys().collect(), b.keys().collect());
        if ka != kb {
            let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).take(5).collect();
            let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).take(5).collect();
            panic!(
                "{table}: {} vs {} rows; only in memory {only_a:?}, only pushed {only_b:?}",
                a.len(),
                b.len()
            );
        }
        for (k, x) in &a {
            let y = &b[k];
            // The last cell is run_id: each daemon numbers its own runs.
            for i in 0..x.len() - 1 {
                if table == "attribution_credits" && i == 2 {
                    let (cx, cy): (f64, f64) = (
                        x[i].as_deref().unwrap().parse().unwrap(),
                        y[i].as_deref().unwrap().parse().unwrap(),
                    );
                    assert!((cx - cy).abs() < 1e-9, "{k}: credit {cx} vs {cy}");
                    credits += 1;
                } else {
                    assert_eq!(x[i], y[i], "{table} {k}: cell {i}");
                }
            }
        }
    }
    credits
}

/// Event uuids in a statement's text: data must travel as parameters.
fn spliced_uuids(sql: &str, uuids: &HashSet<String>) -> Vec<String> {
    let re = regex::Regex::new(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    )
    .unwrap();
    re.find_iter(sql)
        .map(|m| m.as_str().to_string())
        .filter(|u| uuids.contains(u))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_write_the_same_rows_and_again_after_late_rows() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let evs = events(dir.path(), 150, 6);
    let person = person_ids(&evs);
    // Conversions of the last two days of some persons (and their sessions) arrive late.
    let (late, on_time) = crate::export::split_late(&evs);
    // PostHog's person id missing on a third of the rows: those join through $identify.
    let without_person = |mut rs: Vec<Value>| {
        for (i, r) in rs.iter_mut().enumerate() {
            if i % 3 == 0 {
                r["person_id"] = Value::Null;
            }
        }
        rs
    };
    export_table(&emu, "events", false).await;
    emu.insert(
        "posthog",
        "events",
        &without_person(rows(&on_time, &person, None)),
    )
    .await;
    let proxy = Faulty::start(&emu.endpoint()).await;
    let (direct, proxied) = (emu.endpoint(), proxy.endpoint());
    let table = format!("{PROJECT}.posthog.events");
    let memory = env(&direct, &table, "by_memory", "memory");
    let pushed = env(&proxied, &table, "by_bigquery", "bigquery");
    let (mem_dir, bq_dir) = (dir.path().join("memory"), dir.path().join("bigquery"));

    let a = cycle(&mem_dir, &memory).await;
    let b = cycle(&bq_dir, &pushed).await;
    assert!(a.conversions > 20, "{a:?}");
    assert_eq!(
        (b.conversions, b.touchpoints, &b.credits_by_model),
        (a.conversions, a.touchpoints, &a.credits_by_model)
    );
    assert_eq!(a.credits_by_model.len(), 8, "{a:?}");
    let compared = assert_same_views(&emu, "by_memory", "by_bigquery").await;
    assert!(compared > 500, "{compared} credits compared");

    // The late rows: written now, stamped up to two days back.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    emu.insert(
        "posthog",
        "events",
        &without_person(rows(&late, &person, Some(Timestamp::now()))),
    )
    .await;
    let a2 = cycle(&mem_dir, &memory).await;
    let b2 = cycle(&bq_dir, &pushed).await;
    let late_conversions = late
        .iter()
        .filter(|e| e["event"] == "purchase" || e["event"] == "signed_up")
        .count() as u64;
    assert_eq!(a2.conversions, late_conversions, "{a2:?}");
    assert_eq!(
        (b2.conversions, b2.touchpoints, &b2.credits_by_model),
        (a2.conversions, a2.touchpoints, &a2.credits_by_model)
    );
    assert_same_views(&emu, "by_memory", "by_bigquery").await;

    // Every statement that reads the export table bounds its partition column, with
    // parameters; no event's uuid is ever spliced into SQL.
    let uuids: HashSet<String> = evs
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_string())
        .collect();
    let statements = proxy.statements();
    let mut reading = 0;
    for sql in &statements {
        assert!(
            spliced_uuids(sql, &uuids).is_empty(),
            "data spliced into {sql}"
        );
        if sql.contains("posthog.events`") {
            reading += 1;
            let upper = sql.contains("timestamp < @") || sql.contains("timestamp <= @");
            assert!(
                sql.contains("timestamp >= @") && upper,
                "unbounded scan: {sql}"
            );
        }
    }
    // Each cycle stages its new rows and its converters' history.
    assert!(reading >= 4, "{reading} statements read the export table");
    let mut published: HashMap<&str, usize> = HashMap::new();
    for t in ["touchpoints", "conversions", "attribution_credits"] {
        let head = format!("INSERT INTO `{PROJECT}.by_bigquery.{t}` (");
        published.insert(
            t,
            statements.iter().filter(|s| s.starts_with(&head)).count(),
        );
    }
    assert!(
        published.values().all(|n| *n == 2),
        "one insert per table and cycle: {published:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_run_shows_nothing_and_a_backfill_matches_the_memory_engine() {
    let (emu, dir, _) = crate::export::loaded(120, 6).await;
    let endpoint = emu.endpoint();
    let table = format!("{PROJECT}.posthog.events");
    let count = |sql: String| {
        let emu = &emu;
        async move { emu.count(&sql).await }
    };

    // A run killed after its jobs wrote the sink tables, before the commit marker: its rows
    // are in the tables, and no view shows them.
    let crash_dir = dir.path().join("crash");
    std::fs::create_dir_all(&crash_dir).unwrap();
    let mut pushed = env(&endpoint, &table, "crashed", "bigquery");
    pushed.push(("ATTRSYNC__ADS__FILE__ENABLED", "false"));
    // `check` prepares the engine's work dataset and says so.
    let (code, out, err) = crate::support::run_bin(&crash_dir, &["check"], &pushed);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines().any(|l| l.contains("engine (bigquery)")
            && l.contains(&format!("work dataset {PROJECT}.crashed_work created"))),
        "{out}"
    );
    let mut with_failpoint = pushed.clone();
    with_failpoint.push(("ATTRSYNC_FAILPOINT_BEFORE_SINK_COMMIT", "pause"));
    let mut p = Proc::spawn(&crash_dir, &["run", "--once"], &with_failpoint);
    p.wait_for(
        "failpoint before_sink_commit reached",
        Duration::from_secs(180),
    );
    p.kill();
    let raw = count(format!(
        "SELECT COUNT(*) FROM `{PROJECT}.crashed.attribution_credits`"
    ))
    .await;
    assert!(raw > 0, "the jobs wrote the sink tables before the kill");
    emu.assert_nothing_visible("crashed").await;
    // Its rerun shows each key once, and nothing of the dead run.
    let mut again = Proc::spawn(&crash_dir, &["run", "--once"], &pushed);
    assert_eq!(
        again.wait(Duration::from_secs(180)),
        Some(0),
        "{}",
        again.stderr()
    );
    emu.assert_each_key_once_without("crashed", 1).await;

    // A backfill of three days, day by day, through both engines.
    let today = Timestamp::now().date();
    let (from, to) = (
        today.add_days(-3).to_string(),
        today.add_days(-1).to_string(),
    );
    let args = ["backfill", "--from", from.as_str(), "--to", to.as_str()];
    for (name, engine) in [
        ("backfill_memory", "memory"),
        ("backfill_bigquery", "bigquery"),
    ] {
        let run_dir = dir.path().join(name);
        std::fs::create_dir_all(&run_dir).unwrap();
        let mut e = env(&endpoint, &table, name, engine);
        e.push(("ATTRSYNC__ADS__FILE__ENABLED", "false"));
        let (code, out, err) = crate::support::run_bin(&run_dir, &args, &e);
        assert_eq!(code, 0, "{name}: {out}{err}");
        assert!(
            out.contains("3 days"),
            "{name}: progress and a summary: {out}"
        );
    }
    let days: HashSet<String> = emu
        .query(&format!(
            "SELECT DISTINCT CAST(DATE(converted_at) AS STRING) FROM `{PROJECT}.backfill_bigquery.conversions_latest`"
        ))
        .await
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    assert!(
        days.len() >= 2 && days.iter().all(|d| *d >= from && *d <= to),
        "{days:?}"
    );
    let compared = assert_same_views(&emu, "backfill_memory", "backfill_bigquery").await;
    assert!(compared > 200, "{compared} credits compared");

    // The engine without the export source does not start, and says which key to change.
    let file = dir.path().join("events.ndjson").display().to_string();
    let bad = [
        ("ATTRSYNC__ENGINE__KIND", "bigquery"),
        ("ATTRSYNC__SOURCE__PATH", file.as_str()),
    ];
    let (code, out, err) = crate::support::run_bin(dir.path(), &["run", "--once"], &bad);
    assert_ne!(code, 0);
    assert!(format!("{out}{err}").contains("engine.kind"), "{out}{err}");
}
