//! Reddit Ads against a fake API v3: Basic-auth token refresh, a unique User-Agent required,
//! whole-hour `starts_at`/`ends_at` in the requested time zone, campaign and report pages by
//! `pagination.next_url`, spend in micro-currency, 429 with Retry-After.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attrsync::domain::time::{Date, Timestamp};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fake::{self, Common, Fault, Gate};

const ACCOUNT: &str = "a2_demo01";
const PAGE: usize = 50;

struct Fake {
    common: Arc<Common>,
    base: Mutex<String>,
    starts: Mutex<Vec<String>>,
    report_pages: Mutex<u32>,
}

fn err(status: StatusCode, msg: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": msg}})),
    )
        .into_response()
}

async fn api(
    State(f): State<Arc<Fake>>,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let c = &f.common;
    let (status, resp) = 'answer: {
        let _g = match c.enter() {
            Gate::Fault(Fault::Throttle(d), _) => break 'answer (429, fake::retry_after(d)),
            Gate::OverLimit(_) => break 'answer (429, fake::retry_after(Duration::from_secs(1))),
            Gate::Fault(_, _) => break 'answer (502, StatusCode::BAD_GATEWAY.into_response()),
            Gate::Serve(g) => g,
        };
        let ua = headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !ua.starts_with("attrsync/") {
            break 'answer (
                429,
                err(
                    StatusCode::TOO_MANY_REQUESTS,
                    "generic user agents are throttled",
                ),
            );
        }
        if !c.authorized(&headers, "authorization") {
            break 'answer (401, err(StatusCode::UNAUTHORIZED, "unauthorized"));
        }
        let base = f.base.lock().unwrap().clone();
        let truth = c.truth.lock().unwrap().clone();
        let start: usize = q
            .get("page.token")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        match p.as_str() {
            x if x == format!("ad_accounts/{ACCOUNT}") => (
                200,
                Json(json!({"data": {"id": ACCOUNT, "currency": "USD", "time_zone_id": c.zone}}))
                    .into_response(),
            ),
            x if x == format!("ad_accounts/{ACCOUNT}/campaigns") => {
                let mut ids: Vec<(String, String)> = truth
                    .iter()
                    .map(|d| (d.campaign_id.clone(), d.name.clone()))
                    .collect();
                ids.dedup();
                let page: Vec<Value> = ids
                    .iter()
                    .skip(start)
                    .take(5)
                    .map(|(id, n)| json!({"id": id, "name": n, "objective": "CLICKS"}))
                    .collect();
                let next = (start + 5 < ids.len()).then(|| {
                    format!(
                        "{base}/api/v3/ad_accounts/{ACCOUNT}/campaigns?page.size=5&page.token={}",
                        start + 5
                    )
                });
                (
                    200,
                    Json(json!({"data": page, "pagination": {"next_url": next}})).into_response(),
                )
            }
            x if x == format!("ad_accounts/{ACCOUNT}/reports") => {
                let Some(Json(b)) = body else {
                    break 'answer (405, StatusCode::METHOD_NOT_ALLOWED.into_response());
                };
                let d = &b["data"];
                let (Some(s), Some(e)) = (d["starts_at"].as_str(), d["ends_at"].as_str()) else {
                    break 'answer (
                        400,
                        err(StatusCode::BAD_REQUEST, "starts_at and ends_at required"),
                    );
                };
                let (Ok(st), Ok(et)) = (Timestamp::parse(s), Timestamp::parse(e)) else {
                    break 'answer (400, err(StatusCode::BAD_REQUEST, "bad time"));
                };
                if st.micros() % 3_600_000_000 != 0 || et.micros() % 3_600_000_000 != 0 {
                    break 'answer (
                        400,
                        err(
                            StatusCode::BAD_REQUEST,
                            "starts_at and ends_at must be whole hours",
                        ),
                    );
                }
                // The report's days are those of the zone the request names (any IANA zone).
                let Some(zone) = d["time_zone_id"]
                    .as_str()
                    .and_then(|z| jiff::tz::TimeZone::get(z).ok())
                else {
                    break 'answer (
                        400,
                        err(StatusCode::BAD_REQUEST, "time_zone_id is not a time zone"),
                    );
                };
                if d["breakdowns"] != json!(["CAMPAIGN_ID", "DATE"]) {
                    break 'answer (400, err(StatusCode::BAD_REQUEST, "unexpected breakdowns"));
                }
                f.starts.lock().unwrap().push(s.to_string());
                *f.report_pages.lock().unwrap() += 1;
                // Account days: shift UTC instants into the zone.
                let day_of = |t: Timestamp| {
                    let z = jiff::Timestamp::from_microsecond(t.micros())
                        .unwrap()
                        .to_zoned(zone.clone())
                        .date();
                    Date::from_ymd(z.year() as i32, z.month() as u32, z.day() as u32).unwrap()
                };
                let (from, until) = (day_of(st), day_of(et));
                let rows: Vec<Value> = truth
                    .iter()
                    .filter(|x| x.date >= from && x.date < until)
                    .skip(start)
                    .take(PAGE)
                    .map(|x| json!({"campaign_id": x.campaign_id, "date": x.date.to_string(), "spend": x.spend_micros, "impressions": x.impressions, "clicks": x.clicks, "key_conversion_total_count": x.conversions}))
                    .collect();
                let total = truth
                    .iter()
                    .filter(|x| x.date >= from && x.date < until)
                    .count();
                let next = (start + PAGE < total).then(|| {
                    format!(
                        "{base}/api/v3/ad_accounts/{ACCOUNT}/reports?page.token={}",
                        start + PAGE
                    )
                });
                (200, Json(json!({"data": {"metrics": rows, "metrics_updated_at": "2024-01-01T00:00:00Z"}, "pagination": {"next_url": next}})).into_response())
            }
            _ => (404, StatusCode::NOT_FOUND.into_response()),
        }
    };
    c.record(&p, status);
    resp
}

