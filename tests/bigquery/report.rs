//! The report reads BigQuery's views as it reads the local files: the same events and ad metrics
//! run once into the emulator and once into a directory give the same page numbers.

use std::path::Path;

use attrsync::cli::Context;
use attrsync::report::data::ReportData;
use attrsync::report::Filter;
use attrsync::store::{RunStore, Trigger};

use crate::support::bqemu::{Emulator, PROJECT};
use crate::support::{sample_ads, sample_events};

async fn cycle_and_report(dir: &Path, extra: &[(&str, &str)]) -> ReportData {
    let (events, ads) = (sample_events(), sample_ads());
    let db = format!("sqlite://{}", dir.join("runs.db").display());
    let out = dir.join("out").display().to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("ATTRSYNC__SOURCE__PATH", &events),
        ("ATTRSYNC__ADS__FILE__PATH", &ads),
        ("ATTRSYNC__RUN_STORE__URL", &db),
        ("ATTRSYNC__SINK__DIR", &out),
    ];
    env.extend_from_slice(extra);
    let ctx = Context::new(crate::support::settings(&env));
    let p = ctx.pipeline().await.unwrap();
    p.store().migrate().await.unwrap();
    for (job, r) in p.run_all(Trigger::Manual).await {
        r.unwrap_or_else(|e| panic!("{job}: {e}"));
    }
    ctx.reporter()
        .await
        .unwrap()
        .data(&Filter::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_and_local_sinks_give_the_same_report() {
    let emu = Emulator::start().await;
    let endpoint = emu.endpoint();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = cycle_and_report(a.path(), &[]).await;
    let bq = cycle_and_report(
        b.path(),
        &[
            ("ATTRSYNC__SINK__KIND", "bigquery"),
            ("ATTRSYNC__BIGQUERY__PROJECT_ID", PROJECT),
            ("ATTRSYNC__BIGQUERY__ENDPOINT", &endpoint),
            ("ATTRSYNC__BIGQUERY__DATASET", "report"),
        ],
    )
    .await;
    assert!(bq.sink.starts_with("BigQuery"), "{}", bq.sink);
    assert_eq!(local.models, bq.models);
    assert!(!local.channels.is_empty() && !local.campaigns.is_empty());

    let channels = |d: &ReportData| {
        d.channels
            .iter()
            .map(|c| c.channel.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(channels(&local), channels(&bq));
    for (l, r) in local.channels.iter().zip(&bq.channels) {
        for m in &local.models {
            let (x, y) = (&l.by_model[m], &r.by_model[m]);
            assert!(
                (x.conversions - y.conversions).abs() < 1e-6,
                "{} {m}: {} vs {}",
                l.channel,
                x.conversions,
                y.conversions
            );
            assert_eq!(
                x.value.by_currency, y.value.by_currency,
                "{} {m}",
                l.channel
            );
        }
    }

    assert_eq!(local.campaigns.len(), bq.campaigns.len());
    for (l, r) in local.campaigns.iter().zip(&bq.campaigns) {
        assert_eq!((&l.platform, &l.campaign_id), (&r.platform, &r.campaign_id));
        assert_eq!(l.spend, r.spend, "{}", l.campaign_id);
        assert_eq!((l.clicks, l.impressions), (r.clicks, r.impressions));
        assert!((l.platform_conversions - r.platform_conversions).abs() < 1e-9);
        for (m, x) in &l.by_model {
            let y = &r.by_model[m];
            assert!(
                (x.conversions - y.conversions).abs() < 1e-6,
                "{} {m}",
                l.campaign_id
            );
        }
    }

    assert_eq!(local.path_model, bq.path_model);
    assert_eq!(local.path_conversions, bq.path_conversions);
    assert_eq!(local.paths, bq.paths);

    assert_eq!(local.daily.len(), bq.daily.len());
    for ((d1, l), (d2, r)) in local.daily.iter().zip(&bq.daily) {
        assert_eq!(d1, d2);
        for (ch, v) in l {
            assert!((v - r[ch]).abs() < 1e-6, "{d1} {ch}");
        }
    }
}
