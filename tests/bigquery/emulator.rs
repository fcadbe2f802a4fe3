use std::path::Path;
use std::time::Duration;

use attrsync::cli::Context;
use attrsync::pipeline::Outcome;
use attrsync::sinks::{AnySink, Table};
use attrsync::store::{RunStore, Trigger};
use serde_json::{json, Value};

use crate::support::bqemu::{Emulator, PROJECT};
use crate::support::process::Proc;
use crate::support::proxy::Proxy;
use crate::support::sample_events as sample;

/// Runs one cycle in-process into `dataset`; returns the summary's rows per table.
async fn run_into(
    emu: &Emulator,
    dataset: &str,
    dir: &Path,
    extra: &[(&str, &str)],
) -> (
    std::collections::BTreeMap<Table, u64>,
    Option<(u64, u64, u64)>,
) {
    let endpoint = emu.endpoint();
    let db = format!("sqlite://{}", dir.join("runs.db").display());
    let sample = sample();
    let mut env: Vec<(&str, &str)> = vec![
        ("ATTRSYNC__SOURCE__PATH", &sample),
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", &endpoint),
        ("ATTRSYNC__BIGQUERY__DATASET", dataset),
        ("ATTRSYNC__RUN_STORE__URL", &db),
    ];
    env.extend_from_slice(extra);
    let ctx = Context::new(crate::support::settings(&env));
    let p = ctx.pipeline().await.unwrap();
    p.store().migrate().await.unwrap();
    let s = match p.run_once(Trigger::Manual).await.unwrap() {
        Outcome::Completed(s) => s,
        other => panic!("{other:?}"),
    };
    let stats = match p.sink() {
        AnySink::BigQuery(b) => {
            let st = b.stats();
            use std::sync::atomic::Ordering::Relaxed;
            Some((
                st.requests.load(Relaxed),
                st.rows.load(Relaxed),
                st.bytes.load(Relaxed),
            ))
        }
        _ => None,
    };
    (s.rows_by_table, stats)
}