async fn token(State(f): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    fake::token_response(f.common.refresh(&headers, &body, true))
}

async fn start(truth: Vec<fake::Day>) -> (Arc<Fake>, String) {
    let f = Arc::new(Fake {
        common: Common::new(truth, (50, Duration::from_secs(1))),
        base: Default::default(),
        starts: Default::default(),
        report_pages: Default::default(),
    });
    let app = Router::new()
        .route("/api/v1/access_token", post(token))
        .route("/api/v3/{*path}", get(api).post(api))
        .with_state(Arc::clone(&f));
    let url = format!("http://{}", fake::serve(app).await);
    *f.base.lock().unwrap() = url.clone();
    (f, url)
}

fn settings(url: &str) -> attrsync::config::Settings {
    fake::settings(
        "reddit",
        &[
            ("accounts", ACCOUNT.into()),
            ("base_url", url.into()),
            ("token_url", format!("{url}/api/v1/access_token")),
            ("client_id", fake::CLIENT_ID.into()),
            ("client_secret", fake::CLIENT_SECRET.into()),
            ("refresh_token", fake::REFRESH_TOKEN.into()),
        ],
    )
}

/// A running fake with the given truth, and settings that pull from it.
pub async fn setup(truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    let (f, url) = start(truth).await;
    (Arc::clone(&f.common), settings(&url))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[tokio::test]
async fn reports_page_by_next_url_in_account_days_with_micro_currency() {
    let truth = fake::truth(12, d("2024-06-01"), d("2024-06-25"), false);
    let (f, url) = start(truth.clone()).await;
    let src = fake::source(&settings(&url));
    let rows = attrsync::ads::AdSource::fetch(&src, d("2024-06-03"), d("2024-06-22"))
        .await
        .unwrap();
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-06-03"), d("2024-06-22"))
    );
    assert_eq!(
        *f.report_pages.lock().unwrap(),
        5,
        "240 rows in pages of 50"
    );
    // The account's midnight in the zone the platform reports, a whole hour in UTC.
    let midnight = Timestamp::parse("2024-06-03T00:00:00Z")
        .unwrap()
        .add_micros(-f.common.offset_hours * 3_600_000_000);
    assert_eq!(
        f.starts.lock().unwrap()[0],
        midnight.to_rfc3339_seconds(),
        "the account's midnight, a whole hour"
    );
    assert!(
        rows.iter().all(|r| r.campaign_name.is_some()),
        "names from all campaign pages"
    );
}

#[tokio::test]
async fn basic_auth_refresh_once_and_429_waited_out() {
    let truth = fake::truth(2, d("2024-06-01"), d("2024-06-04"), false);
    let (f, url) = start(truth.clone()).await;
    f.common.push(Fault::ExpireToken);
    f.common.push(Fault::Throttle(Duration::from_secs(1)));
    let rows = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url)),
        d("2024-06-01"),
        d("2024-06-04"),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), truth.len());
    let s = f.common.stats();
    assert_eq!(s.token_requests, 2);
    assert!(fake::gap_after(&s, 429).unwrap() >= Duration::from_millis(990));
    assert_eq!(s.throttled_over_limit, 0);
}
