//! An in-process fake of PostHog's query endpoint, real HTTP on a local port. It runs the
//! HogQL attrsync sends over a fixture of events, evaluating the query's own WHERE, ORDER BY
//! and LIMIT (see `hogql.rs`), with PostHog's behaviour (posthog.com docs/api/queries.mdx and
//! docs/api/index.mdx): positional rows, ClickHouse's uuid order, `created_at` as the server's
//! ingestion time beside the client's `timestamp`, sliding-window rate limits with 429 +
//! Retry-After, a concurrency cap, and faults on demand.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};

/// One fixture event.
#[derive(Debug, Clone)]
pub struct Event {
    pub uuid: String,
    pub event: String,
    /// The client's timestamp.
    pub micros: i64,
    /// When PostHog ingested it (`created_at`): at `micros` unless the event arrived late.
    pub created_at: i64,
    pub distinct_id: String,
    pub person_id: Option<String>,
    pub properties: Map<String, Value>,
}

impl super::hogql::Row for Event {
    fn column(&self, name: &str) -> Result<super::hogql::V, String> {
        use super::hogql::V;
        Ok(match name {
            "uuid" => V::Uuid(super::hogql::uuid_key(&self.uuid).ok_or("bad uuid")?),
            "event" => V::Str(self.event.clone()),
            "timestamp" => V::Time(self.micros),
            "created_at" => V::Time(self.created_at),
            "distinct_id" => V::Str(self.distinct_id.clone()),
            "person_id" => self.person_id.clone().map_or(V::Null, V::Str),
            other => return Err(format!("Unknown field: {other}")),
        })
    }

    fn properties(&self) -> &Map<String, Value> {
        &self.properties
    }
}

/// Behaviour knobs.
#[derive(Debug, Clone)]
pub struct Options {
    pub api_key: String,
    pub project: String,
    /// Requests allowed per `minute` (a sliding window).
    pub per_minute: usize,
    pub per_hour: usize,
    /// The length of PostHog's "minute", shortened in tests.
    pub minute: Duration,
    pub concurrency: usize,
    pub latency: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            api_key: "phx_test_key".into(),
            project: "4242".into(),
            per_minute: 10_000,
            per_hour: 100_000,
            minute: Duration::from_secs(60),
            concurrency: 3,
            latency: Duration::ZERO,
        }
    }
}

/// A fault served instead of (or before) the next answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Respond with this status (and Retry-After seconds, if given).
    Status(u16, Option<u64>),
    /// Wait this long before answering normally.
    Slow(Duration),
    /// Answer 200 with the body cut in half.
    Truncated,
    /// Answer this request normally (to place later faults mid-stream).
    Pass,
}

/// What the fake saw.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Every request that reached the handler, in arrival order: (time, query name, status).
    pub requests: Vec<(Instant, String, u16)>,
    pub throttled: u64,
    pub max_in_flight: usize,
    /// How often each event uuid was served by `attrsync_events` pages.
    pub served: HashMap<String, u32>,
    pub query_texts: Vec<String>,
    pub values: Vec<Value>,
    /// Every fault served, in order (`503`, `slow`, `truncated`, `pass`).
    pub faults: Vec<String>,
    /// Slow answers that were still wanted when their delay ended (a client that timed out
    /// closed the connection, and the server dropped the answer).
    pub slow_answered: u64,
}

struct Inner {
    opts: Options,
    events: Mutex<Vec<Event>>,
    faults: Mutex<VecDeque<Fault>>,
    stats: Mutex<Stats>,
    window: Mutex<VecDeque<Instant>>,
    in_flight: Mutex<usize>,
}

