//! Meta against a fake Graph API: async report runs that take several polls, cursor-paged
//! insights with decimal spend strings and `actions`, throttle error codes with the
//! business-use-case usage header, and a revoked token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attrsync::ads::AdSource;
use attrsync::domain::time::Date;
use attrsync::http::Classify;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fake::{self, Common, Fault, Gate};

const TOKEN: &str = "meta-system-user-token-SENSITIVE";
const ACCOUNT: &str = "555000111";
/// Meta lists one purchase under several action types at once: the pixel's own type, the
/// `purchase` standard event, and `omni_purchase`, which aggregates web, app and on-site
/// purchases (Marketing API, Ads Action Stats reference; the Insights API "actions" docs).
/// Each carries the same count here, as they do for a web-only advertiser.
const PURCHASE_TYPES: [&str; 4] = [
    "offsite_conversion.fb_pixel_purchase",
    "purchase",
    "omni_purchase",
    "onsite_web_purchase",
];

fn actions(d: &fake::Day) -> Value {
    let mut a = vec![json!({"action_type": "link_click", "value": d.clicks.to_string()})];
    if d.conversions > 0 {
        a.extend(
            PURCHASE_TYPES.map(|t| json!({"action_type": t, "value": d.conversions.to_string()})),
        );
    }
    Value::Array(a)
}

fn action_values(d: &fake::Day) -> Value {
    if d.conversions == 0 {
        return json!([]);
    }
    let v = format!(
        "{}.{:02}",
        d.value_micros / 1_000_000,
        d.value_micros % 1_000_000 / 10_000
    );
    Value::Array(
        PURCHASE_TYPES
            .map(|t| json!({"action_type": t, "value": v}))
            .to_vec(),
    )
}

struct Run {
    since: Date,
    until: Date,
    polls_left: u32,
}

struct Fake {
    common: Arc<Common>,
    runs: Mutex<HashMap<String, Run>>,
    polls_to_finish: u32,
    polls: Mutex<u32>,
    pages: Mutex<u32>,
    queries: Mutex<Vec<String>>,
    throttles: Mutex<u32>,
}

fn error(code: i64, subcode: i64, msg: &str) -> Value {
    json!({"error": {"message": msg, "type": "OAuthException", "code": code, "error_subcode": subcode, "fbtrace_id": "AbC"}})
}

/// Meta answers throttling with HTTP 400 or 403 and an error code; the usage header says
/// how long until access returns.
fn throttled(n: u32) -> Response {
    let (code, sub, status) = match n % 3 {
        0 => (80000, 2446079, StatusCode::BAD_REQUEST),
        1 => (17, 2446079, StatusCode::BAD_REQUEST),
        _ => (613, 1487742, StatusCode::FORBIDDEN),
    };
    let usage = json!({ACCOUNT: [{"type": "ads_insights", "call_count": 100, "total_cputime": 40, "total_time": 60, "estimated_time_to_regain_access": 0}]});
    (
        status,
        [("x-business-use-case-usage", usage.to_string())],
        Json(error(
            code,
            sub,
            "There have been too many calls from this ad-account.",
        )),
    )
        .into_response()
}

