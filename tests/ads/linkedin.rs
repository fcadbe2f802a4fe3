//! LinkedIn against a fake Marketing API: versioned headers (426 for a retired version), the
//! ad account and token-paged campaigns, and `adAnalytics` without paging that silently caps
//! answers at 15,000 elements.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use attrsync::ads::AdSource;
use attrsync::domain::time::Date;
use attrsync::http::Classify;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fake::{self, Common, Fault, Gate};

const ACCOUNT: &str = "508812345";
const VERSION: &str = "202410";
const CAP: usize = 15_000;

struct Fake {
    common: Arc<Common>,
    /// Campaigns the campaign listing shows (the rest are archived but still have stats).
    listed: usize,
    analytics_calls: Mutex<Vec<(Date, Date, usize)>>,
    capped: Mutex<u32>,
}

/// `(start:(year:2024,month:1,day:1),end:(year:…))` → the two dates.
fn date_range(q: &str) -> Option<(Date, Date)> {
    let raw = q.split("dateRange=").nth(1)?.split('&').next()?;
    let nums: Vec<u32> = raw
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums.as_slice() {
        [y1, m1, d1, y2, m2, d2] => Some((
            Date::from_ymd(*y1 as i32, *m1, *d1)?,
            Date::from_ymd(*y2 as i32, *m2, *d2)?,
        )),
        _ => None,
    }
}

async fn api(
    State(f): State<Arc<Fake>>,
    Path(p): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let c = &f.common;
    let (status, resp) = 'answer: {
        let _g = match c.enter() {
            Gate::Fault(Fault::Throttle(d), _) => break 'answer (429, fake::retry_after(d)),
            Gate::OverLimit(_) => break 'answer (429, fake::retry_after(Duration::from_secs(1))),
            Gate::Fault(_, _) => {
                break 'answer (503, StatusCode::SERVICE_UNAVAILABLE.into_response())
            }
            Gate::Serve(g) => g,
        };
        let version = headers
            .get("linkedin-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if version != VERSION {
            let body = json!({"status": 426, "code": "NONEXISTENT_VERSION", "message": format!("Requested version {version} is not active")});
            break 'answer (
                426,
                (StatusCode::UPGRADE_REQUIRED, Json(body)).into_response(),
            );
        }
        if headers
            .get("x-restli-protocol-version")
            .and_then(|v| v.to_str().ok())
            != Some("2.0.0")
        {
            break 'answer (
                400,
                (StatusCode::BAD_REQUEST, "Rest.li 2.0.0 required").into_response(),
            );
        }
        if !c.authorized(&headers, "authorization") {
            let body = json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has expired"});
            break 'answer (401, (StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
        let truth = c.truth.lock().unwrap().clone();
        let mut ids: Vec<(String, String)> = truth
            .iter()
            .map(|d| (d.campaign_id.clone(), d.name.clone()))
            .collect();
        ids.dedup();
        if p == format!("adAccounts/{ACCOUNT}") {
            break 'answer (200, Json(json!({"id": ACCOUNT.parse::<i64>().unwrap(), "currency": "GBP", "name": "Demo", "status": "ACTIVE"})).into_response());
        }
        if p == format!("adAccounts/{ACCOUNT}/adCampaigns") {
            let form = fake::url_decode_form(&q);
            let token: usize = form
                .iter()
                .find(|(k, _)| k == "pageToken")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let size: usize = form
                .iter()
                .find(|(k, _)| k == "pageSize")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(10);
            let listed = &ids[..f.listed.min(ids.len())];
            let page: Vec<Value> = listed.iter().skip(token).take(size).map(|(id, name)| json!({"id": id.parse::<i64>().unwrap(), "name": name, "account": format!("urn:li:sponsoredAccount:{ACCOUNT}")})).collect();
            let next = token + page.len();
            let meta = if next < listed.len() {
                json!({"nextPageToken": next.to_string()})
            } else {
                json!({})
            };
            break 'answer (
                200,
                Json(json!({"elements": page, "metadata": meta})).into_response(),
            );
        }
        if p == "adAnalytics" {
            let account_ok = q.contains(&format!(
                "accounts=List(urn%3Ali%3AsponsoredAccount%3A{ACCOUNT})"
            ));
            let shape_ok = q.contains("q=analytics")
                && q.contains("pivot=CAMPAIGN")
                && q.contains("timeGranularity=DAILY");
            let Some((from, to)) = date_range(&q).filter(|_| account_ok && shape_ok) else {
                break 'answer (
                    400,
                    (StatusCode::BAD_REQUEST, "bad analytics query").into_response(),
                );
            };
            let mut elements: Vec<Value> = truth
                .iter()
                .filter(|d| d.date >= from && d.date <= to)
                .map(|d| {
                    let (y, m, dd) = d.date.ymd();
                    json!({"dateRange": {"start": {"year": y, "month": m, "day": dd}, "end": {"year": y, "month": m, "day": dd}},
                           "pivotValues": [format!("urn:li:sponsoredCampaign:{}", d.campaign_id)],
                           "impressions": d.impressions, "clicks": d.clicks,
                           "costInLocalCurrency": format!("{}.{:06}", d.spend_micros / 1_000_000, d.spend_micros % 1_000_000),
                           "externalWebsiteConversions": d.conversions,
                           "conversionValueInLocalCurrency": format!("{}", d.value_micros as f64 / 1e6)})
                })
                .collect();
            let n = elements.len();
            if n > CAP {
                elements.truncate(CAP);
                *f.capped.lock().unwrap() += 1;
            }
            f.analytics_calls.lock().unwrap().push((from, to, n));
            break 'answer (
                200,
                Json(
                    json!({"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}),
                )
                .into_response(),
            );
        }
        (404, StatusCode::NOT_FOUND.into_response())
    };
    c.record(&p, status);
    resp
}

