use std::io::Read;
use std::sync::{Arc, Mutex};

use attrsync::domain::ids::RunId;
use attrsync::sinks::bigquery::BigQuerySink;
use attrsync::sinks::{EncodedRow, Sink, SinkError, Table};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// What insertAll answers: per request, the (index, reason) errors to report.
#[derive(Default)]
struct Script {
    responses: Vec<Vec<(usize, &'static str)>>,
    /// insertIds of every insertAll request, in order.
    received: Vec<Vec<String>>,
    status: Option<u16>,
}

type Shared = Arc<Mutex<Script>>;

async fn insert_all(
    State(s): State<Shared>,
    Path((_, _, _)): Path<(String, String, String)>,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    let req: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<String> = req["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["insertId"].as_str().unwrap().to_string())
        .collect();
    let mut s = s.lock().unwrap();
    s.received.push(ids.clone());
    if let Some(code) = s.status.take() {
        return (
            StatusCode::from_u16(code).unwrap(),
            Json(
                json!({"error": {"code": code, "message": "boom", "errors": [{"reason": "backendError", "message": "boom"}], "status": "UNAVAILABLE"}}),
            ),
        );
    }
    let errs = if s.responses.is_empty() {
        vec![]
    } else {
        s.responses.remove(0)
    };
    let insert_errors: Vec<Value> = errs
        .iter()
        .map(|(i, reason)| json!({"index": i, "errors": [{"reason": reason, "location": "credit", "message": format!("{reason} on row {i}")}]}))
        .collect();
    (
        StatusCode::OK,
        Json(json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": insert_errors})),
    )
}

async fn fake(script: Shared) -> String {
    let app = Router::new()
        .route(
            "/bigquery/v2/projects/{p}/datasets/{d}/tables/{t}/insertAll",
            post(insert_all),
        )
        .route(
            "/bigquery/v2/projects/{p}/datasets/{d}",
            get(|| async {
                Json(json!({"datasetReference": {"projectId": "p", "datasetId": "d"}}))
            }),
        )
        .route(
            "/bigquery/v2/projects/{p}/queries",
            post(|| async { Json(json!({"jobComplete": true})) }),
        )
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn sink(endpoint: &str, extra: &[(&str, &str)]) -> BigQuerySink {
    let mut env = vec![
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__PROJECT_ID", "p"),
        ("ATTRSYNC__BIGQUERY__ENDPOINT", endpoint),
        ("ATTRSYNC__BIGQUERY__MAX_ATTEMPTS", "3"),
    ];
    env.extend_from_slice(extra);
    let settings = crate::support::settings(&env);
    let config = attrsync::sinks::bigquery::BigQueryConfig::from_settings(&settings.bigquery)
        .expect("[bigquery]");
    BigQuerySink::connect(&config).await.unwrap()
}

fn rows(n: usize) -> Vec<EncodedRow> {
    (0..n)
        .map(|i| EncodedRow {
            row_key: format!("conv-{i}:linear:touch"),
            json: format!(r#"{{"row_key":"conv-{i}:linear:touch","credit":0.5}}"#),
            values: 0,
        })
        .collect()
}

#[tokio::test]
async fn a_row_the_schema_refuses_fails_the_run_naming_table_and_row_key() {
    let script: Shared = Arc::default();
    script.lock().unwrap().responses = vec![vec![(0, "stopped"), (1, "invalid"), (2, "stopped")]];
    let s = sink(&fake(script.clone()).await, &[]).await;
    let err = s
        .write(RunId(1), Table::AttributionCredits, rows(3))
        .await
        .unwrap_err();
    let SinkError::Permanent(e) = err else {
        panic!("a refused value is permanent")
    };
    let text = format!("{e:#}");
    assert!(
        text.contains("attribution_credits")
            && text.contains("conv-1:linear:touch")
            && text.contains("invalid on row 1"),
        "{text}"
    );
    assert_eq!(
        script.lock().unwrap().received.len(),
        1,
        "no retries for an invalid row"
    );
}

#[tokio::test]
async fn rows_that_failed_transiently_are_retried_alone() {
    let script: Shared = Arc::default();
    script.lock().unwrap().responses = vec![vec![(1, "backendError"), (3, "timeout")], vec![]];
    let s = sink(&fake(script.clone()).await, &[]).await;
    s.write(RunId(1), Table::AttributionCredits, rows(5))
        .await
        .unwrap();
    let got = script.lock().unwrap().received.clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), 5);
    assert_eq!(got[1], ["conv-1:linear:touch", "conv-3:linear:touch"]);
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(s.stats().rows.load(Relaxed), 5);
}

#[tokio::test]
async fn server_errors_are_retried_and_the_budget_ends_them() {
    let script: Shared = Arc::default();
    script.lock().unwrap().status = Some(503);
    let s = sink(&fake(script.clone()).await, &[]).await;
    s.write(RunId(1), Table::Conversions, rows(2))
        .await
        .unwrap();
    assert_eq!(
        script.lock().unwrap().received.len(),
        2,
        "one 503, then success"
    );
    // Every attempt failing: the write fails as transient, naming the table.
    let script: Shared = Arc::default();
    script.lock().unwrap().responses = vec![vec![(0, "backendError")]; 10];
    let s = sink(
        &fake(script.clone()).await,
        &[("ATTRSYNC__BIGQUERY__MAX_ATTEMPTS", "2")],
    )
    .await;
    let err = s
        .write(RunId(1), Table::Conversions, rows(1))
        .await
        .unwrap_err();
    let SinkError::Transient(e) = err else {
        panic!("backend errors are transient")
    };
    assert!(
        format!("{e:#}").contains("conversions: gave up after 2 attempts"),
        "{e:#}"
    );
}