/// Emulator TIMESTAMP cells are integer microseconds; BigQuery's are float seconds.
fn micros(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    if s.contains(['.', 'E', 'e']) {
        (s.parse::<f64>().unwrap() * 1e6).round() as i64
    } else {
        s.parse().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_views_and_typed_rows_from_nothing() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = run_into(&emu, "fresh", dir.path(), &[]).await;
    // Tables with day partitioning, clustering and column descriptions.
    for (table, part, cluster) in [
        ("conversions", "converted_at", "conversion_event"),
        ("touchpoints", "touched_at", "channel"),
        ("attribution_credits", "converted_at", "model"),
        ("ad_metrics", "date", "platform"),
    ] {
        let t = emu
            .table("fresh", table)
            .await
            .unwrap_or_else(|| panic!("{table} exists"));
        assert_eq!(
            t["timePartitioning"],
            json!({"type": "DAY", "field": part}),
            "{table}"
        );
        assert_eq!(t["clustering"]["fields"][0], cluster, "{table}");
        let fields = t["schema"]["fields"].as_array().unwrap();
        assert!(
            fields
                .iter()
                .all(|f| f["description"].as_str().is_some_and(|d| !d.is_empty())),
            "{table}"
        );
    }
    for view in [
        "conversions_latest",
        "touchpoints_latest",
        "attribution_credits_latest",
        "ad_metrics_latest",
        "campaign_performance",
    ] {
        emu.query(&format!("SELECT * FROM `{PROJECT}.fresh.{view}` LIMIT 1"))
            .await;
    }
    for (table, n) in &rows {
        let got = emu
            .count(&format!("SELECT COUNT(*) FROM `{PROJECT}.fresh.{table}`"))
            .await;
        assert_eq!(got as u64, *n, "{table}");
    }
    // Types: timestamps, integer micros, float credits.
    let r = emu
        .query(&format!(
            "SELECT converted_at, value_micros, currency FROM `{PROJECT}.fresh.conversions` WHERE value_micros IS NOT NULL ORDER BY converted_at LIMIT 1"
        ))
        .await;
    assert!(micros(&r[0][0]) > 1_700_000_000_000_000);
    assert!(r[0][1].as_str().unwrap().parse::<i64>().unwrap() > 0);
    let schema = emu.table("fresh", "attribution_credits").await.unwrap();
    let ty = |n: &str| {
        schema["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .unwrap()["type"]
            .clone()
    };
    assert_eq!(
        (
            ty("credit"),
            ty("credited_value_micros"),
            ty("converted_at")
        ),
        (json!("FLOAT"), json!("INTEGER"), json!("TIMESTAMP"))
    );
    let sums = emu
        .query(&format!("SELECT conversion_id, model, SUM(credit) FROM `{PROJECT}.fresh.attribution_credits_latest` GROUP BY 1, 2"))
        .await;
    assert!(sums
        .iter()
        .all(|r| (r[2].as_str().unwrap().parse::<f64>().unwrap() - 1.0).abs() < 1e-9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_of_the_same_data_leaves_each_key_once_in_the_latest_views() {
    let emu = Emulator::start().await;
    let a = tempfile::tempdir().unwrap();
    let (first, _) = run_into(&emu, "twice", a.path(), &[]).await;
    // The cursor forgotten: the same rows are streamed again, by run 2.
    let db = format!("sqlite://{}", a.path().join("runs.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("DELETE FROM source_cursors")
        .execute(&pool)
        .await
        .unwrap();
    run_into(&emu, "twice", a.path(), &[]).await;
    for (table, n) in &first {
        if *table == Table::ChannelCredit {
            // A per-run summary: each run's rows have their own keys and all stay.
            let latest = emu
                .count(&format!(
                    "SELECT COUNT(*) FROM `{PROJECT}.twice.{table}_latest`"
                ))
                .await;
            assert_eq!(latest as u64, 2 * n, "{table}: a summary per run");
            continue;
        }
        let raw = emu
            .count(&format!("SELECT COUNT(*) FROM `{PROJECT}.twice.{table}`"))
            .await;
        assert_eq!(raw as u64, 2 * n, "{table}: both copies are in the table");
        let latest = emu
            .count(&format!(
                "SELECT COUNT(*) FROM `{PROJECT}.twice.{table}_latest`"
            ))
            .await;
        let keys = emu
            .count(&format!(
                "SELECT COUNT(DISTINCT row_key) FROM `{PROJECT}.twice.{table}_latest`"
            ))
            .await;
        assert_eq!(
            (latest as u64, keys as u64),
            (*n, *n),
            "{table}: one row per key"
        );
        let run2 = emu
            .count(&format!(
                "SELECT COUNT(*) FROM `{PROJECT}.twice.{table}_latest` WHERE run_id = 2"
            ))
            .await;
        assert_eq!(run2 as u64, *n, "{table}: the newest copy wins");
    }
    // A fresh run store would number its runs from 1 again: the dataset refuses it.
    let b = tempfile::tempdir().unwrap();
    let endpoint = emu.endpoint();
    let db_b = format!("sqlite://{}", b.path().join("runs.db").display());
    let sample = sample();
    let ctx = Context::new(crate::support::settings(&[
        ("ATTRSYNC__SOURCE__PATH", &sample),
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", &endpoint),
        ("ATTRSYNC__BIGQUERY__DATASET", "twice"),
        ("ATTRSYNC__RUN_STORE__URL", &db_b),
    ]));
    let p = ctx.pipeline().await.unwrap();
    p.store().migrate().await.unwrap();
    let err = p.run_once(Trigger::Manual).await.unwrap_err();
    let text = format!("{err}");
    assert!(
        text.contains("holds runs of another run store") && text.contains(&db_b),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_split_at_the_byte_bound() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (rows, stats) = run_into(
        &emu,
        "small",
        dir.path(),
        &[("ATTRSYNC__BIGQUERY__BATCH_BYTES", "50000")],
    )
    .await;
    let (requests, sent_rows, bytes) = stats.unwrap();
    let total: u64 = rows.values().sum();
    assert_eq!(sent_rows, total);
    assert!(
        requests >= bytes / 50_000,
        "{requests} requests for {bytes} bytes"
    );
    assert!(
        requests > total / 500 + 4,
        "the byte bound, not the 500-row bound, split the batches"
    );
    assert_eq!(
        emu.count(&format!(
            "SELECT COUNT(*) FROM `{PROJECT}.small.attribution_credits`"
        ))
        .await as u64,
        rows[&Table::AttributionCredits]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn additive_migration_adds_columns_and_refuses_type_changes() {
    let emu = Emulator::start().await;
    // An older touchpoints table without most columns.
    emu.create_table("old", json!({"tableReference": {"projectId": PROJECT, "datasetId": "old", "tableId": "touchpoints"},
        "schema": {"fields": [{"name": "row_key", "type": "STRING"}, {"name": "touched_at", "type": "TIMESTAMP"}]}})).await;
    let endpoint = emu.endpoint();
    fn sink_env<'a>(endpoint: &'a str, dataset: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("ATTRSYNC__SINK__KIND", "bigquery"),
            ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
            ("ATTRSYNC__BIGQUERY__ENDPOINT", endpoint),
            ("ATTRSYNC__BIGQUERY__DATASET", dataset),
        ]
    }
    let ctx = Context::new(crate::support::settings(&sink_env(&endpoint, "old")));
    match ctx.sink().await.unwrap() {
        AnySink::BigQuery(b) => b.ensure().await.unwrap(),
        _ => unreachable!(),
    }
    // The added columns exist. (The emulator cannot stream into columns added after a table
    // was created, neither after ALTER TABLE nor after tables.patch, so no rows are written
    // here; BigQuery can, once the new schema has propagated.)
    let r = emu
        .query(&format!(
            "SELECT landing_url, channel, run_id FROM `{PROJECT}.old.touchpoints`"
        ))
        .await;
    assert!(r.is_empty());
    // A column whose type conflicts stops start-up naming table and column.
    emu.create_table("clash", json!({"tableReference": {"projectId": PROJECT, "datasetId": "clash", "tableId": "attribution_credits"},
        "schema": {"fields": [{"name": "row_key", "type": "STRING"}, {"name": "credit", "type": "STRING"}]}})).await;
    let ctx = Context::new(crate::support::settings(&sink_env(&endpoint, "clash")));
    let err = match ctx.sink().await.unwrap() {
        AnySink::BigQuery(b) => b.ensure().await.unwrap_err(),
        _ => unreachable!(),
    };
    let text = err.to_string();
    assert!(
        text.contains("clash.attribution_credits column credit is STRING")
            && text.contains("FLOAT"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_gone_mid_run_fails_the_run_and_the_next_completes_with_nothing_lost() {
    let emu = Emulator::start().await;
    let proxy = Proxy::start(format!("127.0.0.1:{}", emu.port).parse().unwrap(), true).await;
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let endpoint = format!("http://{}", proxy.addr);
    let sample = sample();
    let wait = format!("wait:{}", release.display());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", endpoint.as_str()),
        ("ATTRSYNC__BIGQUERY__MAX_ATTEMPTS", "2"),
        ("ATTRSYNC__BIGQUERY__TIMEOUT", "3s"),
    ];
    let mut with_failpoint = env.to_vec();
    with_failpoint.push(("ATTRSYNC_FAILPOINT_AFTER_TOUCHPOINTS", wait.as_str()));
    let mut p = Proc::spawn(dir.path(), &["run", "--once"], &with_failpoint);
    p.wait_for(
        "failpoint after_touchpoints reached",
        Duration::from_secs(120),
    );
    let touches = emu
        .count(&format!(
            "SELECT COUNT(*) FROM `{PROJECT}.attribution.touchpoints`"
        ))
        .await;
    assert!(
        touches > 0,
        "touchpoints landed before the emulator went away"
    );
    proxy.cut();
    std::fs::write(&release, "").unwrap();
    assert_eq!(p.wait(Duration::from_secs(120)), Some(1), "{}", p.stderr());
    let (code, json, _) = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || crate::support::run_bin(&d, &["status", "--json", "--limit", "1"], &[])
    })
    .await
    .unwrap();
    assert_eq!(code, 0);
    let last: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(last["status"], "failed");
    assert!(
        last["error"].as_str().unwrap().contains("insertAll"),
        "{last}"
    );
    let local_db = format!("sqlite://{}", dir.path().join("attrsync.db").display());
    let settings = crate::support::settings(&[("ATTRSYNC__RUN_STORE__URL", &local_db)]);
    let config = attrsync::store::StoreConfig::from_settings(&settings.run_store).unwrap();
    let cur = attrsync::store::AnyStore::open(&config)
        .await
        .unwrap()
        .cursor("file:events.ndjson.gz", "events")
        .await
        .unwrap();
    assert!(cur.is_none(), "the cursor did not move");

    proxy.restore();
    let mut again = Proc::spawn(dir.path(), &["run", "--once"], &env);
    assert_eq!(
        again.wait(Duration::from_secs(180)),
        Some(0),
        "{}",
        again.stderr()
    );
    let summary = again.stdout();
    for table in ["touchpoints", "conversions", "attribution_credits"] {
        let want: u64 = summary
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{table} ")))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{table} in {summary}"));
        let latest = emu
            .count(&format!(
                "SELECT COUNT(DISTINCT row_key) FROM `{PROJECT}.attribution.{table}_latest`"
            ))
            .await;
        let rows = emu
            .count(&format!(
                "SELECT COUNT(*) FROM `{PROJECT}.attribution.{table}_latest`"
            ))
            .await;
        assert_eq!(
            (latest as u64, rows as u64),
            (want, want),
            "{table}: every row once"
        );
    }
    let raw = emu
        .count(&format!(
            "SELECT COUNT(*) FROM `{PROJECT}.attribution.touchpoints`"
        ))
        .await;
    assert_eq!(
        raw,
        2 * touches,
        "the failed run's touchpoints stay in the table; the view hides the copy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_recomputes_checksums_from_the_latest_views() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = run_into(&emu, "checked", dir.path(), &[]).await;
    let endpoint = emu.endpoint();
    let db = format!("sqlite://{}", dir.path().join("runs.db").display());
    let env = [
        ("ATTRSYNC__SINK__KIND", "bigquery".to_string()),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT.to_string()),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", endpoint),
        ("ATTRSYNC__BIGQUERY__DATASET", "checked".to_string()),
        ("ATTRSYNC__RUN_STORE__URL", db),
    ];
    let verify = || {
        let (d, env) = (dir.path().to_path_buf(), env.clone());
        tokio::task::spawn_blocking(move || {
            let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            crate::support::run_bin(&d, &["verify", "--run", "1"], &e)
        })
    };
    let (code, out, err) = verify().await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "conversions            {} rows",
            rows[&Table::Conversions]
        )),
        "{out}"
    );
    // A row removed in the warehouse is found.
    emu.query(&format!(
        "DELETE FROM `{PROJECT}.checked.conversions` WHERE row_key = (SELECT MIN(row_key) FROM `{PROJECT}.checked.conversions`)"
    ))
    .await;
    let (code, out, _) = verify().await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MISMATCH conversions"), "{out}");
    assert!(
        out.contains(&format!(
            "expected {} rows, found {}",
            rows[&Table::Conversions],
            rows[&Table::Conversions] - 1
        )),
        "{out}"
    );
    assert!(out.contains("differing key buckets"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_after_insert_all_is_invisible_and_its_rerun_shows_each_key_once() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = emu.endpoint();
    let sample = sample();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", endpoint.as_str()),
        ("ATTRSYNC__BIGQUERY__DATASET", "markers"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let mut with_failpoint = env.to_vec();
    with_failpoint.push(("ATTRSYNC_FAILPOINT_BEFORE_SINK_COMMIT", "pause"));
    let mut p = Proc::spawn(dir.path(), &["run", "--once"], &with_failpoint);
    p.wait_for(
        "failpoint before_sink_commit reached",
        Duration::from_secs(120),
    );
    p.kill();
    let count = |sql: String| {
        let emu = &emu;
        async move { emu.count(&sql).await }
    };
    let raw = count(format!(
        "SELECT COUNT(*) FROM `{PROJECT}.markers.conversions`"
    ))
    .await;
    assert!(raw > 0, "every row was streamed before the kill");
    emu.assert_nothing_visible("markers").await;
    let perf = count(format!("SELECT COUNT(*) FROM `{PROJECT}.markers.runs`")).await;
    assert_eq!(perf, 0, "no commit marker");

    // The rerun (a new process) finds the dead run, and its rows replace it.
    let mut again = Proc::spawn(dir.path(), &["run", "--once"], &env);
    assert_eq!(
        again.wait(Duration::from_secs(120)),
        Some(0),
        "{}",
        again.stderr()
    );
    let raw_now = count(format!(
        "SELECT COUNT(*) FROM `{PROJECT}.markers.conversions`"
    ))
    .await;
    assert_eq!(raw_now, 2 * raw, "both copies are in the table");
    emu.assert_each_key_once_without("markers", 1).await;
    let marked = emu
        .query(&format!("SELECT run_id, job FROM `{PROJECT}.markers.runs`"))
        .await;
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert_eq!(marked[0][0].as_str(), Some("2"));
    assert_eq!(marked[0][1].as_str(), Some("file:events.ndjson.gz"));
}
