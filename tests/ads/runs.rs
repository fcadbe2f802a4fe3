//! Ad runs through the pipeline on every platform's fake: the restatement window pulled in the
//! account's days and recorded; a restated day pulled again replaces the earlier numbers in
//! the latest rows and in campaign_performance; a platform that refuses fails its run with the
//! cause in `sync_runs`, nothing written and no cursor moved.

use std::collections::HashMap;
use std::sync::Arc;

use attrsync::ads::AdSource;
use attrsync::cli::Context;
use attrsync::domain::time::Timestamp;
use attrsync::http::ErrorKind;
use attrsync::pipeline::Outcome;
use attrsync::sinks::Sink;
use attrsync::sinks::Table;
use attrsync::store::{RunStatus, RunStore, Trigger};
use serde_json::Value;

use crate::fake::{self, Common};
use crate::support::{pg::TestDb, read_table};

const PLATFORMS: [&str; 7] = [
    "google",
    "meta",
    "linkedin",
    "microsoft",
    "reddit",
    "x",
    "tiktok",
];

async fn setup(platform: &str, truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    match platform {
        "google" => crate::google::setup(truth).await,
        "meta" => crate::meta::setup(truth).await,
        "linkedin" => crate::linkedin::setup(truth).await,
        "microsoft" => crate::microsoft::setup(truth).await,
        "reddit" => crate::reddit::setup(truth).await,
        "x" => crate::x::setup(truth).await,
        "tiktok" => crate::tiktok::setup(truth).await,
        other => panic!("no fake for platform {other:?}"),
    }
}

/// The newest pull of every key in the local sink.
fn latest(out: &std::path::Path) -> HashMap<String, Value> {
    let mut best: HashMap<String, Value> = HashMap::new();
    for r in read_table(out, "ad_metrics") {
        let k = r["row_key"].as_str().unwrap().to_string();
        if best
            .get(&k)
            .is_none_or(|b| b["pulled_at"].as_str() < r["pulled_at"].as_str())
        {
            best.insert(k, r);
        }
    }
    best
}

#[tokio::test]
async fn restated_days_replace_earlier_pulls_on_every_platform() {
    let today = Timestamp::now().date();
    for platform in PLATFORMS {
        let dir = tempfile::tempdir().unwrap();
        // Enough truth for any account zone's window.
        let truth = fake::truth(3, today.add_days(-45), today.add_days(2), true);
        let (common, mut settings) = setup(platform, truth).await;
        settings.sink.dir = dir.path().join("out");
        settings.run_store.url = format!("sqlite://{}", dir.path().join("runs.db").display());
        let p = Context::new(settings).pipeline().await.unwrap();
        p.store().migrate().await.unwrap();
        let src = &p.ads()[0];
        src.resolve().await.unwrap();
        let (from, to) = src.window().unwrap();
        let in_window = |c: &Common| {
            c.truth
                .lock()
                .unwrap()
                .iter()
                .filter(|d| d.date >= from && d.date <= to)
                .count()
        };
        let expected_rows = in_window(&common);

        let Outcome::Completed(first) = p.run_ads(src, Trigger::Manual).await.unwrap() else {
            panic!("lease")
        };
        assert_eq!(
            first.rows_by_table[&Table::AdMetrics] as usize,
            expected_rows,
            "{platform}"
        );

        // The platform restates yesterday's numbers of one campaign.
        let day = to.add_days(-1);
        let (id, new_spend) = {
            let mut t = common.truth.lock().unwrap();
            let d = t.iter_mut().find(|d| d.date == day).unwrap();
            d.spend_micros += 1_230_000;
            d.clicks += 5;
            (d.campaign_id.clone(), d.spend_micros)
        };
        let Outcome::Completed(_) = p.run_ads(src, Trigger::Manual).await.unwrap() else {
            panic!("lease")
        };

        let out = dir.path().join("out");
        let all = read_table(&out, "ad_metrics");
        let latest = latest(&out);
        assert_eq!(all.len(), 2 * expected_rows, "{platform}: both pulls kept");
        assert_eq!(
            latest.len(),
            expected_rows,
            "{platform}: one latest row per key"
        );
        let key = latest
            .keys()
            .find(|k| k.contains(&format!(":{id}:{day}")))
            .unwrap_or_else(|| panic!("{platform}: no row for {id} {day}"));
        assert_eq!(
            latest[key]["spend_micros"].as_i64(),
            Some(new_spend),
            "{platform}: the restated numbers win"
        );
        let copies = all.iter().filter(|r| r["row_key"] == key.as_str()).count();
        assert_eq!(copies, 2, "{platform}");

        p.sink().refresh_derived().await.unwrap();
        let perf = std::fs::read_to_string(out.join("campaign_performance.ndjson")).unwrap();
        let hits: Vec<Value> = perf
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["campaign_id"] == id.as_str() && r["date"] == day.to_string().as_str())
            .collect();
        assert_eq!(hits.len(), 1, "{platform}: once, no models credited yet");
        assert_eq!(
            hits[0]["spend_micros"].as_i64(),
            Some(new_spend),
            "{platform}"
        );

        let job = src.job();
        assert_eq!(
            p.store().cursor(&job, "ads").await.unwrap(),
            Some(to.to_string()),
            "{platform}"
        );
    }
}