/// The running fake.
pub struct FakePostHog {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl FakePostHog {
    pub async fn start(opts: Options, events: Vec<Event>) -> Self {
        let inner = Arc::new(Inner {
            opts,
            events: Mutex::new(events),
            faults: Mutex::default(),
            stats: Mutex::default(),
            window: Mutex::default(),
            in_flight: Mutex::new(0),
        });
        let app = Router::new()
            .route("/api/projects/{project}/query/", post(query))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn push_fault(&self, f: Fault) {
        self.inner.faults.lock().unwrap().push_back(f);
    }

    pub fn clear_faults(&self) {
        self.inner.faults.lock().unwrap().clear();
    }

    pub fn stats(&self) -> Stats {
        self.inner.stats.lock().unwrap().clone()
    }

    pub fn reset_stats(&self) {
        *self.inner.stats.lock().unwrap() = Stats::default();
    }

    pub fn add_events(&self, more: Vec<Event>) {
        self.inner.events.lock().unwrap().extend(more);
    }
}

impl Drop for FakePostHog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, kind: &str, code: &str, detail: &str) -> Response {
    (
        status,
        axum::Json(json!({"type": kind, "code": code, "detail": detail, "attr": null})),
    )
        .into_response()
}

fn record(inner: &Inner, name: &str, status: u16) {
    inner
        .stats
        .lock()
        .unwrap()
        .requests
        .push((Instant::now(), name.to_string(), status));
}

async fn query(
    State(inner): State<Arc<Inner>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "validation_error",
                "parse_error",
                "body is not JSON",
            )
        }
    };
    let name = req["name"].as_str().unwrap_or("").to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", inner.opts.api_key) {
        record(&inner, &name, 401);
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_personal_api_key",
            "Invalid Personal API key.",
        );
    }
    if project != inner.opts.project {
        record(&inner, &name, 403);
        return error(
            StatusCode::FORBIDDEN,
            "authentication_error",
            "permission_denied",
            "You don't have access to the project.",
        );
    }
    // Faults come before anything else, like a proxy or an overloaded server would.
    let fault = inner.faults.lock().unwrap().pop_front();
    if let Some(f) = &fault {
        let label = match f {
            Fault::Status(code, _) => code.to_string(),
            Fault::Slow(_) => "slow".into(),
            Fault::Truncated => "truncated".into(),
            Fault::Pass => "pass".into(),
        };
        inner.stats.lock().unwrap().faults.push(label);
    }
    let mut truncate = false;
    match fault {
        Some(Fault::Status(code, retry_after)) => {
            record(&inner, &name, code);
            let mut r = error(
                StatusCode::from_u16(code).unwrap(),
                "server_error",
                "injected",
                "injected fault",
            );
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            if code == 429 {
                inner.stats.lock().unwrap().throttled += 1;
            }
            return r;
        }
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            inner.stats.lock().unwrap().slow_answered += 1;
        }
        Some(Fault::Truncated) => truncate = true,
        Some(Fault::Pass) | None => {}
    }
    // Sliding-window limits, counted as PostHog's throttle does (throttled calls not counted).
    {
        let mut w = inner.window.lock().unwrap();
        let now = Instant::now();
        while w
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
        {
            w.pop_front();
        }
        let minute = inner.opts.minute;
        let last_minute = w
            .iter()
            .filter(|t| now.duration_since(**t) < minute)
            .count();
        if last_minute >= inner.opts.per_minute || w.len() >= inner.opts.per_hour {
            let oldest = if last_minute >= inner.opts.per_minute {
                *w.iter().find(|t| now.duration_since(**t) < minute).unwrap() + minute
            } else {
                *w.front().unwrap() + Duration::from_secs(3600)
            };
            let secs = oldest.saturating_duration_since(now).as_secs() + 1;
            drop(w);
            record(&inner, &name, 429);
            inner.stats.lock().unwrap().throttled += 1;
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled_error",
                "throttled",
                &format!("Request was throttled. Expected available in {secs} seconds."),
            );
            r.headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
            return r;
        }
        w.push_back(now);
    }
    {
        let mut f = inner.in_flight.lock().unwrap();
        if *f >= inner.opts.concurrency {
            drop(f);
            record(&inner, &name, 429);
            inner.stats.lock().unwrap().throttled += 1;
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled_error",
                "throttled",
                "Too many concurrent queries.",
            );
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            return r;
        }
        *f += 1;
        let mut s = inner.stats.lock().unwrap();
        s.max_in_flight = s.max_in_flight.max(*f);
    }
    tokio::time::sleep(inner.opts.latency).await;
    let result = answer(&inner, &name, &req);
    *inner.in_flight.lock().unwrap() -= 1;
    match result {
        Ok(v) => {
            record(&inner, &name, 200);
            let text = v.to_string();
            if truncate {
                return (StatusCode::OK, text[..text.len() / 2].to_string()).into_response();
            }
            (StatusCode::OK, [("content-type", "application/json")], text).into_response()
        }
        Err(detail) => {
            record(&inner, &name, 400);
            error(
                StatusCode::BAD_REQUEST,
                "validation_error",
                "invalid_input",
                &detail,
            )
        }
    }
}

