use std::collections::HashSet;
use std::time::Duration;

use sqlx::Row;

use crate::support::pg::TestDb;
use crate::support::process::Proc;
use crate::support::read_table;
use crate::support::sample_events as sample;

#[tokio::test]
async fn two_runners_started_together_exactly_one_runs() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    // A FIFO as the event file: whoever holds the lease blocks reading it until we write.
    let fifo = dir.path().join("events.fifo");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(ok.success());
    let env = [
        ("ATTRSYNC__RUN_STORE__URL", db.url.as_str()),
        ("ATTRSYNC__SOURCE__PATH", "events.fifo"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let mut a = Proc::spawn(dir.path(), &["run", "--once"], &env);
    let mut b = Proc::spawn(dir.path(), &["run", "--once"], &env);
    // Exactly one gives up at once, saying who holds the lease.
    let start = std::time::Instant::now();
    let (winner, loser) = loop {
        if !a.alive() {
            break (&mut b, &mut a);
        }
        if !b.alive() {
            break (&mut a, &mut b);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "neither runner stepped aside:\n{}\n{}",
            a.stderr(),
            b.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        loser.wait(Duration::from_secs(5)),
        Some(0),
        "{}",
        loser.stderr()
    );
    let said = loser.stdout();
    // "lease held by run 1 on <host> (pid N), started …", or, if it looked before the winner's
    // run row was committed, "lease held by attrsync on <host> (pid N), connected since …".
    assert!(
        said.contains("lease held by") && said.contains(" on ") && said.contains("(pid "),
        "{said}"
    );
    assert!(winner.alive());
    let data = std::fs::read(sample()).unwrap();
    let mut gz = flate2::read::GzDecoder::new(&data[..]);
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut gz, &mut text).unwrap();
    std::fs::write(&fifo, &text).unwrap();
    assert_eq!(
        winner.wait(Duration::from_secs(60)),
        Some(0),
        "{}",
        winner.stderr()
    );
    let mut c = db.conn().await;
    let runs: Vec<(i64, String)> = sqlx::query_as("SELECT id, status FROM sync_runs")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(runs, [(1, "succeeded".to_string())]);
}

#[tokio::test]
async fn a_runner_killed_before_commit_loses_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let env = [
        ("ATTRSYNC__RUN_STORE__URL", db.url.as_str()),
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let mut killed_env = env.to_vec();
    killed_env.push(("ATTRSYNC_FAILPOINT_BEFORE_COMMIT", "pause"));
    let mut p = Proc::spawn(dir.path(), &["run", "--once"], &killed_env);
    p.wait_for("failpoint before_commit reached", Duration::from_secs(60));
    // The sink has every row of run 1; the run store has not committed.
    let out = dir.path().join("out");
    let first = read_table(&out, "attribution_credits").len();
    assert!(first > 0);
    p.kill();

    let mut c = db.conn().await;
    let status: String = sqlx::query_scalar("SELECT status FROM sync_runs WHERE id = 1")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(status, "running");
    let cursors: i64 = sqlx::query_scalar("SELECT count(*) FROM source_cursors")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(cursors, 0);

    let mut again = Proc::spawn(dir.path(), &["run", "--once"], &env);
    assert_eq!(
        again.wait(Duration::from_secs(60)),
        Some(0),
        "{}",
        again.stderr()
    );
    assert!(again.stderr().contains("marked abandoned"));
    let r = sqlx::query("SELECT status, abandoned_at, error FROM sync_runs WHERE id = 1")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(r.get::<String, _>("status"), "abandoned");
    assert!(r
        .get::<Option<time::OffsetDateTime>, _>("abandoned_at")
        .is_some());
    assert!(r.get::<String, _>("error").contains("detected by"));
    for table in ["conversions", "touchpoints", "attribution_credits"] {
        let rows = read_table(&out, table);
        let keys: HashSet<&str> = rows
            .iter()
            .map(|r| r["row_key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), rows.len(), "{table}: a row_key appears twice");
        assert!(
            rows.iter().all(|r| r["run_id"] == 2),
            "{table}: rows of the abandoned run remain"
        );
    }
    assert_eq!(read_table(&out, "attribution_credits").len(), first);
}
