//! Rows per second into the BigQuery emulator through the sink, and request bytes per row.
//! Needs the .venv that scripts/test creates. Run: `cargo bench --bench bigquery`
//! (BENCH_ROWS, default 50,000 attribution_credits rows).

#[path = "../tests/support/bqemu.rs"]
#[allow(dead_code)]
mod bqemu;

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use attrsync::config::{LoadOptions, Settings};
use attrsync::domain::ids::RunId;
use attrsync::sinks::bigquery::{BigQueryConfig, BigQuerySink};
use attrsync::sinks::{EncodedRow, Sink, Table};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let emu = bqemu::Emulator::start().await;
    let env: HashMap<String, String> = [
        ("ATTRSYNC__SINK__KIND", "bigquery".to_string()),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", bqemu::PROJECT.to_string()),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", emu.endpoint()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = Settings::load(&LoadOptions {
        env: Some(env),
        ..Default::default()
    })
    .expect("settings");
    let config = BigQueryConfig::from_settings(&settings.bigquery).expect("[bigquery]");
    let sink = BigQuerySink::connect(&config).await.expect("sink");
    let owner = attrsync::sinks::SinkOwner {
        store_id: "bench".into(),
        store_label: "bench".into(),
        has_history: false,
    };
    sink.prepare(&owner).await.expect("tables");
    let rows: Vec<EncodedRow> = (0..n)
        .map(|i| {
            let key = format!("0190f3a2-7b1c-7def-8123-{i:012x}:time_decay:0190f3a2-0000-7def-8123-{i:012x}");
            let json = serde_json::json!({
                "row_key": key, "conversion_id": format!("0190f3a2-7b1c-7def-8123-{i:012x}"), "conversion_name": "purchase",
                "converted_at": "2026-10-05T12:00:00.123000Z", "person_key": format!("user_{i:07}"), "model": "time_decay",
                "touchpoint_id": format!("0190f3a2-0000-7def-8123-{i:012x}"), "touched_at": "2026-10-01T08:00:00.000000Z",
                "channel": "paid_search", "platform": "google_ads", "campaign": "brand_search", "campaign_id": "21001",
                "credit": 0.3333333333333333_f64, "credited_value_micros": 16_663_333, "currency": "USD", "run_id": 1,
                "loaded_at": "2026-11-25T18:00:00.000000Z"
            })
            .to_string();
            EncodedRow {
                row_key: key,
                json,
                values: 0,
            }
        })
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(20_000) {
        sink.write(RunId(1), Table::AttributionCredits, chunk.to_vec())
            .await
            .expect("insert");
    }
    let secs = started.elapsed().as_secs_f64();
    let st = sink.stats();
    let (req, sent, bytes, wire) = (
        st.requests.load(Relaxed),
        st.rows.load(Relaxed),
        st.bytes.load(Relaxed),
        st.wire_bytes.load(Relaxed),
    );
    println!("BigQuery sink into bqemulator: {sent} attribution_credits rows in {secs:.1} s = {:.0} rows/s", sent as f64 / secs);
    println!(
        "{req} insertAll requests ({} rows each); request body {:.0} bytes/row as JSON, {:.0} bytes/row gzipped on the wire",
        sent / req.max(1),
        bytes as f64 / sent as f64,
        wire as f64 / sent as f64
    );
}
