//! An HTTP proxy in front of a real service (the BigQuery emulator) that answers chosen
//! requests with the failures the real API documents, and forwards the rest. BigQuery's
//! documented failures (cloud.google.com/bigquery/docs/error-messages): `backendError` (500/503,
//! "retry using truncated exponential backoff"), `rateLimitExceeded` (403), `invalidQuery` (400,
//! not retryable); a body cut short by a broken connection arrives as malformed JSON.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

/// What to answer instead of forwarding.
#[derive(Debug, Clone)]
pub enum Fault {
    /// A BigQuery error body with this status and reason.
    Error(u16, &'static str),
    /// HTTP 200 with a body that is not JSON.
    Malformed,
}

#[derive(Default)]
struct Inner {
    upstream: String,
    /// Faults for requests whose path contains the key, in order.
    faults: Mutex<Vec<(&'static str, VecDeque<Fault>)>>,
    /// Requests seen: method and path.
    seen: Mutex<Vec<String>>,
    /// The SQL text of every query job started through the proxy.
    statements: Mutex<Vec<String>>,
}

pub struct Faulty {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    inner.seen.lock().unwrap().push(format!("{method} {path}"));
    if method == Method::POST && path.ends_with("/queries") {
        if let Some(sql) = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["query"].as_str().map(String::from))
        {
            inner.statements.lock().unwrap().push(sql);
        }
    }
    let fault = {
        let mut faults = inner.faults.lock().unwrap();
        faults
            .iter_mut()
            .find(|(key, q)| path.contains(key) && !q.is_empty())
            .and_then(|(_, q)| q.pop_front())
    };
    match fault {
        Some(Fault::Error(status, reason)) => {
            let body = json!({"error": {"code": status, "message": format!("injected {reason}"),
                "errors": [{"reason": reason, "domain": "global", "message": reason}],
                "status": "UNAVAILABLE"}});
            let status = StatusCode::from_u16(status).unwrap();
            return (status, axum::Json(body)).into_response();
        }
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"rows\": [tru",
            )
                .into_response();
        }
        None => {}
    }
    let url = format!(
        "{}{}",
        inner.upstream,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut req = reqwest::Client::new()
        .request(method, url)
        .body(body.to_vec());
    if let Some(ct) = headers.get("content-type") {
        req = req.header("content-type", ct);
    }
    if let Some(ce) = headers.get("content-encoding") {
        req = req.header("content-encoding", ce);
    }
    match req.send().await {
        Ok(r) => {
            let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
            let bytes = r.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

impl Faulty {
    /// Proxies to `upstream` (`http://127.0.0.1:N`).
    pub async fn start(upstream: &str) -> Self {
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_string(),
            ..Default::default()
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    /// What `bigquery.endpoint` is set to.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next requests whose path contains `key` with `faults`, in order.
    pub fn inject(&self, key: &'static str, faults: Vec<Fault>) {
        self.inner
            .faults
            .lock()
            .unwrap()
            .push((key, faults.into_iter().collect()));
    }

    /// The SQL of every query job started so far, in order.
    pub fn statements(&self) -> Vec<String> {
        self.inner.statements.lock().unwrap().clone()
    }

    /// Requests seen so far (`METHOD path`).
    pub fn seen(&self) -> Vec<String> {
        self.inner.seen.lock().unwrap().clone()
    }
}
