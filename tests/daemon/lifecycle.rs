use std::time::Duration;

use crate::support::process::Proc;
use crate::{eventually, runs, small_events};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_runs_tick_after_tick_and_records_each() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", file.as_str()),
        ("ATTRSYNC__SCHEDULE__INTERVAL", "1s"),
        ("ATTRSYNC__SCHEDULE__START_JITTER", "0s"),
        ("ATTRSYNC__SERVER__BIND", ""),
    ];
    let mut d = Proc::spawn(dir.path(), &["run"], &env);
    let d_path = dir.path().to_path_buf();
    let three = eventually(Duration::from_secs(60), || {
        let p = d_path.clone();
        async move {
            tokio::task::spawn_blocking(move || runs(&p, &[]).len() >= 6)
                .await
                .unwrap()
        }
    })
    .await;
    assert!(three, "{}", d.stderr());
    d.terminate();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0), "{}", d.stderr());
    let all = runs(dir.path(), &[]);
    assert!(
        all.iter()
            .all(|r| r["status"] == "succeeded" && r["trigger"] == "schedule"),
        "{all:?}"
    );
    // Each tick runs the events job and the ad metrics file. The first of each did the work;
    // later ticks found nothing new.
    let (ads, all): (Vec<_>, Vec<_>) = all.into_iter().partition(|r| r["job"] == "ads:file");
    assert!(ads.len() >= 2 && all.len() >= 2, "{ads:?} {all:?}");
    assert_eq!(ads.last().unwrap()["ad_metric_rows"], 600);
    assert!(ads[..ads.len() - 1].iter().all(|r| r["rows_written"] == 0));
    let last = all.last().unwrap();
    assert!(last["conversions"].as_i64().unwrap() > 0);
    assert!(all[..all.len() - 1].iter().all(|r| r["rows_written"] == 0));
    // Ticks are about an interval apart, never overlapping.
    let starts: Vec<&str> = all
        .iter()
        .map(|r| r["started_at"].as_str().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] > w[1]));
    assert!(d.stderr().contains("daemon stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_abandons_it_cleanly_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let all = terminated_at_commit(dir.path(), &file, "pause");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "failed");
    assert!(
        all[0]["error"].as_str().unwrap().starts_with("shutdown"),
        "{:?}",
        all[0]
    );
    // Nothing of the abandoned run stays in the sink, and the cursor did not move: the next
    // run writes everything.
    assert!(crate::support::read_table(&dir.path().join("out"), "conversions").is_empty());
    let (code, out, _) = crate::support::run_bin(
        dir.path(),
        &["run", "--once"],
        &[("ATTRSYNC__SOURCE__PATH", file.as_str())],
    );
    assert_eq!(code, 0);
    assert!(summary_count(&out, "conversions") > 0, "{out}");
}

/// Runs the daemon on `file` until the commit failpoint (`when`: `pause`, `after:N`) is
/// reached, sends SIGTERM with a 1 s grace period, checks it exits 0, and returns the runs.
fn terminated_at_commit(dir: &std::path::Path, file: &str, when: &str) -> Vec<serde_json::Value> {
    let env = [
        ("ATTRSYNC__SOURCE__PATH", file),
        ("ATTRSYNC__SCHEDULE__START_JITTER", "0s"),
        ("ATTRSYNC__SCHEDULE__SHUTDOWN_GRACE", "1s"),
        ("ATTRSYNC__SERVER__BIND", ""),
        ("ATTRSYNC_FAILPOINT_BEFORE_COMMIT", when),
    ];
    let mut d = Proc::spawn(dir, &["run"], &env);
    d.wait_for("failpoint before_commit reached", Duration::from_secs(60));
    d.terminate();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0), "{}", d.stderr());
    runs(dir, &[])
}

/// The number on a run summary's `<label>` line (`  conversions      1234`).
fn summary_count(out: &str, label: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("no {label} line in {out}"));
    let n = line.split_whitespace().nth(1).unwrap_or_default();
    n.parse()
        .unwrap_or_else(|_| panic!("{label} is not a count: {line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_an_ad_run_settles_that_run_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    // The events run commits; the ad run that follows stops before its commit.
    let all = terminated_at_commit(dir.path(), &file, "after:1");
    let status = |job: &str| {
        let r = all.iter().find(|r| r["job"] == job).expect(job);
        (r["status"].clone(), r["error"].clone())
    };
    assert_eq!(status("file:events.ndjson").0, "succeeded", "{all:?}");
    let (ads, error) = status("ads:file");
    assert_eq!(
        ads, "failed",
        "an ad run cut short is recorded, not left running: {all:?}"
    );
    assert!(error.as_str().unwrap().starts_with("shutdown"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_run_that_finishes_within_the_grace_period_commit() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let release = dir.path().join("release");
    let wait = format!("wait:{}", release.display());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", file.as_str()),
        ("ATTRSYNC__SCHEDULE__START_JITTER", "0s"),
        ("ATTRSYNC__SCHEDULE__SHUTDOWN_GRACE", "20s"),
        ("ATTRSYNC__SERVER__BIND", ""),
        ("ATTRSYNC_FAILPOINT_BEFORE_COMMIT", wait.as_str()),
    ];
    let mut d = Proc::spawn(dir.path(), &["run"], &env);
    d.wait_for("failpoint before_commit reached", Duration::from_secs(60));
    d.terminate();
    d.wait_for("letting the current run finish", Duration::from_secs(10));
    std::fs::write(&release, "").unwrap();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0), "{}", d.stderr());
    let all = runs(dir.path(), &[]);
    assert_eq!(all.len(), 1, "no new run after the signal");
    assert_eq!(all[0]["status"], "succeeded");
}
