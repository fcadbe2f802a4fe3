//! TikTok against a fake Business API: `{code, message, data}` envelopes (errors inside HTTP
//! 200), advertiser info, the integrated report limited to 30 days and paged by 1,000, code
//! 40100 for throttling and 40105 for a revoked token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attrsync::domain::time::Date;
use attrsync::http::Classify;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fake::{self, Common, Fault, Gate};

const ADVERTISER: &str = "7100000000000000001";
const TOKEN: &str = "tiktok-long-term-token-SENSITIVE";

struct Fake {
    common: Arc<Common>,
    reports: Mutex<Vec<(Date, Date, u32)>>,
}

fn code(c: i64, msg: &str) -> Response {
    Json(json!({"code": c, "message": msg, "request_id": "20240101", "data": {}})).into_response()
}

async fn api(
    State(f): State<Arc<Fake>>,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let c = &f.common;
    let (status, resp) = 'answer: {
        let _g = match c.enter() {
            Gate::Fault(Fault::Throttle(_), _) | Gate::OverLimit(_) => {
                break 'answer (
                    40100,
                    code(40100, "Too many requests. Please retry in some time."),
                )
            }
            Gate::Fault(_, _) => {
                break 'answer (500, StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
            Gate::Serve(g) => g,
        };
        if !c.authorized(&headers, "access-token") {
            break 'answer (
                40105,
                code(40105, "Access token is incorrect or has been revoked."),
            );
        }
        let truth = c.truth.lock().unwrap().clone();
        match p.as_str() {
            "advertiser/info/" => {
                let ids: Vec<String> = serde_json::from_str(
                    q.get("advertiser_ids").map(String::as_str).unwrap_or("[]"),
                )
                .unwrap_or_default();
                let list: Vec<Value> = ids.iter().filter(|i| *i == ADVERTISER).map(|i| json!({"advertiser_id": i, "currency": "EUR", "timezone": f.common.zone})).collect();
                (
                    0,
                    Json(json!({"code": 0, "message": "OK", "data": {"list": list}}))
                        .into_response(),
                )
            }
            "report/integrated/get/" => {
                let ok = q.get("advertiser_id").map(String::as_str) == Some(ADVERTISER)
                    && q.get("report_type").map(String::as_str) == Some("BASIC")
                    && q.get("data_level").map(String::as_str) == Some("AUCTION_CAMPAIGN")
                    && q.get("dimensions").map(String::as_str)
                        == Some(r#"["campaign_id","stat_time_day"]"#);
                let (Some(from), Some(to)) = (
                    q.get("start_date").and_then(|s| Date::parse(s).ok()),
                    q.get("end_date").and_then(|s| Date::parse(s).ok()),
                ) else {
                    break 'answer (40002, code(40002, "start_date and end_date are required"));
                };
                if !ok {
                    break 'answer (40002, code(40002, "invalid report parameters"));
                }
                if to.days() - from.days() + 1 > 30 {
                    break 'answer (
                        40002,
                        code(40002, "The time range of daily data cannot exceed 30 days"),
                    );
                }
                let page: u32 = q.get("page").and_then(|s| s.parse().ok()).unwrap_or(1);
                let size: usize = q
                    .get("page_size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(10)
                    .min(1000);
                f.reports.lock().unwrap().push((from, to, page));
                let all: Vec<&fake::Day> = truth
                    .iter()
                    .filter(|d| d.date >= from && d.date <= to)
                    .collect();
                let list: Vec<Value> = all
                    .iter()
                    .skip((page as usize - 1) * size)
                    .take(size)
                    .map(|d| {
                        json!({"dimensions": {"campaign_id": d.campaign_id, "stat_time_day": format!("{} 00:00:00", d.date)},
                               "metrics": {"spend": format!("{}.{:02}", d.spend_micros / 1_000_000, d.spend_micros % 1_000_000 / 10_000),
                                           "impressions": d.impressions.to_string(), "clicks": d.clicks.to_string(),
                                           "conversion": d.conversions.to_string(), "campaign_name": d.name}})
                    })
                    .collect();
                let total_page = all.len().div_ceil(size).max(1);
                (0, Json(json!({"code": 0, "message": "OK", "data": {"list": list, "page_info": {"page": page, "page_size": size, "total_number": all.len(), "total_page": total_page}}})).into_response())
            }
            _ => (404, StatusCode::NOT_FOUND.into_response()),
        }
    };
    c.record(&p, if status == 0 { 200 } else { status as u16 });
    resp
}

async fn start(truth: Vec<fake::Day>) -> (Arc<Fake>, String) {
    let f = Arc::new(Fake {
        common: Common::new(truth, (50, Duration::from_secs(1))),
        reports: Default::default(),
    });
    f.common.grant(TOKEN);
    let app = Router::new()
        .route("/open_api/v1.3/{*path}", get(api))
        .with_state(Arc::clone(&f));
    (Arc::clone(&f), format!("http://{}", fake::serve(app).await))
}

fn settings(url: &str, token: &str) -> attrsync::config::Settings {
    fake::settings(
        "tiktok",
        &[
            ("accounts", ADVERTISER.into()),
            ("base_url", url.into()),
            ("access_token", token.into()),
        ],
    )
}

/// A running fake with the given truth, and settings that pull from it.
pub async fn setup(truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    let (f, url) = start(truth).await;
    (Arc::clone(&f.common), settings(&url, TOKEN))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[tokio::test]
async fn thirty_day_slices_and_pages_of_a_thousand() {
    let truth = fake::truth(40, d("2024-01-01"), d("2024-02-20"), true);
    let (f, url) = start(truth.clone()).await;
    let rows = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, TOKEN)),
        d("2024-01-03"),
        d("2024-02-16"),
    )
    .await
    .unwrap();
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-01-03"), d("2024-02-16"))
    );
    assert!(rows
        .iter()
        .all(|r| r.currency.as_str() == "EUR" && r.campaign_name.is_some()));
    let calls = f.reports.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![
            (d("2024-01-03"), d("2024-02-01"), 1),
            (d("2024-01-03"), d("2024-02-01"), 2),
            (d("2024-02-02"), d("2024-02-16"), 1)
        ]
    );
}

#[tokio::test]
async fn code_40100_is_throttling_and_40105_a_refused_token() {
    let truth = fake::truth(2, d("2024-01-01"), d("2024-01-04"), true);
    let (f, url) = start(truth.clone()).await;
    f.common.push(Fault::Throttle(Duration::ZERO));
    f.common.push(Fault::Throttle(Duration::ZERO));
    let rows = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, TOKEN)),
        d("2024-01-01"),
        d("2024-01-04"),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), truth.len());
    assert_eq!(f.common.stats().throttled_on_request, 2);

    let bad = "revoked-SENSITIVE";
    let err = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, bad)),
        d("2024-01-01"),
        d("2024-01-04"),
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        !err.is_transient() && text.contains("ads.tiktok.access_token") && !text.contains(bad),
        "{text}"
    );
}
