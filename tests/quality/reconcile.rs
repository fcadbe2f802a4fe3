use std::sync::atomic::{AtomicBool, Ordering};

use attrsync::cli::Context;
use attrsync::domain::ids::RunId;
use attrsync::sinks::local::LocalSink;
use attrsync::sinks::{EncodedRow, Sink, SinkError, SinkOwner, Table};
use attrsync::store::{RunStatus, RunStore, Trigger};

use crate::support::sample_events as sample;
use crate::support::{read_table, run_bin};

/// A sink that silently loses the first conversion row it is given.
struct Dropping {
    inner: LocalSink,
    dropped: AtomicBool,
}

impl Sink for Dropping {
    async fn prepare(&self, owner: &SinkOwner) -> Result<Vec<String>, SinkError> {
        self.inner.prepare(owner).await
    }
    async fn write(
        &self,
        run: RunId,
        table: Table,
        mut rows: Vec<EncodedRow>,
    ) -> Result<u64, SinkError> {
        if table == Table::Conversions && !self.dropped.swap(true, Ordering::SeqCst) {
            rows.remove(0);
        }
        self.inner.write(run, table, rows).await
    }
    async fn commit(&self, run: RunId, job: &str) -> Result<(), SinkError> {
        self.inner.commit(run, job).await
    }
    async fn discard(&self, run: RunId) -> Result<(), SinkError> {
        self.inner.discard(run).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_drops_a_row_fails_reconciliation_and_keeps_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("runs.db").display());
    let sample = sample();
    let ctx = Context::new(crate::support::settings(&[
        ("ATTRSYNC__SOURCE__PATH", &sample),
        ("ATTRSYNC__RUN_STORE__URL", &db),
    ]));
    let base = ctx.pipeline().await.unwrap();
    base.store().migrate().await.unwrap();
    // The configured pipeline without its ad accounts, writing through a sink that drops a row.
    let p = base.with_ads(Vec::new()).with_sink(Dropping {
        inner: LocalSink::new(dir.path().join("out")),
        dropped: AtomicBool::new(false),
    });
    let err = p.run_once(Trigger::Manual).await.unwrap_err();
    let text = format!("{err}");
    assert!(
        text.contains("conversions: 1109 rows produced but 1108 acknowledged"),
        "{text}"
    );
    let run = p.store().recent(1).await.unwrap().remove(0);
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        run.counts.quality["reconciliation"]["rows"]["conversions"]["acknowledged"],
        1108
    );
    assert!(p
        .store()
        .cursor("file:events.ndjson.gz", "events")
        .await
        .unwrap()
        .is_none());
    assert!(
        read_table(&dir.path().join("out"), "conversions").is_empty(),
        "the failed run's rows are removed"
    );
}

#[test]
fn verify_finds_a_row_deleted_from_the_local_sink() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let env = [("ATTRSYNC__SOURCE__PATH", sample.as_str())];
    let (code, ..) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0);
    let (code, out, _) = run_bin(dir.path(), &["verify", "--run", "1"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every table matches"), "{out}");
    // Delete the 10th conversion row by hand.
    let file = dir.path().join("out/conversions/1.ndjson");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let gone: serde_json::Value = serde_json::from_str(lines.remove(9)).unwrap();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (code, out, _) = run_bin(dir.path(), &["verify", "--run", "1"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("MISMATCH conversions") && out.contains("expected 1109 rows, found 1108"),
        "{out}"
    );
    assert!(
        out.contains(&format!("missing {}", gone["row_key"].as_str().unwrap())),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("touchpoints")),
        "{out}"
    );
    // And a row written twice shows as extra.
    let mut doubled = text.lines().collect::<Vec<_>>();
    doubled.push(doubled[0]);
    std::fs::write(&file, doubled.join("\n") + "\n").unwrap();
    let (code, out, _) = run_bin(dir.path(), &["verify", "--run", "1"], &env);
    assert_eq!(code, 1);
    assert!(out.contains("  extra   "), "{out}");
}

#[test]
fn verify_finds_an_edited_value_and_passes_a_run_that_wrote_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let ads = crate::support::sample_ads();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__ADS__FILE__PATH", ads.as_str()),
    ];
    let (code, ..) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0);
    // Run 2 is the ad file's first run; a second cycle's ad run (4) finds it unchanged.
    let (code, ..) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0);
    let (code, out, err) = run_bin(dir.path(), &["verify", "--run", "4"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("wrote no rows"), "{out}");

    // A credit edited by hand: same keys, other values.
    let file = dir.path().join("out/attribution_credits/1.ndjson");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let was = rows[5]["credited_value_micros"].as_i64().unwrap_or(0);
    rows[5]["credited_value_micros"] = serde_json::json!(was + 1_000_000);
    let edited: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    std::fs::write(&file, edited.join("\n") + "\n").unwrap();
    let (code, out, _) = run_bin(dir.path(), &["verify", "--run", "1"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("MISMATCH attribution_credits") && out.contains("values differ"),
        "{out}"
    );
}
