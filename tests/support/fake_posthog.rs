//! An in-process fake of PostHog's query endpoint, real HTTP on a local port. It serves the
//! queries attrsync sends (recognised by their `name`) from a fixture of events, with PostHog's
//! behaviour: positional rows, keyset order by (timestamp, uuid) with ClickHouse's uuid order,
//! sliding-window rate limits with 429 + Retry-After, a concurrency cap, and faults on demand.

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
    pub micros: i64,
    pub distinct_id: String,
    pub person_id: Option<String>,
    pub properties: Map<String, Value>,
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
    pub async fn start(opts: Options, mut events: Vec<Event>) -> Self {
        events.sort_by_key(|e| (e.micros, ch_uuid_key(&e.uuid)));
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
        let mut e = self.inner.events.lock().unwrap();
        e.extend(more);
        e.sort_by_key(|e| (e.micros, ch_uuid_key(&e.uuid)));
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
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
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

/// ClickHouse compares UUIDs by their second 64-bit half first.
fn ch_uuid_key(u: &str) -> (u64, u64) {
    let hex: String = u.chars().filter(|c| *c != '-').collect();
    let v = u128::from_str_radix(&hex, 16).unwrap_or(0);
    (v as u64, (v >> 64) as u64)
}

fn parse_ch_time(s: &str) -> Result<i64, String> {
    attrsync::domain::time::Timestamp::parse(s)
        .map(|t| t.micros())
        .map_err(|e| e.to_string())
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

const SIGNALS: [&str; 13] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "fbclid",
    "msclkid",
    "li_fat_id",
    "ttclid",
    "twclid",
    "rdt_cid",
];

fn answer(inner: &Inner, name: &str, req: &Value) -> Result<Value, String> {
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
    if name == "attrsync_check" {
        return Ok(
            json!({"columns": ["1"], "types": ["UInt8"], "results": [[1]], "hasMore": null}),
        );
    }
    let from = parse_ch_time(values["from"].as_str().ok_or("missing {from}")?)?;
    let to = parse_ch_time(values["to"].as_str().ok_or("missing {to}")?)?;
    let wanted: Vec<String> = values["events"]
        .as_array()
        .ok_or("missing {events}")?
        .iter()
        .filter_map(|e| e.as_str().map(String::from))
        .collect();
    let events = inner.events.lock().unwrap();
    let matches = |e: &Event| {
        wanted.contains(&e.event)
            || SIGNALS
                .iter()
                .any(|s| e.properties.get(*s).is_some_and(|v| !v.is_null()))
            || e.properties
                .get("$referring_domain")
                .and_then(Value::as_str)
                .is_some_and(|d| d != "$direct")
    };
    // Events are kept sorted by (timestamp, ClickHouse uuid order): a window is a range.
    let lo = events.partition_point(|e| e.micros < from);
    let hi = events.partition_point(|e| e.micros < to);
    if name == "attrsync_count" {
        let n = events[lo..hi].iter().filter(|e| matches(e)).count();
        return Ok(
            json!({"columns": ["count()"], "types": ["UInt64"], "results": [[n]], "hasMore": null}),
        );
    }
    if name != "attrsync_events" && name != "attrsync_journeys" {
        return Err(format!("unknown query name {name}"));
    }
    if !text.contains("ORDER BY timestamp ASC, uuid ASC LIMIT ") {
        return Err("pages must be ordered by (timestamp, uuid) with a LIMIT".into());
    }
    let limit: usize = text
        .rsplit("LIMIT ")
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("bad LIMIT")?;
    let select = text
        .strip_prefix("SELECT ")
        .and_then(|t| t.split(" FROM events").next())
        .ok_or("bad SELECT")?;
    let columns: Vec<String> = select.split(", ").map(String::from).collect();
    let after = match (
        values.get("after_ts").and_then(Value::as_str),
        values.get("after_uuid").and_then(Value::as_str),
    ) {
        (Some(t), Some(u)) => Some((parse_ch_time(t)?, ch_uuid_key(u))),
        _ => None,
    };
    let ids = |k: &str| -> Vec<String> {
        values[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (person_ids, distinct_ids) = (ids("person_ids"), ids("distinct_ids"));
    let start = match after {
        Some(a) => lo.max(events.partition_point(|e| (e.micros, ch_uuid_key(&e.uuid)) <= a)),
        None => lo,
    };
    let rows: Vec<&Event> = events[start..hi.max(start)]
        .iter()
        .filter(|e| matches(e))
        .filter(|e| {
            name == "attrsync_events"
                || e.person_id.as_ref().is_some_and(|p| person_ids.contains(p))
                || distinct_ids.contains(&e.distinct_id)
        })
        .take(limit)
        .collect();
    let results: Vec<Value> = rows
        .iter()
        .map(|e| {
            Value::Array(
                columns
                    .iter()
                    .map(|c| match c.as_str() {
                        "uuid" => json!(e.uuid),
                        "event" => json!(e.event),
                        "timestamp" => json!(ts_text(e.micros)),
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
        json!({"columns": columns, "types": [], "results": results, "hasMore": null, "is_cached": false}),
    )
}