#[tokio::test]
async fn a_refusing_platform_fails_its_run_with_the_cause_recorded() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let today = Timestamp::now().date();
    let (_common, mut settings) = setup(
        "meta",
        fake::truth(2, today.add_days(-40), today.add_days(1), true),
    )
    .await;
    settings.ads.meta.access_token =
        Some(attrsync::config::secret::Secret::new("revoked-SENSITIVE"));
    settings.sink.dir = dir.path().join("out");
    settings.run_store.url = db.url.clone();
    let p = Context::new(settings).pipeline().await.unwrap();
    p.store().migrate().await.unwrap();
    let src = &p.ads()[0];
    let err = p.run_ads(src, Trigger::Manual).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent);
    let run = p.store().run(err.run.unwrap()).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let cause = run.error.unwrap();
    assert!(
        cause.contains("ads.meta.access_token") && !cause.contains("revoked-SENSITIVE"),
        "{cause}"
    );
    assert!(read_table(&dir.path().join("out"), "ad_metrics").is_empty());
    assert_eq!(p.store().cursor(&src.job(), "ads").await.unwrap(), None);
}

/// The account's today in `zone`.
fn today_in(zone: &str) -> attrsync::domain::time::Date {
    attrsync::ads::today_in(&jiff::tz::TimeZone::get(zone).unwrap())
}

#[tokio::test]
async fn without_a_configured_zone_runs_pull_the_accounts_days_as_the_platform_reports_them() {
    let today = Timestamp::now().date();
    for platform in PLATFORMS {
        let truth = fake::truth(2, today.add_days(-45), today.add_days(2), true);
        let (common, settings) = setup(platform, truth).await;
        assert!(settings.ads.google.time_zone.is_none() && settings.ads.meta.time_zone.is_none());
        let key = platform.to_uppercase();
        let mut cursors = Vec::new();
        // No zone configured; the right zone configured; a wrong one (UTC) configured.
        for zone in [None, Some(common.zone), Some("UTC")] {
            let dir = tempfile::tempdir().unwrap();
            let mut s = settings.clone();
            let section = match platform {
                "google" => &mut s.ads.google,
                "meta" => &mut s.ads.meta,
                "linkedin" => &mut s.ads.linkedin,
                "microsoft" => &mut s.ads.microsoft,
                "reddit" => &mut s.ads.reddit,
                "x" => &mut s.ads.x,
                "tiktok" => &mut s.ads.tiktok,
                other => panic!("no platform {other}"),
            };
            section.time_zone = zone.map(String::from);
            s.sink.dir = dir.path().join("out");
            s.run_store.url = format!("sqlite://{}", dir.path().join("runs.db").display());
            let p = Context::new(s).pipeline().await.unwrap();
            p.store().migrate().await.unwrap();
            let src = &p.ads()[0];
            let notes = match p.run_ads(src, Trigger::Manual).await {
                Ok(Outcome::Completed(summary)) => summary.quality.unwrap().warnings,
                Ok(_) => panic!("lease"),
                Err(e) => vec![format!("failed: {e}")],
            };
            cursors.push((p.store().cursor(&src.job(), "ads").await.unwrap(), notes));
        }
        let want = today_in(common.zone).to_string();
        assert_eq!(
            cursors[0].0.as_deref(),
            Some(want.as_str()),
            "{platform} {key}: the platform's zone"
        );
        assert_eq!(
            cursors[0].0, cursors[1].0,
            "{platform}: as if the right zone were configured"
        );
        assert!(
            cursors[0].1.is_empty() && cursors[1].1.is_empty(),
            "{platform}: {cursors:?}"
        );
        if platform == "x" {
            // X aligns DAY slots to the account's own midnight and refuses others.
            assert!(cursors[2].1[0].contains("midnight"), "{:?}", cursors[2].1);
        } else if common.zone != "UTC" {
            assert_ne!(
                cursors[2].0, cursors[0].0,
                "{platform}: a wrong zone pulls other days"
            );
            assert!(
                cursors[2]
                    .1
                    .iter()
                    .any(|w| w.contains("time_zone is UTC") && w.contains(common.zone)),
                "{platform}: a configured zone that differs is a warning: {:?}",
                cursors[2].1
            );
        }
    }
}
