//! PostHog source throughput against the fake server with PostHog's real limits
//! (240 queries/minute, 2,400/hour, 3 at once): how close the source gets to the quota-bound
//! rate of page_size × 240 rows per minute. Run: `cargo bench --bench posthog`
//! (BENCH_PAGES, default 240, sets the size; BENCH_LATENCY_MS, default 300, the query time).

#[path = "../tests/support/fake_posthog.rs"]
#[allow(dead_code)]
mod fake_posthog;
#[path = "../tests/support/hogql.rs"]
#[allow(dead_code)]
mod hogql;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use attrsync::config::{LoadOptions, Settings};
use attrsync::domain::time::Timestamp;
use attrsync::pipeline::plan_from;
use attrsync::sources::posthog::{PostHogConfig, PostHogSource};
use attrsync::sources::{ReadRequest, Source};
use fake_posthog::{Event, FakePostHog, Options};
use serde_json::json;

const PAGE: usize = 1000;

fn env_num(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pages = env_num("BENCH_PAGES", 240) as usize;
    let latency = Duration::from_millis(env_num("BENCH_LATENCY_MS", 300));
    let rows = pages * PAGE;
    let end = Timestamp::now().add_micros(-60_000_000);
    let events: Vec<Event> = (0..rows)
        .map(|i| {
            let mut props = json!({"$session_id": format!("s{}", i / 3), "$current_url": "https://shop.example.com/"});
            if i % 3 == 0 {
                props["utm_source"] = json!("google");
                props["utm_medium"] = json!("cpc");
            }
            Event {
                uuid: format!("{:08x}-0000-7000-8000-{:012x}", i as u32 ^ 0x5a5a5a5a, i),
                event: "$pageview".into(),
                micros: end.micros() - (i as i64 * 6 * 3_600_000_000 / rows as i64),
                created_at: end.micros() - (i as i64 * 6 * 3_600_000_000 / rows as i64),
                distinct_id: format!("d{}", i / 9),
                person_id: None,
                properties: props.as_object().unwrap().clone(),
            }
        })
        .collect();
    let opts = Options {
        per_minute: 240,
        per_hour: 2400,
        concurrency: 3,
        latency,
        ..Options::default()
    };
    let fake = FakePostHog::start(opts.clone(), events).await;
    let url = fake.url();
    let page = PAGE.to_string();
    let env: HashMap<String, String> = [
        ("ATTRSYNC__SOURCE__KIND", "posthog"),
        ("ATTRSYNC__POSTHOG__HOST", url.as_str()),
        ("ATTRSYNC__POSTHOG__PROJECT_ID", opts.project.as_str()),
        ("ATTRSYNC__POSTHOG__API_KEY", opts.api_key.as_str()),
        ("ATTRSYNC__POSTHOG__PAGE_SIZE", page.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = Settings::load(&LoadOptions {
        env: Some(env),
        ..Default::default()
    })
    .expect("settings");
    let (_, rules) = plan_from(&settings).expect("plan");
    let config = PostHogConfig::from_settings(&settings.posthog).expect("[posthog]");
    let source = PostHogSource::new(&config).expect("source");
    let since = attrsync::sources::horizon::Horizon {
        from: Some(end.add_micros(-7 * 3_600_000_000)),
        tail: Default::default(),
    };
    let req = ReadRequest {
        cursor: Some(since.to_text()),
        window: None,
        now: Timestamp::now(),
        max_future_micros: 3_600_000_000,
        lookback_micros: 0,
        training_micros: 0,
    };
    println!("PostHog source vs fake PostHog with real limits: {rows} rows, page {PAGE}, query latency {latency:?}");
    let started = Instant::now();
    let ex = source.extract(&req, &rules).await.expect("extract");
    let secs = started.elapsed().as_secs_f64();
    let st = fake.stats();
    let requests = st.requests.len();
    let read = ex.counts.read as f64;
    let quota_rows_per_sec = PAGE as f64 * 240.0 / 60.0;
    let achieved = read / secs;
    println!(
        "read {read} rows in {secs:.1} s: {achieved:.0} rows/s; quota-bound {quota_rows_per_sec:.0} rows/s -> {:.1}%",
        100.0 * achieved / quota_rows_per_sec
    );
    println!(
        "{requests} requests ({:.2}/s of 4.00 allowed), {} throttled, max {} in flight, {:.0} rows per request",
        requests as f64 / secs,
        st.throttled,
        st.max_in_flight,
        read / requests as f64
    );
}
