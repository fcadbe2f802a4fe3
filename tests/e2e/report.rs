//! `attrsync report` as a person sees it: the page of the embedded default opened in headless
//! Chromium (tests/peers/report_check.py), with nothing fetched, nothing logged to the
//! console, something drawn, and the numbers of its tables equal to the sink's rows.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{python, read_table, run_bin, sample_ads, sample_events};

fn chromium() -> String {
    std::env::var("ATTRSYNC_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

#[test]
fn the_report_opens_offline_without_errors_and_shows_the_sinks_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (events, ads) = (sample_events(), sample_ads());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", events.as_str()),
        ("ATTRSYNC__ADS__FILE__PATH", ads.as_str()),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_bin(dir.path(), &["report", "--out", "page.html"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("report: page.html"), "{out}");

    let page = dir.path().join("page.html");
    let shot = dir.path().join("page.png");
    let run = std::process::Command::new(python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/report_check.py"))
        .arg(&page)
        .arg(&shot)
        .arg(chromium())
        .output()
        .expect("the report checker runs (scripts/test installs playwright and chromium)");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(seen["console"], serde_json::json!([]), "console messages");
    assert_eq!(seen["requests"], serde_json::json!([]), "network requests");
    assert!(
        seen["distinct_colours"].as_u64().unwrap() > 50,
        "the screenshot is blank: {}",
        seen["distinct_colours"]
    );

    // Credits per channel and model, as the sink holds them.
    let sink = dir.path().join("out");
    let mut credits: BTreeMap<(String, String), f64> = BTreeMap::new();
    for r in read_table(&sink, "attribution_credits") {
        let key = (
            r["channel"].as_str().unwrap().to_string(),
            r["model"].as_str().unwrap().to_string(),
        );
        *credits.entry(key).or_default() += r["credit"].as_f64().unwrap();
    }
    let mut shown = 0;
    for (channel, models) in seen["credits"].as_object().unwrap() {
        for (model, v) in models.as_object().unwrap() {
            let want = credits
                .get(&(channel.clone(), model.clone()))
                .copied()
                .unwrap_or(0.0);
            assert!(
                (v.as_f64().unwrap() - want).abs() < 1e-6,
                "{channel} / {model}: page {v}, sink {want}"
            );
            shown += 1;
        }
    }
    assert_eq!(
        shown,
        credits.len(),
        "every channel and model is on the page"
    );

    // Spend per campaign, as the sink holds it.
    let mut spend: BTreeMap<(String, String), (i64, String)> = BTreeMap::new();
    for r in read_table(&sink, "ad_metrics") {
        let e = spend
            .entry((
                r["platform"].as_str().unwrap().into(),
                r["campaign_id"].as_str().unwrap().into(),
            ))
            .or_insert((0, r["currency"].as_str().unwrap().into()));
        e.0 += r["spend_micros"].as_i64().unwrap();
    }
    let campaigns = seen["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), spend.len(), "{campaigns:?}");
    for c in campaigns {
        let key = (
            c["platform"].as_str().unwrap().to_string(),
            c["campaign_id"].as_str().unwrap().to_string(),
        );
        let (micros, currency) = &spend[&key];
        assert_eq!(
            c["spend_micros"].as_str().unwrap(),
            micros.to_string(),
            "{key:?}"
        );
        assert_eq!(c["currency"].as_str().unwrap(), currency, "{key:?}");
    }
    // Largest spenders first (all in one currency here).
    let order: Vec<i64> = campaigns
        .iter()
        .map(|c| c["spend_micros"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");
}

#[test]
fn a_period_and_model_narrow_the_page_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (events, ads) = (sample_events(), sample_ads());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", events.as_str()),
        ("ATTRSYNC__ADS__FILE__PATH", ads.as_str()),
    ];
    let (code, _, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{err}");
    let days: Vec<String> = read_table(&dir.path().join("out"), "conversions")
        .iter()
        .map(|r| r["converted_at"].as_str().unwrap()[..10].to_string())
        .collect();
    let first = days.iter().min().unwrap().clone();
    let (code, _, err) = run_bin(
        dir.path(),
        &[
            "report",
            "--out",
            "one.html",
            "--from",
            &first,
            "--to",
            &first,
            "--model",
            "first-touch",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(dir.path().join("one.html")).unwrap();
    assert!(
        page.contains(&format!("{first} to {first}")),
        "the period is named"
    );
    assert!(
        page.contains("under <b>first_touch</b>"),
        "the model is named"
    );
    // First touch gives each conversion one credit: the day's column sums to its conversions.
    let on_that_day = days.iter().filter(|d| **d == first).count() as f64;
    let shown: f64 = page
        .split("data-model=\"first_touch\" data-v=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(on_that_day >= 1.0);
    assert!(
        (shown - on_that_day).abs() < 1e-9,
        "{shown} vs {on_that_day}"
    );

    let (code, _, err) = run_bin(dir.path(), &["report", "--model", "magic"], &env);
    assert_ne!(code, 0);
    assert!(
        err.contains("--model magic is not an enabled model"),
        "{err}"
    );
    let (code, _, err) = run_bin(dir.path(), &["report", "--from", "2026-02-30"], &env);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a date"), "{err}");
}
