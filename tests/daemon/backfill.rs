use std::collections::HashSet;
use std::time::Duration;

use crate::support::process::Proc;
use crate::support::{read_table, run_bin};
use crate::{runs, small_events};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_backfill_resumes_without_duplicating_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let env = [("ATTRSYNC__SOURCE__PATH", file.as_str())];
    let args = ["backfill", "--from", "2026-10-25", "--to", "2026-10-28"];
    // Days 1 and 2 commit; day 3 stops before its commit and the process is killed.
    let mut killed_env = env.to_vec();
    killed_env.push(("ATTRSYNC_FAILPOINT_BEFORE_COMMIT", "after:2"));
    let mut p = Proc::spawn(dir.path(), &args, &killed_env);
    p.wait_for("failpoint before_commit reached", Duration::from_secs(60));
    p.kill();

    let (code, out, err) = run_bin(dir.path(), &args, &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("resuming an interrupted backfill"), "{err}");
    assert!(
        out.contains("2 days"),
        "only the two remaining days ran: {out}"
    );
    let all = runs(dir.path(), &[]);
    let statuses: Vec<&str> = all
        .iter()
        .rev()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "succeeded",
            "succeeded",
            "abandoned",
            "succeeded",
            "succeeded"
        ]
    );
    assert!(all.iter().all(|r| r["trigger"] == "backfill"));
    for table in ["conversions", "touchpoints", "attribution_credits"] {
        let rows = read_table(&dir.path().join("out"), table);
        let keys: HashSet<&str> = rows
            .iter()
            .map(|r| r["row_key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), rows.len(), "{table}: a row twice");
    }
    let days: HashSet<String> = read_table(&dir.path().join("out"), "conversions")
        .iter()
        .map(|r| r["converted_at"].as_str().unwrap()[..10].to_string())
        .collect();
    assert!(
        days.iter()
            .all(|d| ("2026-10-25".."2026-10-29").contains(&d.as_str())),
        "{days:?}"
    );
    // Complete: a third call does nothing.
    let (code, out, _) = run_bin(dir.path(), &args, &env);
    assert_eq!(code, 0);
    assert!(out.contains("already complete"), "{out}");
}
