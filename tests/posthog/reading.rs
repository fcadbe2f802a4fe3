use std::collections::HashSet;

use attrsync::domain::time::{Timestamp, MICROS_PER_DAY};
use attrsync::http::ErrorKind;
use attrsync::store::{RunStatus, RunStore};
use serde_json::json;

use crate::fixture::{fixture, pipeline, run, served, wanted, Lcg, Served};
use crate::support::fake_posthog::{Event, FakePostHog, Fault, Options};
use crate::support::read_table;

fn keys(rows: &[serde_json::Value]) -> HashSet<String> {
    rows.iter()
        .map(|r| r["row_key"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_read_exactly_once_across_pages_that_split_equal_timestamps() {
    let f = fixture(300, Timestamp::now().add_micros(-60_000_000), 6 * 3600, 1);
    let opts = Options::default();
    let fake = FakePostHog::start(opts.clone(), f.events.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(&fake, &opts, dir.path(), &[]).await;
    let s = run(&p).await.expect("run succeeds");

    let st = fake.stats();
    let want = wanted(&f);
    assert_eq!(st.served.len(), want.len(), "every wanted event served");
    assert!(st.served.values().all(|n| *n == 1), "no event served twice");
    assert!(
        st.served.keys().all(|u| want.contains(u)),
        "noise is filtered by the query"
    );
    // Pages of 100 over ~1,500 rows, with timestamps shared by many events.
    let pages = st
        .requests
        .iter()
        .filter(|r| r.1 == "attrsync_events")
        .count();
    assert!(pages >= 10, "{pages} pages");
    assert_eq!(s.conversions as usize, f.purchases);
    assert_eq!(s.touchpoints as usize, f.sessions);
    let out = dir.path().join("out");
    assert_eq!(read_table(&out, "conversions").len(), f.purchases);
    assert_eq!(read_table(&out, "touchpoints").len(), f.sessions);
    // No parameter was spliced into a query text (the fake refuses that with a 400).
    assert!(st.requests.iter().all(|r| r.2 == 200));
    for text in &st.query_texts {
        assert!(!f.events.iter().take(50).any(|e| text.contains(&e.uuid)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_mid_stream_fails_the_run_and_the_rerun_resumes_from_the_committed_cursor() {
    let f = fixture(200, Timestamp::now().add_micros(-60_000_000), 6 * 3600, 2);
    let Served { fake, dir, p } = served(
        f.events.clone(),
        &[("ATTRSYNC__POSTHOG__RATE_LIMIT__CONCURRENCY", "1")],
    )
    .await;
    // Count and three pages answer; then the server fails past the attempt limit.
    for fault in [Fault::Pass, Fault::Pass, Fault::Pass, Fault::Pass] {
        fake.push_fault(fault);
    }
    for _ in 0..4 {
        fake.push_fault(Fault::Status(500, None));
    }
    let err = run(&p).await.expect_err("the run fails");
    let text = format!("{err}");
    assert!(
        text.contains("attrsync_events") && text.contains("gave up after 4 attempts"),
        "{text}"
    );
    assert_eq!(err.kind, ErrorKind::Transient);
    let last = p.store().recent(1).await.unwrap().remove(0);
    assert_eq!(last.status, RunStatus::Failed);
    assert!(last.error.unwrap().contains("500"));
    assert!(
        p.store()
            .cursor("posthog:4242", "events")
            .await
            .unwrap()
            .is_none(),
        "cursor unmoved"
    );
    let out = dir.path().join("out");
    assert!(
        read_table(&out, "conversions").is_empty(),
        "the failed run's rows are discarded"
    );

    fake.clear_faults();
    let s = run(&p).await.expect("rerun succeeds");
    assert_eq!(s.conversions as usize, f.purchases);
    let conversions = read_table(&out, "conversions");
    assert_eq!(keys(&conversions).len(), f.purchases);
    assert_eq!(conversions.len(), f.purchases);
    // A third run finds nothing new: nothing is written twice.
    let s3 = run(&p).await.unwrap();
    assert_eq!((s3.conversions, s3.touchpoints), (0, 0));
    assert_eq!(read_table(&out, "touchpoints").len(), f.sessions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_in_the_overlap_are_written_once_and_nothing_else_again() {
    let now = Timestamp::now();
    let f = fixture(50, now.add_micros(-3_600_000_000), 3 * 3600, 3);
    let Served { fake, dir, p } =
        served(f.events.clone(), &[("ATTRSYNC__POSTHOG__OVERLAP", "30m")]).await;
    run(&p).await.unwrap();
    // An event that happened 5 minutes ago reaches PostHog only now.
    let mut r = Lcg(99);
    let late = Event {
        uuid: r.uuid(),
        event: "purchase".into(),
        micros: now.add_micros(-300_000_000).micros(),
        created_at: now.add_micros(-90_000_000).micros(),
        distinct_id: "anon-1".into(),
        person_id: f
            .events
            .iter()
            .find(|e| e.distinct_id == "anon-1")
            .and_then(|e| e.person_id.clone()),
        properties: json!({"revenue": 3, "currency": "USD"})
            .as_object()
            .unwrap()
            .clone(),
    };
    fake.add_events(vec![late.clone()]);
    let s = run(&p).await.unwrap();
    assert_eq!(s.conversions, 1, "only the late purchase is new");
    assert_eq!(s.touchpoints, 0);
    let conversions = read_table(&dir.path().join("out"), "conversions");
    assert_eq!(conversions.len(), f.purchases + 1);
    assert!(conversions
        .iter()
        .any(|c| c["conversion_id"] == late.uuid.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converting_persons_journeys_reach_back_before_the_window() {
    let now = Timestamp::now();
    let mut r = Lcg(5);
    let person = r.uuid();
    let ev =
        |name: &str, days_ago: f64, distinct: &str, props: serde_json::Value, r: &mut Lcg| Event {
            uuid: r.uuid(),
            event: name.into(),
            micros: now
                .add_micros(-(days_ago * MICROS_PER_DAY as f64) as i64)
                .micros(),
            created_at: now
                .add_micros(-(days_ago * MICROS_PER_DAY as f64) as i64)
                .micros(),
            distinct_id: distinct.into(),
            person_id: Some(person.clone()),
            properties: props.as_object().unwrap().clone(),
        };
    let touch = ev(
        "$pageview",
        10.0,
        "anon-9",
        json!({"$session_id": "s-old", "utm_source": "google", "utm_medium": "cpc", "gclid": "x"}),
        &mut r,
    );
    let conv = ev(
        "purchase",
        0.5,
        "user-9",
        json!({"$session_id": "s-new", "revenue": "99.90", "currency": "USD"}),
        &mut r,
    );
    let fake = FakePostHog::start(Options::default(), vec![touch.clone(), conv.clone()]).await;
    let dir = tempfile::tempdir().unwrap();
    // The window covers only the last day; the touch is 10 days old.
    let p = pipeline(
        &fake,
        &Options::default(),
        dir.path(),
        &[("ATTRSYNC__POSTHOG__INITIAL_DAYS", "1")],
    )
    .await;
    let s = run(&p).await.unwrap();
    assert_eq!(s.conversions, 1);
    let journeys: Vec<_> = fake
        .stats()
        .values
        .into_iter()
        .filter(|v| v.get("person_ids").is_some())
        .collect();
    assert_eq!(journeys.len(), 1);
    assert_eq!(journeys[0]["person_ids"], json!([person]));
    let credits = read_table(&dir.path().join("out"), "attribution_credits");
    let ft = credits
        .iter()
        .find(|c| c["model"] == "first_touch")
        .unwrap();
    assert_eq!(ft["touchpoint_id"], touch.uuid.as_str());
    assert_eq!(ft["channel"], "paid_search");
    assert_eq!(ft["credited_value_micros"], 99_900_000);
    // The old touch is context, not a new touchpoint row.
    assert!(read_table(&dir.path().join("out"), "touchpoints")
        .iter()
        .all(|t| t["touchpoint_id"] != touch.uuid.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversions_ingested_hours_after_their_timestamp_are_read_when_they_arrive() {
    let now = Timestamp::now();
    // Sessions between six and three hours ago.
    let f = fixture(40, now.add_micros(-3 * 3_600_000_000), 3 * 3600, 7);
    let Served { fake, dir, p } = served(f.events.clone(), &[]).await;
    let first = run(&p).await.unwrap();
    assert_eq!(first.conversions as usize, f.purchases);
    // Five purchases from a phone that was offline: stamped two hours before the run above,
    // ingested only now (a minute and a half ago, past the settle delay).
    let mut r = Lcg(77);
    let late: Vec<Event> = (0..5)
        .map(|i| Event {
            uuid: r.uuid(),
            event: "purchase".into(),
            micros: now.add_micros(-7_200_000_000 + i * 1_000_000).micros(),
            created_at: Timestamp::now().add_micros(-90_000_000).micros(),
            distinct_id: format!("anon-{i}"),
            person_id: f
                .events
                .iter()
                .find(|e| e.distinct_id == format!("anon-{i}"))
                .and_then(|e| e.person_id.clone()),
            properties: json!({"revenue": "7.00", "currency": "USD"})
                .as_object()
                .unwrap()
                .clone(),
        })
        .collect();
    fake.add_events(late.clone());
    let s = run(&p).await.unwrap();
    assert_eq!(s.conversions, 5, "every late purchase is new");
    let q = s.quality.as_ref().unwrap();
    assert_eq!(q.reconciliation.late_events, 5);
    assert!(q.reconciliation.max_lateness_secs > 7_000.0, "{q:?}");
    let conversions = read_table(&dir.path().join("out"), "conversions");
    assert_eq!(conversions.len(), f.purchases + 5);
    for l in &late {
        let c = conversions
            .iter()
            .find(|c| c["conversion_id"] == l.uuid.as_str())
            .expect("late purchase written");
        assert!(c["touchpoints_in_window"].as_i64().unwrap() >= 1, "{c}");
    }
    // The incremental query pages by ingestion time and bounds the timestamp below.
    let texts = fake.stats().query_texts;
    let incremental = texts
        .iter()
        .rev()
        .find(|t| t.contains("created_at >= toDateTime64({from}"))
        .expect("an ingestion-time query");
    assert!(incremental.contains("timestamp >= toDateTime64({min_ts}"));
    assert!(incremental.contains("ORDER BY created_at ASC, uuid ASC"));
    // Nothing is read twice: a third run is empty.
    let s3 = run(&p).await.unwrap();
    assert_eq!((s3.conversions, s3.touchpoints), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_stamped_event_is_skipped_and_does_not_hold_the_cursor() {
    let now = Timestamp::now();
    let f = fixture(20, now.add_micros(-3_600_000_000), 3 * 3600, 11);
    let mut events = f.events.clone();
    let mut r = Lcg(31);
    // A phone with its clock in 2030, ingested a few minutes ago.
    events.push(Event {
        uuid: r.uuid(),
        event: "purchase".into(),
        micros: Timestamp::parse("2030-01-01T00:00:00Z").unwrap().micros(),
        created_at: now.add_micros(-300_000_000).micros(),
        distinct_id: "anon-1".into(),
        person_id: None,
        properties: json!({"revenue": "1", "currency": "USD"})
            .as_object()
            .unwrap()
            .clone(),
    });
    let Served { fake, dir: _dir, p } = served(events, &[]).await;
    let s = run(&p).await.unwrap();
    assert_eq!(
        s.read
            .skipped(attrsync::domain::extract::SkipReason::Future),
        1
    );
    assert_eq!(
        s.conversions as usize, f.purchases,
        "the 2030 purchase is not credited"
    );
    // New events still arrive: the cursor follows ingestion, not the 2030 timestamp.
    let later = Event {
        uuid: r.uuid(),
        event: "purchase".into(),
        micros: Timestamp::now().add_micros(-120_000_000).micros(),
        created_at: Timestamp::now().add_micros(-90_000_000).micros(),
        distinct_id: "anon-2".into(),
        person_id: None,
        properties: json!({"revenue": "2", "currency": "USD"})
            .as_object()
            .unwrap()
            .clone(),
    };
    fake.add_events(vec![later]);
    let s2 = run(&p).await.unwrap();
    assert_eq!(s2.conversions, 1);
}
