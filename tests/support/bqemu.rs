//! A real BigQuery emulator (bqemulator from PyPI) in a child process, one per test, on free
//! ports; started through tests/peers/bqemulator_launch.py so it needs no internet.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const PROJECT: &str = "attrsync-test";

/// The tables an events run writes.
const EVENT_TABLES: [&str; 3] = ["conversions", "touchpoints", "attribution_credits"];

/// The Python of the test peers (`.venv`, which scripts/test fills).
pub fn python() -> PathBuf {
    std::env::var_os("ATTRSYNC_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Emulator {
    pub port: u16,
    child: Child,
    http: reqwest::Client,
}

impl Emulator {
    /// Starts an emulator and waits until its REST API answers. Its ports are picked free
    /// just before it binds them; if another process took one meanwhile, the emulator exits
    /// and is started again on new ports.
    pub async fn start() -> Self {
        let launcher =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/bqemulator_launch.py");
        for _ in 0..3 {
            let (port, grpc) = (free_port(), free_port());
            let child = Command::new(python())
                .arg(&launcher)
                .args([
                    "start",
                    "--project",
                    PROJECT,
                    "--rest-port",
                    &port.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bqemulator starts (scripts/test installs it into .venv)");
            let mut e = Self {
                port,
                child,
                http: reqwest::Client::new(),
            };
            let start = Instant::now();
            loop {
                if e.http
                    .get(format!("{}/projects/{PROJECT}/datasets", e.v2()))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    return e;
                }
                if e.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "bqemulator did not start on port {port}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        panic!("bqemulator exited three times on start-up");
    }

    /// What `bigquery.endpoint` is set to.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn v2(&self) -> String {
        format!("{}/bigquery/v2", self.endpoint())
    }

    /// Runs SQL; rows as JSON arrays of cell values (strings or null).
    pub async fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        let resp: Value = self
            .http
            .post(format!("{}/projects/{PROJECT}/queries", self.v2()))
            .json(&json!({"query": sql, "useLegacySql": false}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            resp.get("errors")
                .is_none_or(|e| e.as_array().is_none_or(|a| a.is_empty())),
            "{sql}: {resp}"
        );
        resp["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                r["f"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["v"].clone())
                    .collect()
            })
            .collect()
    }

    /// The single value of a one-cell query, as i64.
    pub async fn count(&self, sql: &str) -> i64 {
        self.query(sql).await[0][0]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Asserts that no analyst view of `dataset` shows a conversion, touchpoint or credit (what
    /// a run that never committed leaves).
    pub async fn assert_nothing_visible(&self, dataset: &str) {
        for t in EVENT_TABLES {
            let sql = format!("SELECT COUNT(*) FROM `{PROJECT}.{dataset}.{t}_latest`");
            assert_eq!(
                self.count(&sql).await,
                0,
                "{t}: a run that never committed shows nothing"
            );
        }
    }

    /// Asserts that each event table's view shows every key once and nothing of run `dead`.
    pub async fn assert_each_key_once_without(&self, dataset: &str, dead: i64) {
        for t in EVENT_TABLES {
            let q = |sql: String| async move { self.count(&sql).await };
            let seen = q(format!(
                "SELECT COUNT(*) FROM `{PROJECT}.{dataset}.{t}_latest`"
            ))
            .await;
            let keys = q(format!(
                "SELECT COUNT(DISTINCT row_key) FROM `{PROJECT}.{dataset}.{t}`"
            ))
            .await;
            assert_eq!(seen, keys, "{t}: each key once");
            let old = q(format!(
                "SELECT COUNT(*) FROM `{PROJECT}.{dataset}.{t}_latest` WHERE run_id = {dead}"
            ))
            .await;
            assert_eq!(old, 0, "{t}: nothing of the dead run");
        }
    }

    /// tables.get, or None on 404.
    pub async fn table(&self, dataset: &str, table: &str) -> Option<Value> {
        let r = self
            .http
            .get(format!(
                "{}/projects/{PROJECT}/datasets/{dataset}/tables/{table}",
                self.v2()
            ))
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            return None;
        }
        Some(r.json().await.unwrap())
    }

    /// insertAll of raw JSON rows, 500 per request.
    pub async fn insert(&self, dataset: &str, table: &str, rows: &[Value]) {
        for chunk in rows.chunks(500) {
            let body =
                json!({"rows": chunk.iter().map(|r| json!({"json": r})).collect::<Vec<_>>()});
            let r = self
                .http
                .post(format!(
                    "{}/projects/{PROJECT}/datasets/{dataset}/tables/{table}/insertAll",
                    self.v2()
                ))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert!(status.is_success() && !text.contains("\"index\""), "{text}");
        }
    }

    /// A load job appending a local NDJSON file to `dataset.table` (the emulator reads
    /// `file://` source URIs); waits until it is done.
    pub async fn load_ndjson(&self, dataset: &str, table: &str, file: &Path) {
        let job = json!({"configuration": {"load": {
            "sourceUris": [format!("file://{}", file.display())],
            "sourceFormat": "NEWLINE_DELIMITED_JSON",
            "destinationTable": {"projectId": PROJECT, "datasetId": dataset, "tableId": table},
            "writeDisposition": "WRITE_APPEND"
        }}});
        let resp: Value = self
            .http
            .post(format!("{}/projects/{PROJECT}/jobs", self.v2()))
            .json(&job)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(resp["status"]["state"], "DONE", "{resp}");
        assert!(resp["status"].get("errorResult").is_none(), "{resp}");
    }

    /// datasets.insert (an existing dataset is left as it is).
    pub async fn create_dataset(&self, dataset: &str) {
        let _ = self
            .http
            .post(format!("{}/projects/{PROJECT}/datasets", self.v2()))
            .json(&json!({"datasetReference": {"projectId": PROJECT, "datasetId": dataset}}))
            .send()
            .await;
    }

    /// tables.insert with a raw table resource.
    pub async fn create_table(&self, dataset: &str, body: Value) {
        self.create_dataset(dataset).await;
        let r = self
            .http
            .post(format!(
                "{}/projects/{PROJECT}/datasets/{dataset}/tables",
                self.v2()
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
