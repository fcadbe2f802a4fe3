//! Google Ads against a fake `googleAds:searchStream`: GAQL date ranges, streamed batches with
//! int64 strings and omitted zeroes, QuotaError with retryDelay, UNAUTHENTICATED on an expired
//! token, 404 for a sunset version.

use std::sync::Arc;
use std::time::Duration;

use attrsync::ads::AdSource;
use attrsync::domain::time::Date;
use attrsync::http::Classify;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fake::{self, Common, Fault, Gate};

const DEV_TOKEN: &str = "dev-token-SENSITIVE";
const CUSTOMER: &str = "1234567890";

struct Fake {
    common: Arc<Common>,
    login_seen: std::sync::Mutex<Vec<String>>,
}

fn quota(delay: Duration) -> Response {
    let body = json!([{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.ads.googleads.v19.errors.GoogleAdsFailure",
          "errors": [{"errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "message": "Too many requests. Retry in the given delay.",
            "details": {"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per account", "retryDelay": format!("{}s", delay.as_secs_f64())}}}],
          "requestId": "r1"}]}}]);
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

fn between(q: &str) -> Option<(Date, Date)> {
    let rest = q.split("BETWEEN '").nth(1)?;
    let (a, rest) = rest.split_once("' AND '")?;
    let b = rest.split('\'').next()?;
    Some((Date::parse(a).ok()?, Date::parse(b).ok()?))
}

async fn search_stream(
    State(f): State<Arc<Fake>>,
    Path((version, rest)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{version}/customers/{rest}");
    let c = &f.common;
    let (status, resp) = 'answer: {
        let _flight = match c.enter() {
            Gate::Fault(Fault::Throttle(d), g) => {
                break 'answer (429, {
                    drop(g);
                    quota(d)
                })
            }
            Gate::Fault(_, _) => {
                break 'answer (503, StatusCode::SERVICE_UNAVAILABLE.into_response())
            }
            Gate::OverLimit(_) => break 'answer (429, quota(Duration::from_secs(1))),
            Gate::Serve(g) => g,
        };
        if version != "v19" {
            break 'answer (
                404,
                (StatusCode::NOT_FOUND, "<html>404 Not Found</html>").into_response(),
            );
        }
        if !c.authorized(&headers, "authorization") {
            let body = json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}});
            break 'answer (401, (StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
        if headers.get("developer-token").and_then(|v| v.to_str().ok()) != Some(DEV_TOKEN) {
            break 'answer (
                400,
                (StatusCode::BAD_REQUEST, "developer token missing").into_response(),
            );
        }
        if let Some(l) = headers
            .get("login-customer-id")
            .and_then(|v| v.to_str().ok())
        {
            f.login_seen.lock().unwrap().push(l.to_string());
        }
        let q: Value = serde_json::from_slice(&body).unwrap_or_default();
        // The account's own settings: `customer.time_zone` and `customer.currency_code`
        // (Google Ads API reference, Customer resource).
        if q["query"]
            .as_str()
            .is_some_and(|t| t.trim_end().ends_with("FROM customer"))
        {
            let body = json!([{"results": [{"customer": {"resourceName": format!("customers/{CUSTOMER}"), "timeZone": c.zone, "currencyCode": "EUR"}}],
                               "fieldMask": "customer.timeZone,customer.currencyCode", "requestId": "tz"}]);
            break 'answer (200, Json(body).into_response());
        }
        let Some((from, to)) = q["query"].as_str().and_then(between) else {
            break 'answer (400, (StatusCode::BAD_REQUEST, "bad GAQL").into_response());
        };
        let rows: Vec<Value> = c
            .truth
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.date >= from && d.date <= to)
            .map(|d| {
                // proto3 JSON: int64 as strings, zero values omitted.
                let mut m = serde_json::Map::new();
                m.insert("costMicros".into(), json!(d.spend_micros.to_string()));
                m.insert("impressions".into(), json!(d.impressions.to_string()));
                m.insert("clicks".into(), json!(d.clicks.to_string()));
                if d.conversions != 0 {
                    m.insert("conversions".into(), json!(d.conversions as f64));
                    m.insert("conversionsValue".into(), json!(d.value_micros as f64 / 1e6));
                }
                json!({"customer": {"resourceName": format!("customers/{CUSTOMER}"), "currencyCode": "EUR"},
                       "campaign": {"resourceName": format!("customers/{CUSTOMER}/campaigns/{}", d.campaign_id), "id": d.campaign_id, "name": d.name},
                       "segments": {"date": d.date.to_string()}, "metrics": m})
            })
            .collect();
        let batches: Vec<Value> = rows
            .chunks(7)
            .map(|b| json!({"results": b, "fieldMask": "customer.currencyCode,campaign.id,campaign.name,segments.date,metrics.costMicros", "requestId": "abc"}))
            .collect();
        (200, Json(Value::Array(batches)).into_response())
    };
    c.record(&path, status);
    resp
}

async fn token(State(f): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    fake::token_response(f.common.refresh(&headers, &body, false))
}

