//! Fixture events for the fake PostHog, with many events sharing a timestamp.

use std::collections::HashSet;
use std::path::Path;

use attrsync::cli::Context;
use attrsync::domain::time::Timestamp;
use attrsync::pipeline::{Outcome, Pipeline, RunError, RunSummary};
use attrsync::sinks::AnySink;
use attrsync::sources::AnySource;
use attrsync::store::{AnyStore, RunStore, Trigger};
use serde_json::json;

use crate::support::fake_posthog::{Event, FakePostHog, Options};

/// A tiny deterministic generator.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }

    pub fn uuid(&mut self) -> String {
        let v = ((self.next() as u128) << 75) ^ ((self.next() as u128) << 24) ^ self.next() as u128;
        let h = format!("{v:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// What a fixture holds, counted independently of attrsync.
pub struct Fixture {
    pub events: Vec<Event>,
    pub sessions: usize,
    pub purchases: usize,
}

/// `persons` persons, each with 1-3 sessions of 1-4 pageviews and maybe a purchase, all
/// within `span_secs` before `end`, timestamps rounded to 10 s so many collide.
pub fn fixture(persons: usize, end: Timestamp, span_secs: i64, seed: u64) -> Fixture {
    let mut r = Lcg(seed);
    let mut events = Vec::new();
    let (mut sessions, mut purchases) = (0, 0);
    for p in 0..persons {
        let distinct = format!("anon-{p}");
        let person = r.uuid();
        for _ in 0..(1 + r.next() % 3) {
            sessions += 1;
            let sid = r.uuid();
            let mut t =
                end.micros() - ((r.next() as i64).rem_euclid(span_secs - 600) + 600) * 1_000_000;
            t -= t.rem_euclid(10_000_000);
            let landing = match r.next() % 4 {
                0 => {
                    json!({"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand", "gclid": "abc"})
                }
                1 => {
                    json!({"$referring_domain": "www.google.com", "$referrer": "https://www.google.com/"})
                }
                2 => json!({"utm_source": "newsletter", "utm_medium": "email"}),
                _ => json!({"$referring_domain": "$direct"}),
            };
            for k in 0..(1 + r.next() % 4) {
                let mut props =
                    json!({"$session_id": sid, "$current_url": "https://shop.example.com/"});
                if k == 0 {
                    props
                        .as_object_mut()
                        .unwrap()
                        .extend(landing.as_object().unwrap().clone());
                }
                events.push(Event {
                    uuid: r.uuid(),
                    event: "$pageview".into(),
                    micros: t,
                    created_at: t,
                    distinct_id: distinct.clone(),
                    person_id: Some(person.clone()),
                    properties: props.as_object().unwrap().clone(),
                });
                t += 10_000_000 * (r.next() % 2) as i64;
            }
            if r.next().is_multiple_of(3) {
                purchases += 1;
                let props = json!({"$session_id": sid, "revenue": 12.5, "currency": "EUR"});
                events.push(Event {
                    uuid: r.uuid(),
                    event: "purchase".into(),
                    micros: t,
                    created_at: t,
                    distinct_id: distinct.clone(),
                    person_id: Some(person.clone()),
                    properties: props.as_object().unwrap().clone(),
                });
            }
            // Noise PostHog has and attribution skips.
            events.push(Event {
                uuid: r.uuid(),
                event: "$autocapture".into(),
                micros: t,
                created_at: t,
                distinct_id: distinct.clone(),
                person_id: Some(person.clone()),
                properties: json!({"$session_id": sid}).as_object().unwrap().clone(),
            });
        }
    }
    Fixture {
        events,
        sessions,
        purchases,
    }
}

/// The events the extract queries should return (everything but the noise).
pub fn wanted(f: &Fixture) -> HashSet<String> {
    f.events
        .iter()
        .filter(|e| e.event != "$autocapture")
        .map(|e| e.uuid.clone())
        .collect()
}

pub type PhPipeline = Pipeline<AnySource, AnySink, AnyStore>;

/// A pipeline reading from `fake`, writing under `dir`, with extra `ATTRSYNC__…` settings.
pub async fn pipeline(
    fake: &FakePostHog,
    opts: &Options,
    dir: &Path,
    extra: &[(&str, &str)],
) -> PhPipeline {
    let url = fake.url();
    let out = dir.join("out").display().to_string();
    let db = format!("sqlite://{}", dir.join("runs.db").display());
    let mut env: Vec<(&str, &str)> = vec![
        ("ATTRSYNC__SOURCE__KIND", "posthog"),
        ("ATTRSYNC__POSTHOG__HOST", &url),
        ("ATTRSYNC__POSTHOG__PROJECT_ID", &opts.project),
        ("ATTRSYNC__POSTHOG__API_KEY", &opts.api_key),
        ("ATTRSYNC__POSTHOG__PAGE_SIZE", "100"),
        ("ATTRSYNC__POSTHOG__INITIAL_DAYS", "30"),
        ("ATTRSYNC__POSTHOG__TIMEOUT", "2s"),
        ("ATTRSYNC__POSTHOG__MAX_ATTEMPTS", "4"),
        ("ATTRSYNC__POSTHOG__RETRY_BUDGET", "30"),
        ("ATTRSYNC__POSTHOG__RATE_LIMIT__PER_MINUTE", "60000"),
        ("ATTRSYNC__POSTHOG__RATE_LIMIT__PER_HOUR", "1000000"),
        ("ATTRSYNC__POSTHOG__RATE_LIMIT__CONCURRENCY", "3"),
        ("ATTRSYNC__SINK__DIR", &out),
        ("ATTRSYNC__RUN_STORE__URL", &db),
    ];
    env.extend_from_slice(extra);
    let ctx = Context::new(crate::support::settings(&env));
    let p = ctx.pipeline().await.expect("pipeline builds");
    p.store().migrate().await.unwrap();
    p
}

/// One manual run; the summary when it completed.
pub async fn run(p: &PhPipeline) -> Result<RunSummary, RunError> {
    match p.run_once(Trigger::Manual).await? {
        Outcome::Completed(s) => Ok(*s),
        Outcome::LeaseHeld { holder, .. } => panic!("lease held by {holder}"),
    }
}

/// A default fake serving `events`, a scratch directory, and a pipeline reading from it.
pub struct Served {
    pub fake: FakePostHog,
    pub dir: tempfile::TempDir,
    pub p: PhPipeline,
}

/// Starts a default fake with `events` and a pipeline over it with `extra` settings.
pub async fn served(events: Vec<Event>, extra: &[(&str, &str)]) -> Served {
    let opts = Options::default();
    let fake = FakePostHog::start(opts.clone(), events).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(&fake, &opts, dir.path(), extra).await;
    Served { fake, dir, p }
}
