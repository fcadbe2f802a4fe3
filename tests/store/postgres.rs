use std::collections::HashSet;
use std::io::Write;

use sqlx::Row;

use crate::support::events::*;
use crate::support::pg::TestDb;
use crate::support::sample_events as sample;
use crate::support::{read_table, run_bin};

#[tokio::test]
async fn migrate_from_empty_creates_typed_tables_and_is_idempotent() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let (code, out, err) = run_bin(
            dir.path(),
            &["migrate"],
            &[("ATTRSYNC__RUN_STORE__URL", &db.url)],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("run store (postgres) is up to date"), "{out}");
    }
    let mut c = db.conn().await;
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = 'sync_runs'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let ty = |n: &str| {
        cols.iter()
            .find(|(c, _)| c == n)
            .map(|(_, t)| t.as_str())
            .unwrap()
    };
    assert_eq!(ty("started_at"), "timestamp with time zone");
    assert_eq!(ty("events_read"), "bigint");
    assert_eq!(ty("details"), "jsonb");
    let idx: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE tablename = 'sync_runs'")
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert!(
        idx.iter().any(|d| d.contains("(job, started_at DESC)")),
        "{idx:?}"
    );
    let bad = sqlx::query("INSERT INTO sync_runs (job, trigger, status, host, pid, version) VALUES ('j', 'cron', 'running', 'h', 1, 'v')")
        .execute(&mut c)
        .await;
    assert!(bad.is_err(), "trigger is a checked enum");
}

#[tokio::test]
async fn a_succeeded_run_records_its_counts_and_cursor() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let env = [
        ("ATTRSYNC__RUN_STORE__URL", db.url.as_str()),
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let mut c = db.conn().await;
    let r = sqlx::query("SELECT * FROM sync_runs")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(r.get::<String, _>("status"), "succeeded");
    assert_eq!(r.get::<String, _>("trigger"), "manual");
    assert_eq!(r.get::<String, _>("job"), "file:events.ndjson.gz");
    assert_eq!(r.get::<i64, _>("events_read"), 18_554);
    assert_eq!(r.get::<i64, _>("events_skipped"), 0);
    let conversions = read_table(&dir.path().join("out"), "conversions").len() as i64;
    let credits = read_table(&dir.path().join("out"), "attribution_credits").len() as i64;
    let touches = read_table(&dir.path().join("out"), "touchpoints").len() as i64;
    let summary = read_table(&dir.path().join("out"), "channel_credit").len() as i64;
    assert_eq!(r.get::<i64, _>("conversions"), conversions);
    assert_eq!(r.get::<i64, _>("credits"), credits);
    assert_eq!(r.get::<i64, _>("touchpoints"), touches);
    assert_eq!(
        r.get::<i64, _>("rows_written"),
        conversions + credits + touches + summary
    );
    assert!(r
        .get::<Option<time::OffsetDateTime>, _>("finished_at")
        .is_some());
    let details: serde_json::Value = r.get("details");
    assert_eq!(details["rows_by_table"]["conversions"], conversions);
    let cursor: String = sqlx::query_scalar(
        "SELECT position FROM source_cursors WHERE source = 'file:events.ndjson.gz'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    let cursor: serde_json::Value = serde_json::from_str(&cursor).unwrap();
    // The file's identity and the bytes read: all of the (decompressed) sample.
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&sample).unwrap()),
        &mut text,
    )
    .unwrap();
    assert_eq!(
        cursor["offset"].as_u64(),
        Some(text.len() as u64),
        "{cursor}"
    );
    assert!(cursor["path"]
        .as_str()
        .unwrap()
        .ends_with("data/sample/events.ndjson.gz"));
    assert_eq!(cursor["head_sha1"].as_str().unwrap().len(), 40);

    let (code, json, _) = run_bin(dir.path(), &["status", "--json"], &env);
    assert_eq!(code, 0);
    let row: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["events_read"], 18_554);
}

#[tokio::test]
async fn a_failed_run_records_its_error_and_leaves_the_cursor() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        [
            pageview(1, "a", &at(1, 0), "s1", google_cpc("x")),
            purchase(2, "a", &at(1, 1), "s1", "9", "USD"),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let env = [
        ("ATTRSYNC__RUN_STORE__URL", db.url.as_str()),
        ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let (code, ..) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0);
    let mut c = db.conn().await;
    let cursor_q = "SELECT position FROM source_cursors";
    let before: String = sqlx::query_scalar(cursor_q)
        .fetch_one(&mut c)
        .await
        .unwrap();

    // New events arrive, but the sink cannot write: its directory is a file.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&events)
        .unwrap()
        .write_all((purchase(3, "a", &at(2, 0), "s2", "5", "USD") + "\n").as_bytes())
        .unwrap();
    std::fs::write(dir.path().join("blocked"), "not a directory").unwrap();
    let failing = [env[0], env[1], env[2], ("ATTRSYNC__SINK__DIR", "blocked")];
    let (code, _, err) = run_bin(dir.path(), &["run", "--once"], &failing);
    assert_eq!(code, 1, "{err}");
    let r = sqlx::query("SELECT status, error FROM sync_runs ORDER BY id DESC LIMIT 1")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(r.get::<String, _>("status"), "failed");
    let error: String = r.get("error");
    assert!(
        error.contains("preparing the sink") && error.contains("sink.dir"),
        "{error}"
    );
    let after: String = sqlx::query_scalar(cursor_q)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(before, after, "a failed run must not move the cursor");

    // Fixed: the next run writes the new conversion exactly once.
    let (code, ..) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0);
    let conversions = read_table(&dir.path().join("out"), "conversions");
    let ids: HashSet<&str> = conversions
        .iter()
        .map(|r| r["row_key"].as_str().unwrap())
        .collect();
    assert_eq!((conversions.len(), ids.len()), (2, 2));
}

#[tokio::test]
async fn old_runs_are_pruned_by_keep_runs_days() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("e.ndjson"),
        pageview(1, "a", &at(1, 0), "s", direct()) + "\n",
    )
    .unwrap();
    let env = [
        ("ATTRSYNC__RUN_STORE__URL", db.url.as_str()),
        ("ATTRSYNC__SOURCE__PATH", "e.ndjson"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__RUN_STORE__KEEP_RUNS_DAYS", "30"),
    ];
    let (code, ..) = run_bin(dir.path(), &["migrate"], &env);
    assert_eq!(code, 0);
    let mut c = db.conn().await;
    for days in [100, 31, 29] {
        sqlx::query(&format!(
            "INSERT INTO sync_runs (job, trigger, status, started_at, host, pid, version) VALUES ('old', 'schedule', 'succeeded', now() - interval '{days} days', 'h', 1, 'v')"
        ))
        .execute(&mut c)
        .await
        .unwrap();
    }
    let (code, ..) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0);
    let left: Vec<String> = sqlx::query_scalar("SELECT job FROM sync_runs ORDER BY id")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(left, ["old", "file:e.ndjson"]);
}
