//! Ad metrics into the BigQuery emulator: a restated day pulled again replaces the earlier
//! numbers in `ad_metrics_latest` (newest `pulled_at` wins) and in `campaign_performance`.

use std::path::Path;

use attrsync::ads::AdSource;
use attrsync::cli::Context;
use attrsync::pipeline::Outcome;
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
    p.store.migrate().await.unwrap();
    assert_eq!(p.ads[0].job(), "ads:file");
    match p.run_ads(&p.ads[0], Trigger::Manual).await.unwrap() {
        Outcome::Completed(s) => s.rows_by_table["ad_metrics"],
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
