use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use sqlx::Row;

use crate::support::pg::TestDb;
use crate::support::process::Proc;
use crate::support::proxy::Proxy;
use crate::support::{eventually, read_table};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_survives_postgres_going_away_and_records_the_failure() {
    let db = TestDb::new().await;
    let proxy = Proxy::start(TestDb::server_addr(), false).await;
    let via_proxy = db.url_via(proxy.addr);
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/sample/events.ndjson.gz")
        .display()
        .to_string();
    let wait_spec = format!("wait:{}", release.display());
    let env = [
        ("ATTRSYNC__RUN_STORE__URL", via_proxy.as_str()),
        ("ATTRSYNC__RUN_STORE__CONNECT_TIMEOUT", "2s"),
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__SCHEDULE__INTERVAL", "1s"),
        ("ATTRSYNC__SCHEDULE__START_JITTER", "0s"),
        ("ATTRSYNC__SCHEDULE__MAX_BACKOFF", "1s"),
        ("ATTRSYNC__SERVER__BIND", ""),
        ("ATTRSYNC_FAILPOINT_BEFORE_COMMIT", wait_spec.as_str()),
    ];
    // Down at start: the daemon keeps trying, one log line per failed attempt.
    let mut daemon = Proc::spawn(dir.path(), &["run"], &env);
    daemon.wait_for("cycle failed; will retry", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(daemon.alive(), "{}", daemon.stderr());
    assert!(
        daemon.count("cycle failed; will retry") >= 2,
        "{}",
        daemon.stderr()
    );

    // Back: a run starts and reaches the point between sink and commit; then the store goes.
    proxy.restore();
    daemon.wait_for("failpoint before_commit reached", Duration::from_secs(60));
    proxy.cut();
    std::fs::write(&release, "").unwrap();
    daemon.wait_for("could not be committed", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(daemon.alive(), "{}", daemon.stderr());

    // Back again: the failure is recorded, the next run succeeds, nothing doubled.
    proxy.restore();
    let mut c = db.conn().await;
    let done = eventually(Duration::from_secs(60), || {
        let url = db.url.clone();
        async move {
            let mut c: sqlx::PgConnection = sqlx::Connection::connect(&url).await.unwrap();
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM sync_runs WHERE status = 'succeeded'")
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
            n >= 1
        }
    })
    .await;
    assert!(
        done,
        "no run succeeded after the store came back:\n{}",
        daemon.stderr()
    );
    let first = sqlx::query("SELECT status, error FROM sync_runs WHERE id = 1")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(
        first.get::<String, _>("status"),
        "failed",
        "{}",
        daemon.stderr()
    );
    assert!(
        first.get::<String, _>("error").contains("run store"),
        "{:?}",
        first.get::<Option<String>, _>("error")
    );
    daemon.terminate();
    assert_eq!(
        daemon.wait(Duration::from_secs(30)),
        Some(0),
        "{}",
        daemon.stderr()
    );
    let out = dir.path().join("out");
    for table in ["conversions", "touchpoints", "attribution_credits"] {
        let rows = read_table(&out, table);
        let keys: HashSet<&str> = rows
            .iter()
            .map(|r| r["row_key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), rows.len(), "{table}: duplicate row_key");
        assert!(!rows.is_empty());
    }
}