async fn token(State(f): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    fake::token_response(f.common.refresh(&headers, &body, false))
}

async fn start(truth: Vec<fake::Day>, listed: usize) -> (Arc<Fake>, String) {
    let f = Arc::new(Fake {
        // LinkedIn's analytics days are UTC days for every account (reference: ad-platforms,
        // "Data reportedly in UTC"); its adAccounts answer has a currency and no zone.
        common: Common::new_in(truth, (50, Duration::from_secs(1)), ("UTC", 0)),
        listed,
        analytics_calls: Default::default(),
        capped: Default::default(),
    });
    let app = Router::new()
        .route("/oauth/v2/accessToken", post(token))
        .route("/rest/{*path}", get(api))
        .with_state(Arc::clone(&f));
    let addr = fake::serve(app).await;
    (f, format!("http://{addr}"))
}

fn settings(url: &str, version: &str) -> attrsync::config::Settings {
    fake::settings(
        "linkedin",
        &[
            ("accounts", ACCOUNT.into()),
            ("base_url", url.into()),
            ("token_url", format!("{url}/oauth/v2/accessToken")),
            ("client_id", fake::CLIENT_ID.into()),
            ("client_secret", fake::CLIENT_SECRET.into()),
            ("refresh_token", fake::REFRESH_TOKEN.into()),
            ("api_version", version.into()),
        ],
    )
}

/// A running fake with the given truth, and settings that pull from it.
pub async fn setup(truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    let (f, url) = start(truth, 1000).await;
    (Arc::clone(&f.common), settings(&url, VERSION))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[tokio::test]
async fn ranges_are_sliced_under_the_element_cap() {
    // 200 campaigns × 90 days = 18,000 campaign-days: one call would lose 3,000 silently.
    let truth = fake::truth(200, d("2024-01-01"), d("2024-03-30"), false);
    let (f, url) = start(truth.clone(), 200).await;
    let src = fake::source(&settings(&url, VERSION));
    let rows = src.fetch(d("2024-01-01"), d("2024-03-30")).await.unwrap();
    assert_eq!(rows.len(), 18_000);
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-01-01"), d("2024-03-30"))
    );
    assert_eq!(*f.capped.lock().unwrap(), 0, "no slice hit the cap");
    assert!(f.analytics_calls.lock().unwrap().len() >= 2);
    assert!(
        rows.iter()
            .all(|r| r.currency.as_str() == "GBP" && r.campaign_name.is_some()),
        "names from both campaign pages"
    );
    assert_eq!(src.window().map(|(a, b)| b.days() - a.days()), Some(7));
}

#[tokio::test]
async fn a_capped_answer_is_split_and_asked_again() {
    // The listing shows 50 campaigns, but 200 have stats: the first slice comes back capped.
    let truth = fake::truth(200, d("2024-01-01"), d("2024-03-30"), false);
    let (f, url) = start(truth.clone(), 50).await;
    let rows = fake::source(&settings(&url, VERSION))
        .fetch(d("2024-01-01"), d("2024-03-30"))
        .await
        .unwrap();
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-01-01"), d("2024-03-30"))
    );
    assert_eq!(*f.capped.lock().unwrap(), 1);
    let calls = f.analytics_calls.lock().unwrap();
    assert_eq!(
        calls
            .iter()
            .map(|c| c.2)
            .filter(|n| *n <= CAP)
            .sum::<usize>(),
        18_000
    );
}

#[tokio::test]
async fn a_retired_version_names_the_key() {
    let (_f, url) = start(fake::truth(2, d("2024-01-01"), d("2024-01-03"), false), 2).await;
    let err = fake::source(&settings(&url, "202301"))
        .fetch(d("2024-01-01"), d("2024-01-03"))
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    let text = format!("{err:#}");
    assert!(
        text.contains("ads.linkedin.api_version") && text.contains("426"),
        "{text}"
    );
}

#[tokio::test]
async fn expiry_and_429_are_handled() {
    let truth = fake::truth(3, d("2024-01-01"), d("2024-01-09"), false);
    let (f, url) = start(truth.clone(), 3).await;
    f.common.push(Fault::Throttle(Duration::from_secs(1)));
    f.common.push(Fault::ExpireToken);
    let rows = fake::source(&settings(&url, VERSION))
        .fetch(d("2024-01-01"), d("2024-01-09"))
        .await
        .unwrap();
    assert_eq!(rows.len(), truth.len());
    let s = f.common.stats();
    assert_eq!(s.token_requests, 2, "refreshed once after the 401");
    assert!(
        fake::gap_after(&s, 429).unwrap() >= Duration::from_millis(990),
        "Retry-After honoured"
    );
    assert_eq!(s.throttled_over_limit, 0);
}