async fn start(truth: Vec<fake::Day>) -> (Arc<Fake>, String) {
    let f = Arc::new(Fake {
        common: Common::new(truth, (50, Duration::from_secs(1))),
        login_seen: Default::default(),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/{version}/customers/{*rest}", post(search_stream))
        .with_state(Arc::clone(&f));
    let addr = fake::serve(app).await;
    (f, format!("http://{addr}"))
}

fn settings(url: &str, extra: &[(&str, &str)]) -> attrsync::config::Settings {
    let mut pairs: Vec<(&str, String)> = vec![
        ("accounts", CUSTOMER.into()),
        ("base_url", url.into()),
        ("token_url", format!("{url}/token")),
        ("client_id", fake::CLIENT_ID.into()),
        ("client_secret", fake::CLIENT_SECRET.into()),
        ("refresh_token", fake::REFRESH_TOKEN.into()),
        ("developer_token", DEV_TOKEN.into()),
        ("login_customer_id", "987-654-3210".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    fake::settings("google", &pairs)
}

/// A running fake with the given truth, and settings that pull from it.
pub async fn setup(truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    let (f, url) = start(truth).await;
    (Arc::clone(&f.common), settings(&url, &[]))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[tokio::test]
async fn streamed_rows_keep_exact_micros_and_account_days() {
    let truth = fake::truth(4, d("2024-02-01"), d("2024-03-31"), false);
    let (f, url) = start(truth.clone()).await;
    let src = fake::source(&settings(&url, &[]));
    assert_eq!(src.job(), "ads:google_ads:1234567890");
    let rows = src.fetch(d("2024-02-20"), d("2024-03-20")).await.unwrap();
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-02-20"), d("2024-03-20"))
    );
    assert!(rows.iter().all(|r| r.currency.as_str() == "EUR"));
    let r = rows.iter().find(|r| r.platform_conversions > 0.0).unwrap();
    let t = fake::truth_of(&truth, r);
    assert_eq!(r.platform_conversion_value_micros, Some(t.value_micros));
    assert_eq!(r.campaign_name.as_deref(), Some(t.name.as_str()));
    assert_eq!(
        f.login_seen.lock().unwrap().first().map(String::as_str),
        Some("9876543210"),
        "login-customer-id goes without dashes"
    );
    // Default restatement: 30 days back from today in the account's zone.
    let (from, to) = src.window().unwrap();
    assert_eq!(to.days() - from.days(), 30);
}

#[tokio::test]
async fn quota_errors_are_waited_out_for_the_retry_delay() {
    let truth = fake::truth(2, d("2024-01-01"), d("2024-01-10"), false);
    let (f, url) = start(truth.clone()).await;
    f.common.push(Fault::Unavailable);
    f.common.push(Fault::Throttle(Duration::from_millis(400)));
    f.common.push(Fault::Throttle(Duration::from_millis(400)));
    let src = fake::source(&settings(&url, &[]));
    let rows = src.fetch(d("2024-01-01"), d("2024-01-10")).await.unwrap();
    assert_eq!(rows.len(), truth.len());
    let s = f.common.stats();
    assert_eq!(s.throttled_on_request, 2);
    assert_eq!(s.requests[0].2, 503, "a 5xx is retried too");
    assert_eq!(
        s.throttled_over_limit, 0,
        "the limiter kept the client under the server's limit"
    );
    let gap = fake::gap_after(&s, 429).unwrap();
    assert!(
        gap >= Duration::from_millis(390),
        "waited {gap:?} after RESOURCE_EXHAUSTED asking for 400ms"
    );
}

#[tokio::test]
async fn a_daily_quota_fails_the_run_as_transient() {
    let (f, url) = start(fake::truth(1, d("2024-01-01"), d("2024-01-02"), false)).await;
    f.common
        .push(Fault::Throttle(Duration::from_secs(6 * 3600)));
    let err = fake::source(&settings(&url, &[]))
        .fetch(d("2024-01-01"), d("2024-01-02"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(format!("{err}").contains("15,000 operations"), "{err}");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    let truth = fake::truth(2, d("2024-01-01"), d("2024-01-05"), false);
    let (f, url) = start(truth.clone()).await;
    let src = fake::source(&settings(&url, &[]));
    src.fetch(d("2024-01-01"), d("2024-01-05")).await.unwrap();
    f.common.push(Fault::ExpireToken);
    let rows = src.fetch(d("2024-01-01"), d("2024-01-05")).await.unwrap();
    assert_eq!(rows.len(), truth.len());
    let s = f.common.stats();
    assert_eq!(
        s.token_requests, 2,
        "one token at start, one refresh after the 401"
    );
    assert_eq!(s.requests.iter().filter(|r| r.2 == 401).count(), 1);
}

#[tokio::test]
async fn a_sunset_version_names_the_key_and_leaks_no_secret() {
    let (_f, url) = start(fake::truth(1, d("2024-01-01"), d("2024-01-02"), false)).await;
    let err = fake::source(&settings(&url, &[("api_version", "v1")]))
        .fetch(d("2024-01-01"), d("2024-01-02"))
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(!err.is_transient());
    assert!(text.contains("ads.google.api_version"), "{text}");
    for s in [
        DEV_TOKEN,
        fake::CLIENT_SECRET,
        fake::REFRESH_TOKEN,
        "access-1",
    ] {
        assert!(!text.contains(s), "{text}");
    }
}
