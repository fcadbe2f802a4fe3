//! One reporting currency: daily ECB rates (from a fake serving the ECB's own file format)
//! written to `fx_rates`, and spend and value converted in `campaign_performance` and in the ad
//! runs' spend quality at each day's rate (the latest earlier one on weekends), a missing rate
//! a warning and NULL, never 1.0.

use std::collections::BTreeMap;

use attrsync::cli::Context;
use attrsync::pipeline::Outcome;
use attrsync::sinks::Table;
use attrsync::store::{RunStore, Trigger};
use serde_json::Value;

use crate::support::fake_ecb::FakeEcb;
use crate::support::{read_table, sample_events};

fn ad(account: &str, campaign: &str, date: &str, currency: &str, spend: i64) -> String {
    format!(
        r#"{{"platform":"google_ads","account_id":"{account}","campaign_id":"{campaign}","campaign_name":"c{campaign}","date":"{date}","currency":"{currency}","spend_micros":{spend},"impressions":100,"clicks":7,"platform_conversions":1.0}}"#
    )
}

/// Wednesday to Friday, 2026-09-30 … 2026-10-02; no rates on the weekend, no JPY at all.
fn days() -> crate::support::fake_ecb::Days {
    let mut d = BTreeMap::new();
    d.insert(
        "2026-09-30".into(),
        vec![("USD".into(), 1.16), ("GBP".into(), 0.87)],
    );
    d.insert(
        "2026-10-01".into(),
        vec![("USD".into(), 1.17), ("GBP".into(), 0.868)],
    );
    d.insert(
        "2026-10-02".into(),
        vec![("USD".into(), 1.18), ("GBP".into(), 0.866)],
    );
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_and_value_in_one_reporting_currency_at_each_days_rate() {
    let ecb = FakeEcb::start(days()).await;
    let (recent, history) = ecb.urls();
    let dir = tempfile::tempdir().unwrap();
    let ads = dir.path().join("ads.ndjson");
    let lines = [
        ad("de", "31001", "2026-10-01", "EUR", 10_000_000),
        // Saturday: Friday's rate.
        ad("de", "31001", "2026-10-03", "EUR", 20_000_000),
        ad("uk", "31002", "2026-10-02", "GBP", 8_660_000),
        ad("us", "31003", "2026-10-02", "USD", 5_000_000),
        ad("jp", "31004", "2026-10-02", "JPY", 1_000_000_000),
    ];
    std::fs::write(&ads, lines.join("\n") + "\n").unwrap();
    let (out, db, ads, events) = (
        dir.path().join("out").display().to_string(),
        format!("sqlite://{}", dir.path().join("runs.db").display()),
        ads.display().to_string(),
        sample_events(),
    );
    let settings = crate::support::settings(&[
        ("ATTRSYNC__SOURCE__PATH", &events),
        ("ATTRSYNC__ADS__FILE__PATH", &ads),
        ("ATTRSYNC__SINK__DIR", &out),
        ("ATTRSYNC__RUN_STORE__URL", &db),
        ("ATTRSYNC__REPORTING__CURRENCY", "USD"),
        ("ATTRSYNC__FX__ECB_URL", &recent),
        ("ATTRSYNC__FX__ECB_HISTORY_URL", &history),
    ]);
    let p = Context::new(settings.clone()).pipeline().await.unwrap();
    p.store().migrate().await.unwrap();
    let results = p.run_all(Trigger::Manual).await;
    let by_job: BTreeMap<String, _> = results.into_iter().collect();
    let fx = match &by_job["fx:ecb"] {
        Ok(Outcome::Completed(s)) => s.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        fx.rows_by_table[&Table::FxRates],
        9,
        "EUR, GBP and USD on three days"
    );
    assert_eq!(
        ecb.requests(),
        ["eurofxref-hist.xml"],
        "the whole history the first time"
    );
    let rates = read_table(&dir.path().join("out"), "fx_rates");
    let eur = rates
        .iter()
        .find(|r| r["row_key"] == "USD:EUR:2026-10-01")
        .unwrap();
    assert!((eur["rate"].as_f64().unwrap() - 1.17).abs() < 1e-12);

    // The ad run's spend, in USD where a rate exists, with the JPY day named.
    let ads_run = match &by_job["ads:file"] {
        Ok(Outcome::Completed(s)) => s.clone(),
        other => panic!("{other:?}"),
    };
    let q = ads_run.quality.as_ref().unwrap();
    let r = q.spend.as_ref().unwrap().reporting.as_ref().unwrap();
    let want =
        11_700_000 + 23_600_000 + (8_660_000.0 * 1.18 / 0.866_f64).round() as i64 + 5_000_000;
    assert_eq!(r.spend_reporting_micros, want);
    assert_eq!(r.missing_rates, ["JPY on 2026-10-02"]);
    assert!(
        q.warnings
            .iter()
            .any(|w| w.contains("no exchange rate to USD for JPY")),
        "{:?}",
        q.warnings
    );

    // campaign_performance: both currencies, per row.
    let perf: Vec<Value> =
        std::fs::read_to_string(dir.path().join("out/campaign_performance.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let row = |c: &str, d: &str| {
        perf.iter()
            .find(|r| r["campaign_id"] == c && r["date"] == d)
            .unwrap_or_else(|| panic!("no row {c} {d}"))
    };
    assert_eq!(
        row("31001", "2026-10-01")["spend_reporting_micros"],
        11_700_000
    );
    assert_eq!(
        row("31001", "2026-10-03")["spend_reporting_micros"],
        23_600_000
    );
    assert_eq!(
        row("31001", "2026-10-03")["spend_micros"],
        20_000_000,
        "the original stays"
    );
    assert_eq!(
        row("31003", "2026-10-02")["spend_reporting_micros"],
        5_000_000
    );
    assert!(row("31004", "2026-10-02")["spend_reporting_micros"].is_null());
    assert!(perf.iter().all(|r| r["reporting_currency"] == "USD"));

    // Again today: no second fetch, nothing written again.
    let again: BTreeMap<String, _> = p.run_all(Trigger::Manual).await.into_iter().collect();
    match &again["fx:ecb"] {
        Ok(Outcome::Completed(s)) => assert_eq!(s.rows_by_table[&Table::FxRates], 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(ecb.requests().len(), 1, "fetched at most once a day");
    assert_eq!(
        p.store().cursor("fx:ecb", "fx").await.unwrap().unwrap()[..10],
        attrsync::domain::time::Timestamp::now().date().to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_from_a_csv_for_offline_use() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rates.csv");
    std::fs::write(&csv, "date,currency,rate\n2026-10-01,EUR,1.5\n").unwrap();
    let ads = dir.path().join("ads.ndjson");
    std::fs::write(&ads, ad("de", "1", "2026-10-02", "EUR", 2_000_000) + "\n").unwrap();
    let (out, db, csv, ads) = (
        dir.path().join("out").display().to_string(),
        format!("sqlite://{}", dir.path().join("runs.db").display()),
        csv.display().to_string(),
        ads.display().to_string(),
    );
    let settings = crate::support::settings(&[
        ("ATTRSYNC__ADS__FILE__PATH", &ads),
        ("ATTRSYNC__SINK__DIR", &out),
        ("ATTRSYNC__RUN_STORE__URL", &db),
        ("ATTRSYNC__REPORTING__CURRENCY", "usd"),
        ("ATTRSYNC__FX__SOURCE", "file"),
        ("ATTRSYNC__FX__PATH", &csv),
    ]);
    let p = Context::new(settings).pipeline().await.unwrap();
    p.store().migrate().await.unwrap();
    let res: BTreeMap<String, _> = p.run_ad_jobs(Trigger::Manual).await.into_iter().collect();
    assert!(
        matches!(res["fx:file"], Ok(Outcome::Completed(_))),
        "{:?}",
        res["fx:file"]
    );
    let perf = std::fs::read_to_string(dir.path().join("out/campaign_performance.ndjson")).unwrap();
    let row: Value = serde_json::from_str(perf.lines().next().unwrap()).unwrap();
    assert_eq!(row["spend_reporting_micros"], 3_000_000);
    assert_eq!(row["reporting_currency"], "USD");
}

#[test]
fn a_bad_reporting_currency_or_a_missing_rate_file_names_the_key() {
    let bad = |pairs: &[(&str, &str)]| {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match attrsync::config::Settings::load(&attrsync::config::LoadOptions {
            env: Some(env),
            ..Default::default()
        }) {
            Err(attrsync::config::ConfigError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        bad(&[("ATTRSYNC__REPORTING__CURRENCY", "dollars")]),
        "reporting.currency"
    );
    assert_eq!(
        bad(&[
            ("ATTRSYNC__REPORTING__CURRENCY", "USD"),
            ("ATTRSYNC__FX__SOURCE", "file")
        ]),
        "fx.path"
    );
}