async fn handle(
    f: Arc<Fake>,
    method: &str,
    parts: Vec<String>,
    q: HashMap<String, String>,
    headers: HeaderMap,
    form: Option<String>,
) -> Response {
    let path = format!("/{}", parts.join("/"));
    f.queries.lock().unwrap().push(format!(
        "{path}?{}",
        q.keys().cloned().collect::<Vec<_>>().join(",")
    ));
    let c = &f.common;
    let (status, resp) = 'answer: {
        let _g = match c.enter() {
            Gate::Fault(Fault::Throttle(_), _) | Gate::OverLimit(_) => {
                let mut n = f.throttles.lock().unwrap();
                *n += 1;
                break 'answer (400, throttled(*n - 1));
            }
            Gate::Fault(_, _) => {
                break 'answer (
                    500,
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Json(error(2, 0, "Service temporarily unavailable")),
                    )
                        .into_response(),
                )
            }
            Gate::Serve(g) => g,
        };
        if !c.authorized(&headers, "authorization") || q.contains_key("access_token") {
            break 'answer (
                400,
                (
                    StatusCode::BAD_REQUEST,
                    Json(error(
                        190,
                        460,
                        "Error validating access token: the session has been invalidated.",
                    )),
                )
                    .into_response(),
            );
        }
        match (method, parts.as_slice()) {
            // The account's own zone and currency (Marketing API, Ad Account reference:
            // `GET act_{id}?fields=timezone_name,currency`).
            ("GET", [_, act]) if act == &format!("act_{ACCOUNT}") => {
                let fields = q.get("fields").cloned().unwrap_or_default();
                let mut body = json!({"id": format!("act_{ACCOUNT}")});
                if fields.contains("timezone_name") {
                    body["timezone_name"] = json!(c.zone);
                }
                if fields.contains("currency") {
                    body["currency"] = json!("USD");
                }
                (200, Json(body).into_response())
            }
            ("POST", [_, act, insights])
                if insights == "insights" && act == &format!("act_{ACCOUNT}") =>
            {
                let form = fake::url_decode_form(form.as_deref().unwrap_or_default());
                let get = |k: &str| {
                    form.iter()
                        .find(|(a, _)| a == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let range: Value = serde_json::from_str(&get("time_range")).unwrap_or_default();
                let (Some(since), Some(until)) = (
                    range["since"].as_str().and_then(|s| Date::parse(s).ok()),
                    range["until"].as_str().and_then(|s| Date::parse(s).ok()),
                ) else {
                    break 'answer (
                        400,
                        (
                            StatusCode::BAD_REQUEST,
                            Json(error(100, 0, "Invalid parameter time_range")),
                        )
                            .into_response(),
                    );
                };
                assert_eq!(
                    (get("level").as_str(), get("time_increment").as_str()),
                    ("campaign", "1")
                );
                let id = format!("rr-{}", f.runs.lock().unwrap().len() + 1);
                f.runs.lock().unwrap().insert(
                    id.clone(),
                    Run {
                        since,
                        until,
                        polls_left: f.polls_to_finish,
                    },
                );
                (200, Json(json!({"report_run_id": id})).into_response())
            }
            ("GET", [_, id]) => {
                let mut runs = f.runs.lock().unwrap();
                let Some(run) = runs.get_mut(id) else {
                    break 'answer (
                        400,
                        (
                            StatusCode::BAD_REQUEST,
                            Json(error(100, 33, "Unsupported get request")),
                        )
                            .into_response(),
                    );
                };
                *f.polls.lock().unwrap() += 1;
                let (st, pct) = match run.polls_left {
                    0 => ("Job Completed", 100),
                    n if n == f.polls_to_finish => ("Job Not Started", 0),
                    _ => ("Job Running", 50),
                };
                run.polls_left = run.polls_left.saturating_sub(1);
                (
                    200,
                    Json(json!({"id": id, "async_status": st, "async_percent_completion": pct}))
                        .into_response(),
                )
            }
            ("GET", [_, id, insights]) if insights == "insights" => {
                let runs = f.runs.lock().unwrap();
                let Some(run) = runs.get(id) else {
                    break 'answer (400, StatusCode::BAD_REQUEST.into_response());
                };
                *f.pages.lock().unwrap() += 1;
                let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
                let start: usize = q
                    .get("after")
                    .and_then(|a| a.strip_prefix("cur-"))
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                let all: Vec<fake::Day> = c
                    .truth
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|d| d.date >= run.since && d.date <= run.until)
                    .cloned()
                    .collect();
                let page: Vec<Value> = all
                    .iter()
                    .skip(start)
                    .take(limit)
                    .map(|d| {
                        json!({"campaign_id": d.campaign_id, "campaign_name": d.name, "date_start": d.date.to_string(), "date_stop": d.date.to_string(),
                               "account_currency": "USD", "spend": format!("{}.{:02}", d.spend_micros / 1_000_000, d.spend_micros % 1_000_000 / 10_000),
                               "impressions": d.impressions.to_string(), "clicks": d.clicks.to_string(),
                               "actions": actions(d), "action_values": action_values(d)})
                    })
                    .collect();
                let end = start + page.len();
                let mut paging = json!({"cursors": {"before": format!("cur-{start}"), "after": format!("cur-{end}")}});
                if end < all.len() {
                    paging["next"] = json!(format!("https://graph.facebook.com/v21.0/{id}/insights?access_token={TOKEN}&after=cur-{end}"));
                }
                (
                    200,
                    Json(json!({"data": page, "paging": paging})).into_response(),
                )
            }
            _ => (404, StatusCode::NOT_FOUND.into_response()),
        }
    };
    c.record(&path, status);
    resp
}

async fn get_handler(
    State(f): State<Arc<Fake>>,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    handle(
        f,
        "GET",
        p.split('/').map(str::to_string).collect(),
        q,
        headers,
        None,
    )
    .await
}

async fn post_handler(
    State(f): State<Arc<Fake>>,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    handle(
        f,
        "POST",
        p.split('/').map(str::to_string).collect(),
        q,
        headers,
        Some(body),
    )
    .await
}

