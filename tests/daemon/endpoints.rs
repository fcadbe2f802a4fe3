use std::time::Duration;

use attrsync::domain::time::Timestamp;

use crate::support::fake_posthog::{Event, FakePostHog, Options};
use crate::support::pg::TestDb;
use crate::support::process::Proc;
use crate::support::proxy::Proxy;
use crate::{eventually, get, small_events};

/// The value of the first metric line that starts with `prefix`.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_runs_rows_http_and_limiter_series_with_real_values() {
    let now = Timestamp::now();
    let events: Vec<Event> = (0..300)
        .map(|i| Event {
            uuid: format!("0190f3a2-0000-7000-8000-{i:012}"),
            event: if i % 10 == 9 { "purchase".into() } else { "$pageview".into() },
            micros: now.micros() - 3_600_000_000 + i * 1_000_000,
            created_at: now.micros() - 3_600_000_000 + i * 1_000_000,
            distinct_id: format!("d{}", i / 10),
            person_id: None,
            properties: serde_json::json!({"$session_id": format!("s{}", i / 10), "utm_source": "google", "utm_medium": "cpc", "revenue": 5})
                .as_object()
                .unwrap()
                .clone(),
        })
        .collect();
    let fake = FakePostHog::start(Options::default(), events).await;
    fake.push_fault(crate::support::fake_posthog::Fault::Status(429, Some(1)));
    let dir = tempfile::tempdir().unwrap();
    let url = fake.url();
    let env = [
        ("ATTRSYNC__SOURCE__KIND", "posthog"),
        ("ATTRSYNC__POSTHOG__HOST", url.as_str()),
        ("ATTRSYNC__POSTHOG__PROJECT_ID", "4242"),
        ("ATTRSYNC__POSTHOG__API_KEY", "phx_test_key"),
        ("ATTRSYNC__POSTHOG__PAGE_SIZE", "50"),
        ("ATTRSYNC__SCHEDULE__START_JITTER", "0s"),
        ("ATTRSYNC__SERVER__BIND", "127.0.0.1:0"),
    ];
    let mut d = Proc::spawn(dir.path(), &["run"], &env);
    let bind = d.bound_addr(Duration::from_secs(60));
    let base = format!("http://{bind}");
    let m_url = format!("{base}/metrics");
    let ran = eventually(Duration::from_secs(60), || {
        let u = m_url.clone();
        async move {
            // The series exist from the start (at 0); wait for the first success.
            get(&u).await.is_some_and(|(_, b)| {
                metric(
                    &b,
                    "attrsync_runs_total{job=\"posthog:4242\",status=\"succeeded\"}",
                )
                .is_some_and(|v| v >= 1.0)
            })
        }
    })
    .await;
    assert!(ran, "{}", d.stderr());
    let (code, text) = get(&m_url).await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        metric(
            &text,
            "attrsync_runs_total{job=\"posthog:4242\",status=\"succeeded\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "attrsync_run_duration_seconds_count{job=\"posthog:4242\"}"
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "attrsync_events_read_total{job=\"posthog:4242\"}"),
        Some(300.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "attrsync_rows_written_total{job=\"posthog:4242\",table=\"conversions\"}"
        ),
        Some(30.0),
        "{text}"
    );
    assert!(
        metric(&text, "attrsync_http_requests_total{api=\"posthog\"}").unwrap() >= 8.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "attrsync_http_throttled_total{api=\"posthog\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("attrsync_rate_limiter_wait_seconds_bucket{api=\"posthog\""),
        "{text}"
    );
    let last = metric(
        &text,
        "attrsync_last_success_timestamp_seconds{job=\"posthog:4242\"}",
    )
    .unwrap();
    assert!((last - Timestamp::now().micros() as f64 / 1e6).abs() < 120.0);
    assert_eq!(
        get(&format!("{base}/healthz")).await.unwrap(),
        (200, "ok\n".to_string())
    );
    // Event-quality shares describe event runs only; ad runs export their spend share.
    let ads_ran = eventually(Duration::from_secs(30), || {
        let u = m_url.clone();
        async move {
            get(&u).await.is_some_and(|(_, b)| {
                metric(
                    &b,
                    "attrsync_runs_total{job=\"ads:file\",status=\"succeeded\"}",
                )
                .is_some_and(|v| v >= 1.0)
            })
        }
    })
    .await;
    assert!(ads_ran);
    let (_, text) = get(&m_url).await.unwrap();
    assert!(
        !text.contains("attrsync_quality_share{job=\"ads:file\""),
        "{text}"
    );
    assert!(
        metric(&text, "attrsync_spend_matched_share{job=\"ads:file\"}").is_some(),
        "{text}"
    );
    d.terminate();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_run_store() {
    let db = TestDb::new().await;
    let proxy = Proxy::start(TestDb::server_addr(), true).await;
    let via = db.url_via(proxy.addr);
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", file.as_str()),
        ("ATTRSYNC__RUN_STORE__URL", via.as_str()),
        ("ATTRSYNC__RUN_STORE__CONNECT_TIMEOUT", "1s"),
        ("ATTRSYNC__SCHEDULE__START_JITTER", "0s"),
        ("ATTRSYNC__SCHEDULE__INTERVAL", "1h"),
        ("ATTRSYNC__SERVER__BIND", "127.0.0.1:0"),
        ("ATTRSYNC__SERVER__READY_MAX_AGE", "5m"),
    ];
    let mut d = Proc::spawn(dir.path(), &["run"], &env);
    let bind = d.bound_addr(Duration::from_secs(60));
    let ready = format!("http://{bind}/readyz");
    let up = eventually(Duration::from_secs(60), || {
        let u = ready.clone();
        async move {
            get(&u)
                .await
                .is_some_and(|(c, b)| c == 200 && b.contains("last success"))
        }
    })
    .await;
    assert!(up, "{}", d.stderr());
    proxy.cut();
    let (code, body) = get(&ready).await.unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("run store unavailable"), "{body}");
    assert_eq!(
        get(&format!("http://{bind}/healthz")).await.unwrap().0,
        200,
        "alive while not ready"
    );
    proxy.restore();
    let back = eventually(Duration::from_secs(30), || {
        let u = ready.clone();
        async move { get(&u).await.is_some_and(|(c, _)| c == 200) }
    })
    .await;
    assert!(back);
    d.terminate();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_a_line_per_service_and_fails_when_one_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let d = dir.path().to_path_buf();
    let (code, out, _) = tokio::task::spawn_blocking(move || {
        crate::support::run_bin(
            &d,
            &["check"],
            &[
                ("ATTRSYNC__SOURCE__PATH", file.as_str()),
                (
                    "ATTRSYNC__RUN_STORE__URL",
                    "postgres://attrsync@127.0.0.1:1/none",
                ),
                ("ATTRSYNC__RUN_STORE__CONNECT_TIMEOUT", "1s"),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ok") && l.contains("config")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("FAIL")
            && l.contains("run store")
            && l.contains("run_store.url")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ok") && l.contains("source (file)")),
        "{out}"
    );
    assert!(out.contains("1 check(s) failed"));
    assert!(
        !out.contains("attrsync@"),
        "no connection strings in the output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_family_answers_with_zeros_before_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", file.as_str()),
        // The first run waits up to a minute: scrapes before it must still see the series.
        ("ATTRSYNC__SCHEDULE__START_JITTER", "1h"),
        ("ATTRSYNC__SERVER__BIND", "127.0.0.1:0"),
    ];
    let mut d = Proc::spawn(dir.path(), &["run"], &env);
    let bind = d.bound_addr(Duration::from_secs(60));
    let m_url = format!("http://{bind}/metrics");
    let up = eventually(Duration::from_secs(30), || {
        let u = m_url.clone();
        async move { get(&u).await.is_some_and(|(c, _)| c == 200) }
    })
    .await;
    assert!(up, "{}", d.stderr());
    let (_, text) = get(&m_url).await.unwrap();
    let job = "file:events.ndjson";
    for series in [
        format!("attrsync_runs_total{{job=\"{job}\",status=\"succeeded\"}}"),
        format!("attrsync_runs_total{{job=\"{job}\",status=\"failed\"}}"),
        format!("attrsync_events_read_total{{job=\"{job}\"}}"),
        format!("attrsync_rows_written_total{{job=\"{job}\",table=\"conversions\"}}"),
        "attrsync_runs_total{job=\"ads:file\",status=\"succeeded\"}".to_string(),
        format!("attrsync_last_success_timestamp_seconds{{job=\"{job}\"}}"),
    ] {
        assert_eq!(metric(&text, &series), Some(0.0), "{series} in:\n{text}");
    }
    assert!(text.contains("# HELP attrsync_runs_total"), "{text}");
    d.terminate();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_report_it_rewrites_after_each_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_events(dir.path());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", file.as_str()),
        ("ATTRSYNC__SCHEDULE__START_JITTER", "0s"),
        ("ATTRSYNC__SCHEDULE__INTERVAL", "1h"),
        ("ATTRSYNC__SERVER__BIND", "127.0.0.1:0"),
    ];
    let mut d = Proc::spawn(dir.path(), &["run"], &env);
    let bind = d.bound_addr(Duration::from_secs(60));
    let url = format!("http://{bind}/report");
    let page = eventually(Duration::from_secs(60), || {
        let u = url.clone();
        async move { get(&u).await.is_some_and(|(c, _)| c == 200) }
    })
    .await;
    assert!(page, "{}", d.stderr());
    let (_, body) = get(&url).await.unwrap();
    assert!(body.contains("<h1>attrsync report</h1>"), "{body}");
    // The page holds the first cycle's credits, as the sink does.
    let credits = crate::support::read_table(&dir.path().join("out"), "attribution_credits");
    assert!(!credits.is_empty());
    let channel = credits[0]["channel"].as_str().unwrap();
    assert!(
        body.contains(&format!("<tr data-channel=\"{channel}\">")),
        "{channel} missing"
    );
    assert!(dir.path().join("out/report.html").is_file());
    d.terminate();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0), "{}", d.stderr());

    // Turned off, the route says so.
    let mut off_env = env.to_vec();
    off_env.push(("ATTRSYNC__REPORT__ENABLED", "false"));
    let mut d = Proc::spawn(dir.path(), &["run"], &off_env);
    let bind = d.bound_addr(Duration::from_secs(60));
    let (code, body) = get(&format!("http://{bind}/report")).await.unwrap();
    assert_eq!(code, 404);
    assert!(body.contains("report.enabled = false"), "{body}");
    d.terminate();
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0), "{}", d.stderr());
}