/// PostHog's datetime text: microseconds, or none on whole seconds.
fn ts_text(micros: i64) -> String {
    let t = attrsync::domain::time::Timestamp::from_micros(micros).to_string();
    if micros % 1_000_000 == 0 {
        format!("{}Z", &t[..19])
    } else {
        t
    }
}

fn answer(inner: &Inner, name: &str, req: &Value) -> Result<Value, String> {
    use super::hogql::{holds, parse_select, Row, V};
    let text = req["query"]["query"]
        .as_str()
        .ok_or("no query text")?
        .to_string();
    let values = req["query"]["values"].clone();
    if req["query"]["kind"] != "HogQLQuery" {
        return Err("only HogQLQuery is supported".into());
    }
    // Parameters must travel as values, never spliced into the text.
    for v in values.as_object().into_iter().flat_map(|m| m.values()) {
        let strings: Vec<&str> = match v {
            Value::String(s) => vec![s],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if let Some(s) = strings.iter().find(|s| s.len() > 3 && text.contains(**s)) {
            return Err(format!("value {s:?} is spliced into the query text"));
        }
    }
    {
        let mut st = inner.stats.lock().unwrap();
        st.query_texts.push(text.clone());
        st.values.push(values.clone());
    }
    let q = parse_select(&text)?;
    if q.columns == ["1"] {
        return Ok(
            json!({"columns": ["1"], "types": ["UInt8"], "results": [[1]], "hasMore": null}),
        );
    }
    let events = inner.events.lock().unwrap();
    let mut rows: Vec<&Event> = Vec::new();
    for e in events.iter() {
        if match &q.filter {
            Some(f) => holds(f, e, &values)?,
            None => true,
        } {
            rows.push(e);
        }
    }
    if q.columns == ["count()"] {
        return Ok(
            json!({"columns": ["count()"], "types": ["UInt64"], "results": [[rows.len()]], "hasMore": null}),
        );
    }
    let key = |e: &Event, col: &str| -> Result<V, String> { e.column(col) };
    let mut err = None;
    rows.sort_by(|a, b| {
        for (col, asc) in &q.order {
            let (x, y) = match (key(a, col), key(b, col)) {
                (Ok(x), Ok(y)) => (x, y),
                (Err(e), _) | (_, Err(e)) => {
                    err = Some(e);
                    return std::cmp::Ordering::Equal;
                }
            };
            let o = match (x, y) {
                (V::Time(x), V::Time(y)) => x.cmp(&y),
                (V::Uuid(x), V::Uuid(y)) => x.cmp(&y),
                (V::Str(x), V::Str(y)) => x.cmp(&y),
                _ => std::cmp::Ordering::Equal,
            };
            let o = if *asc { o } else { o.reverse() };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    if let Some(e) = err {
        return Err(e);
    }
    if let Some(n) = q.limit {
        rows.truncate(n);
    }
    let results: Vec<Value> = rows
        .iter()
        .map(|e| {
            Value::Array(
                q.columns
                    .iter()
                    .map(|c| match c.as_str() {
                        "uuid" => json!(e.uuid),
                        "event" => json!(e.event),
                        "timestamp" => json!(ts_text(e.micros)),
                        "created_at" => json!(ts_text(e.created_at)),
                        "distinct_id" => json!(e.distinct_id),
                        "person_id" => json!(e.person_id),
                        p => {
                            let key = p.trim_start_matches("properties.").trim_matches('`');
                            e.properties.get(key).cloned().unwrap_or(Value::Null)
                        }
                    })
                    .collect(),
            )
        })
        .collect();
    if name == "attrsync_events" {
        let mut st = inner.stats.lock().unwrap();
        for e in &rows {
            *st.served.entry(e.uuid.clone()).or_default() += 1;
        }
    }
    Ok(
        json!({"columns": q.columns, "types": [], "results": results, "hasMore": null, "is_cached": false}),
    )
}