async fn start(truth: Vec<fake::Day>, polls_to_finish: u32) -> (Arc<Fake>, String) {
    let f = Arc::new(Fake {
        common: Common::new(truth, (50, Duration::from_secs(1))),
        runs: Default::default(),
        polls_to_finish,
        polls: Default::default(),
        pages: Default::default(),
        queries: Default::default(),
        throttles: Default::default(),
    });
    f.common.grant(TOKEN);
    let app = Router::new()
        .route("/{*path}", get(get_handler).post(post_handler))
        .with_state(Arc::clone(&f));
    let addr = fake::serve(app).await;
    (f, format!("http://{addr}"))
}

fn settings(url: &str, token: &str) -> attrsync::config::Settings {
    fake::settings(
        "meta",
        &[
            ("accounts", ACCOUNT.into()),
            ("base_url", url.into()),
            ("access_token", token.into()),
        ],
    )
}

/// A running fake with the given truth, and settings that pull from it.
pub async fn setup(truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    let (f, url) = start(truth, 2).await;
    (Arc::clone(&f.common), settings(&url, TOKEN))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[tokio::test]
async fn report_runs_are_polled_and_every_page_read_with_exact_spend() {
    let truth = fake::truth(30, d("2024-02-01"), d("2024-03-10"), true);
    let (f, url) = start(truth.clone(), 3).await;
    let src = fake::source(&settings(&url, TOKEN));
    let (from, to) = (d("2024-02-10"), d("2024-03-08"));
    let rows = src.fetch(from, to).await.unwrap();
    assert_eq!(fake::tuples(&rows), fake::expected(&truth, from, to));
    assert_eq!(rows.len(), 30 * 28, "two pages of 500");
    assert_eq!(*f.pages.lock().unwrap(), 2);
    assert_eq!(
        *f.polls.lock().unwrap(),
        4,
        "Not Started, Running ×2, Completed"
    );
    // Every row: the purchase counted once, though four action types report it.
    for r in &rows {
        let t = fake::truth_of(&truth, r);
        assert_eq!(
            (
                r.platform_conversions,
                r.platform_conversion_value_micros.unwrap_or(0)
            ),
            (t.conversions as f64, t.value_micros),
            "{} {}",
            r.campaign_id,
            r.date
        );
    }
    assert!(rows.iter().any(|r| r.platform_conversions > 0.0));
    assert_eq!(
        src.window().map(|(a, b)| b.days() - a.days()),
        Some(28),
        "Meta's default restatement is 28 days"
    );
}

#[tokio::test]
async fn throttle_codes_are_waited_out() {
    let truth = fake::truth(3, d("2024-01-01"), d("2024-01-07"), true);
    let (f, url) = start(truth.clone(), 1).await;
    for _ in 0..3 {
        f.common.push(Fault::Throttle(Duration::ZERO));
    }
    let rows = fake::source(&settings(&url, TOKEN))
        .fetch(d("2024-01-01"), d("2024-01-07"))
        .await
        .unwrap();
    assert_eq!(rows.len(), truth.len());
    let s = f.common.stats();
    assert_eq!(
        (s.throttled_on_request, s.throttled_over_limit),
        (3, 0),
        "codes 80000, 17 and 613 each retried; the limiter kept under the limit"
    );
}

#[tokio::test]
async fn a_revoked_token_fails_naming_the_key_without_showing_it() {
    let (f, url) = start(fake::truth(1, d("2024-01-01"), d("2024-01-02"), true), 1).await;
    let bad = "revoked-token-SENSITIVE";
    let err = fake::source(&settings(&url, bad))
        .fetch(d("2024-01-01"), d("2024-01-02"))
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(!err.is_transient());
    assert!(
        text.contains("ads.meta.access_token") && text.contains("190"),
        "{text}"
    );
    assert!(!text.contains(bad) && !text.contains(TOKEN), "{text}");
    assert_eq!(
        f.common.stats().requests.len(),
        1,
        "no retries of a refused token"
    );
}

#[tokio::test]
async fn the_access_token_never_travels_in_urls() {
    let truth = fake::truth(30, d("2024-02-01"), d("2024-02-28"), true);
    let (f, url) = start(truth, 1).await;
    fake::source(&settings(&url, TOKEN))
        .fetch(d("2024-02-01"), d("2024-02-28"))
        .await
        .unwrap();
    let q = f.queries.lock().unwrap();
    assert!(q.len() >= 3);
    assert!(q.iter().all(|u| !u.contains("access_token")), "{q:?}");
}
