use std::time::{Duration, Instant};

use attrsync::domain::time::Timestamp;
use attrsync::http::ErrorKind;

use crate::fixture::{fixture, pipeline, run, served, Served};
use crate::support::fake_posthog::{FakePostHog, Fault, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_never_exceeds_the_rate_or_concurrency_it_is_given() {
    let f = fixture(250, Timestamp::now().add_micros(-60_000_000), 6 * 3600, 4);
    // The fake enforces 300/min (one per 200 ms) and 2 at once, with 150 ms per query.
    let opts = Options {
        per_minute: 300,
        concurrency: 2,
        latency: Duration::from_millis(150),
        ..Options::default()
    };
    let fake = FakePostHog::start(opts.clone(), f.events.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let limits = [
        ("ATTRSYNC__POSTHOG__RATE_LIMIT__PER_MINUTE", "300"),
        ("ATTRSYNC__POSTHOG__RATE_LIMIT__CONCURRENCY", "2"),
    ];
    let p = pipeline(&fake, &opts, dir.path(), &limits).await;
    let started = Instant::now();
    run(&p).await.expect("run succeeds");
    let st = fake.stats();
    assert_eq!(st.throttled, 0, "the client stayed within the limits");
    assert!(st.max_in_flight <= 2 && st.max_in_flight >= 1);
    let n = st.requests.len();
    assert!(n >= 10, "{n} requests");
    // n requests at one per 200 ms take at least (n − 1) × 200 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(200 * (n as u64 - 1)),
        "{:?} for {n}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_waited_out_as_retry_after_says() {
    let f = fixture(30, Timestamp::now().add_micros(-60_000_000), 3600, 5);
    let opts = Options::default();
    let fake = FakePostHog::start(opts.clone(), f.events.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(&fake, &opts, dir.path(), &[]).await;
    fake.push_fault(Fault::Status(429, Some(2)));
    run(&p).await.expect("run succeeds after waiting");
    let st = fake.stats();
    assert_eq!(st.requests[0].2, 429);
    let gap = st.requests[1].0.duration_since(st.requests[0].0);
    assert!(gap >= Duration::from_secs(2), "waited {gap:?}");
    assert!(gap < Duration::from_secs(4), "waited {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_configured_above_the_servers_limits_recovers_from_429s() {
    let f = fixture(120, Timestamp::now().add_micros(-60_000_000), 3600, 6);
    // The server allows 5 requests per 2-second window; the client believes 60,000 a minute.
    let opts = Options {
        per_minute: 5,
        minute: Duration::from_secs(2),
        ..Options::default()
    };
    let fake = FakePostHog::start(opts.clone(), f.events.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        &fake,
        &opts,
        dir.path(),
        &[
            ("ATTRSYNC__POSTHOG__PAGE_SIZE", "40"),
            ("ATTRSYNC__POSTHOG__RATE_LIMIT__CONCURRENCY", "1"),
        ],
    )
    .await;
    let s = run(&p).await.expect("run succeeds");
    assert_eq!(s.conversions as usize, f.purchases);
    let st = fake.stats();
    assert!(st.throttled >= 1, "the server had to throttle");
    // Every 429 was followed by a wait of at least its Retry-After (≥ 1 s) before the next try.
    for w in st.requests.windows(2) {
        if w[0].2 == 429 {
            assert!(w[1].0.duration_since(w[0].0) >= Duration::from_millis(950));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_key_fails_at_once_with_a_clear_message() {
    let f = fixture(5, Timestamp::now().add_micros(-60_000_000), 3600, 7);
    let fake = FakePostHog::start(Options::default(), f.events).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = Options {
        api_key: "phx_wrong_secret".into(),
        ..Options::default()
    };
    let p = pipeline(&fake, &wrong, dir.path(), &[]).await;
    let err = run(&p).await.expect_err("401 fails the run");
    let text = format!("{err}");
    assert!(
        text.contains("posthog.api_key")
            && text.contains("query:read")
            && text.contains("invalid_personal_api_key"),
        "{text}"
    );
    assert!(
        !text.contains("phx_wrong_secret"),
        "the key never appears in errors"
    );
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert_eq!(fake.stats().requests.len(), 1, "no retries on 401");
    let stored = attrsync::store::RunStore::recent(p.store(), 1)
        .await
        .unwrap()
        .remove(0);
    assert!(!stored.error.unwrap().contains("phx_wrong_secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_gateway_timeouts_and_slow_responses_are_retried() {
    let f = fixture(40, Timestamp::now().add_micros(-60_000_000), 3600, 8);
    let Served {
        fake, p, dir: _dir, ..
    } = served(
        f.events.clone(),
        &[("ATTRSYNC__POSTHOG__RATE_LIMIT__CONCURRENCY", "1")],
    )
    .await;
    for fault in [
        Fault::Status(503, None),
        Fault::Status(504, None),
        Fault::Slow(Duration::from_secs(3)),
        Fault::Pass,
        Fault::Status(502, Some(1)),
    ] {
        fake.push_fault(fault);
    }
    let s = run(&p).await.expect("retries succeed");
    assert_eq!(s.conversions as usize, f.purchases);
    let stats = fake.stats();
    assert_eq!(
        stats.faults,
        ["503", "504", "slow", "pass", "502"],
        "every fault was served"
    );
    // The slow answer (3 s) outlasted the client's timeout (2 s): the client hung up and asked
    // again, so the server's late answer was never wanted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        fake.stats().slow_answered,
        0,
        "the slow request was abandoned"
    );
    let failed = stats
        .requests
        .iter()
        .filter(|(_, _, status)| matches!(status, 502..=504))
        .count();
    assert_eq!(failed, 3, "each server error was answered once and retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_parse_fails_the_run_naming_query_and_page() {
    let f = fixture(40, Timestamp::now().add_micros(-60_000_000), 3600, 9);
    let Served {
        fake, p, dir: _dir, ..
    } = served(
        f.events.clone(),
        &[("ATTRSYNC__POSTHOG__RATE_LIMIT__CONCURRENCY", "1")],
    )
    .await;
    fake.push_fault(Fault::Pass);
    fake.push_fault(Fault::Truncated);
    let err = run(&p).await.expect_err("truncated JSON fails the run");
    let text = format!("{err}");
    assert!(
        text.contains("query 'attrsync_events' page 1") && text.contains("not valid JSON"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_key_and_scope_per_line() {
    let fake = FakePostHog::start(Options::default(), vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = fake.url();
    let run_check = |key: &'static str| {
        let (dir, url) = (dir.path().to_path_buf(), url.clone());
        tokio::task::spawn_blocking(move || {
            crate::support::run_bin(
                &dir,
                &["check"],
                &[
                    ("ATTRSYNC__SOURCE__KIND", "posthog"),
                    ("ATTRSYNC__POSTHOG__HOST", &url),
                    ("ATTRSYNC__POSTHOG__PROJECT_ID", "4242"),
                    ("ATTRSYNC__POSTHOG__API_KEY", key),
                ],
            )
        })
    };
    let (code, out, err) = run_check("phx_test_key").await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("source (posthog")),
        "{out}"
    );
    let (code, out, _) = run_check("phx_nope").await.unwrap();
    assert_eq!(code, 1);
    let line = out.lines().find(|l| l.contains("source (posthog")).unwrap();
    assert!(
        line.starts_with("FAIL") && line.contains("query:read"),
        "{line}"
    );
    assert!(!out.contains("phx_nope"));
}
