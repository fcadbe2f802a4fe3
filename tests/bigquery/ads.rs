//! Ad metrics into the BigQuery emulator: a restated day pulled again replaces the earlier
//! numbers in `ad_metrics_latest` (newest `pulled_at` wins) and in `campaign_performance`.

use std::path::Path;

use attrsync::ads::AdSource;
use attrsync::cli::Context;
use attrsync::pipeline::Outcome;
use attrsync::sinks::Table;
use attrsync::store::{RunStore, Trigger};

use crate::support::bqemu::{Emulator, PROJECT};

fn line(campaign: &str, date: &str, spend: i64) -> String {
    format!(
        r#"{{"platform":"google_ads","account_id":"1234567890","campaign_id":"{campaign}","campaign_name":"c{campaign}","date":"{date}","currency":"USD","spend_micros":{spend},"impressions":100,"clicks":7,"platform_conversions":1.5,"platform_conversion_value_micros":20000000}}"#
    )
}

async fn pull(emu: &Emulator, dir: &Path, file: &Path) -> u64 {
    let endpoint = emu.endpoint();
    let db = format!("sqlite://{}", dir.join("runs.db").display());
    let file = file.display().to_string();
    let env: Vec<(&str, &str)> = vec![
        ("ATTRSYNC__ADS__FILE__PATH", &file),
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", &endpoint),
        ("ATTRSYNC__BIGQUERY__DATASET", "ads"),
        ("ATTRSYNC__RUN_STORE__URL", &db),
    ];
    let p = Context::new(crate::support::settings(&env))
        .pipeline()
        .await
        .unwrap();
    p.store().migrate().await.unwrap();
    assert_eq!(p.ads()[0].job(), "ads:file");
    match p.run_ads(&p.ads()[0], Trigger::Manual).await.unwrap() {
        Outcome::Completed(s) => s.rows_by_table[&Table::AdMetrics],
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restated_day_replaces_the_earlier_pull_in_the_latest_view() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ads.ndjson");
    let days = ["2026-10-01", "2026-10-02", "2026-10-03"];
    let write = |restated: i64| {
        let text: Vec<String> = days
            .iter()
            .enumerate()
            .flat_map(|(i, d)| {
                let spend = if i == 2 {
                    restated
                } else {
                    1_000_000 * (i as i64 + 1)
                };
                [line("21001", d, spend), line("21002", d, 3_330_000)]
            })
            .collect();
        std::fs::write(&file, text.join("\n") + "\n").unwrap();
    };
    write(9_990_000);
    assert_eq!(pull(&emu, dir.path(), &file).await, 6);
    write(12_340_000);
    assert_eq!(pull(&emu, dir.path(), &file).await, 6);

    let raw = emu
        .count(&format!("SELECT COUNT(*) FROM `{PROJECT}.ads.ad_metrics`"))
        .await;
    assert_eq!(raw, 12, "both pulls are kept");
    let latest = emu
        .count(&format!(
            "SELECT COUNT(*) FROM `{PROJECT}.ads.ad_metrics_latest`"
        ))
        .await;
    assert_eq!(latest, 6, "one row per campaign-day");
    let rows = emu
        .query(&format!(
            "SELECT spend_micros FROM `{PROJECT}.ads.ad_metrics_latest` WHERE campaign_id = '21001' AND date = '2026-10-03'"
        ))
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0][0].as_str(),
        Some("12340000"),
        "the newest pull wins"
    );
    let total = emu
        .query(&format!("SELECT SUM(spend_micros) FROM `{PROJECT}.ads.campaign_performance` WHERE campaign_id = '21001'"))
        .await;
    assert_eq!(
        total[0][0].as_str(),
        Some("15340000"),
        "campaign_performance sees only the latest spend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_performance_converts_to_the_reporting_currency_at_each_days_rate() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ads.ndjson");
    let rows = [
        line("21001", "2026-10-01", 10_000_000).replace("\"USD\"", "\"EUR\""),
        // No rate on the 3rd: the 2nd's applies.
        line("21001", "2026-10-03", 20_000_000).replace("\"USD\"", "\"EUR\""),
        line("21002", "2026-10-02", 5_000_000),
        line("21003", "2026-10-02", 7_000_000).replace("\"USD\"", "\"CHF\""),
    ];
    std::fs::write(&file, rows.join("\n") + "\n").unwrap();
    let csv = dir.path().join("rates.csv");
    std::fs::write(&csv, "2026-10-01,EUR,1.25\n2026-10-02,EUR,1.5\n").unwrap();
    let endpoint = emu.endpoint();
    let db = format!("sqlite://{}", dir.path().join("runs.db").display());
    let (file, csv) = (file.display().to_string(), csv.display().to_string());
    let env: Vec<(&str, &str)> = vec![
        ("ATTRSYNC__ADS__FILE__PATH", &file),
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", &endpoint),
        ("ATTRSYNC__BIGQUERY__DATASET", "fx"),
        ("ATTRSYNC__RUN_STORE__URL", &db),
        ("ATTRSYNC__REPORTING__CURRENCY", "USD"),
        ("ATTRSYNC__FX__SOURCE", "file"),
        ("ATTRSYNC__FX__PATH", &csv),
    ];
    let p = Context::new(crate::support::settings(&env))
        .pipeline()
        .await
        .unwrap();
    p.store().migrate().await.unwrap();
    for (job, r) in p.run_ad_jobs(Trigger::Manual).await {
        assert!(matches!(r, Ok(Outcome::Completed(_))), "{job}: {r:?}");
    }
    let got = emu
        .query(&format!(
            "SELECT campaign_id, CAST(date AS STRING), spend_micros, spend_reporting_micros, reporting_currency \
             FROM `{PROJECT}.fx.campaign_performance` ORDER BY campaign_id, date"
        ))
        .await;
    let cells: Vec<Vec<Option<String>>> = got
        .iter()
        .map(|r| r.iter().map(|c| c.as_str().map(String::from)).collect())
        .collect();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        cells,
        vec![
            vec![
                s("21001"),
                s("2026-10-01"),
                s("10000000"),
                s("12500000"),
                s("USD")
            ],
            vec![
                s("21001"),
                s("2026-10-03"),
                s("20000000"),
                s("30000000"),
                s("USD")
            ],
            vec![
                s("21002"),
                s("2026-10-02"),
                s("5000000"),
                s("5000000"),
                s("USD")
            ],
            vec![s("21003"), s("2026-10-02"), s("7000000"), None, s("USD")],
        ],
        "a missing rate is NULL, never 1.0"
    );
}
