//! Both backends run the same queries (`src/store/sql.rs`): the same calls must read back the
//! same records from SQLite and PostgreSQL.

use std::time::Duration;

use attrsync::config::RunStoreSettings;
use attrsync::domain::time::Timestamp;
use attrsync::store::{
    AnyStore, Claim, CursorPosition, Finish, RunCounts, RunStatus, RunStore, RunnerMeta,
    StoreConfig, Trigger,
};

use crate::support::pg::TestDb;

fn settings(url: String) -> StoreConfig {
    StoreConfig::from_settings(&RunStoreSettings {
        url,
        auto_migrate: true,
        max_connections: 4,
        connect_timeout: Duration::from_secs(10),
        keep_runs_days: 0,
    })
    .expect("a valid run_store.url")
}

/// Claims, finishes with a cursor, abandons a second run and reads everything back; returns
/// what both backends must agree on.
async fn exercise(store: &AnyStore) -> Vec<String> {
    store.migrate().await.unwrap();
    let meta = RunnerMeta::current();
    let Claim::Acquired {
        run,
        lease,
        abandoned,
    } = store
        .claim("events:test", Trigger::Backfill, &meta)
        .await
        .unwrap()
    else {
        panic!("a fresh store holds no lease");
    };
    assert!(abandoned.is_empty());
    let counts = RunCounts {
        events_read: 12,
        conversions: 3,
        credits: 9,
        details: serde_json::json!({"rows_by_table": {"conversions": 3}}),
        ..Default::default()
    };
    let from = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
    let until = Timestamp::parse("2026-11-02T00:00:00Z").unwrap();
    let cursors = [CursorPosition::new("events:test", "events", "42".into())];
    let fin = Finish {
        status: RunStatus::Succeeded,
        counts: &counts,
        error: None,
        window: (Some(from), Some(until)),
        cursors: &cursors,
    };
    store.finish(lease, run, fin).await.unwrap();
    assert_eq!(
        store
            .cursor("events:test", "events")
            .await
            .unwrap()
            .as_deref(),
        Some("42")
    );

    // A run whose runner vanished (its lease dropped without finishing) is abandoned by the next.
    let Claim::Acquired {
        run: second, lease, ..
    } = store
        .claim("events:test", Trigger::Schedule, &meta)
        .await
        .unwrap()
    else {
        panic!("the first run released its lease");
    };
    drop(lease);
    let Claim::Acquired {
        run: third,
        lease,
        abandoned,
    } = store
        .claim("events:test", Trigger::Manual, &meta)
        .await
        .unwrap()
    else {
        panic!("a dropped lease is released");
    };
    assert_eq!(abandoned, vec![second]);
    assert!(store.mark_failed(third, "stopped").await.unwrap());
    assert!(
        !store.mark_failed(third, "again").await.unwrap(),
        "only a running run"
    );
    drop(lease);

    let first = store.run(run).await.unwrap().expect("the first run");
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(first.trigger, Trigger::Backfill);
    assert_eq!(first.window_start, Some(from));
    assert_eq!(first.window_end, Some(until));
    assert_eq!(first.counts, counts);
    assert!(first.finished_at.is_some_and(|f| f >= first.started_at));
    assert_eq!(first.pid, i64::from(meta.pid));
    assert!(store.last_success().await.unwrap().is_some());
    let (id, history) = store.identity().await.unwrap();
    assert!(!id.is_empty() && history);
    store.put_secret("token", "n1", "c1").await.unwrap();
    store.put_secret("token", "n2", "c2").await.unwrap();
    assert_eq!(
        store.secret("token").await.unwrap(),
        Some(("n2".to_string(), "c2".to_string()))
    );
    store
        .recent(10)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {:?}",
                r.id,
                r.trigger,
                r.status,
                r.error.is_some()
            )
        })
        .collect()
}

#[tokio::test]
async fn sqlite_and_postgres_read_back_the_same_runs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("runs.db").display());
    let sqlite = AnyStore::open(&settings(url)).await.unwrap();
    let db = TestDb::new().await;
    let postgres = AnyStore::open(&settings(db.url.clone())).await.unwrap();
    let a = exercise(&sqlite).await;
    let b = exercise(&postgres).await;
    assert_eq!(
        a,
        vec![
            "3 manual failed true",
            "2 schedule abandoned true",
            "1 backfill succeeded false"
        ]
    );
    assert_eq!(a, b);
}

/// A holder that goes away while the next claim is being made hands the job over; a holder that
/// stays is reported as holding it.
async fn hand_over(store: &AnyStore) {
    store.migrate().await.unwrap();
    let meta = RunnerMeta::current();
    let Claim::Acquired { lease, .. } = store
        .claim("events:hand", Trigger::Schedule, &meta)
        .await
        .unwrap()
    else {
        panic!("a fresh store holds no lease");
    };
    assert!(
        matches!(
            store
                .claim("events:hand", Trigger::Manual, &meta)
                .await
                .unwrap(),
            Claim::Held { .. }
        ),
        "a held lease was claimed twice"
    );
    // Dropped without `finish` (on PostgreSQL its connection closes; the server frees the lock
    // when it sees that) 100 ms into the next claim.
    let dropper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(lease);
    });
    let next = store
        .claim("events:hand", Trigger::Manual, &meta)
        .await
        .unwrap();
    dropper.await.unwrap();
    let Claim::Acquired { abandoned, .. } = next else {
        panic!("a lease dropped during the claim was reported held");
    };
    assert_eq!(abandoned.len(), 1, "the dropped run is abandoned");
}

#[tokio::test]
async fn a_lease_dropped_during_a_claim_is_handed_over_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("runs.db").display());
    hand_over(&AnyStore::open(&settings(url)).await.unwrap()).await;
    let db = TestDb::new().await;
    hand_over(&AnyStore::open(&settings(db.url.clone())).await.unwrap()).await;
}
