//! X Ads against a fake Ads API v12 that checks every OAuth 1.0a signature: campaign pages by
//! cursor, synchronous stats (≤ 7 days, ≤ 20 ids, whole hours at the account's midnight),
//! async stats jobs with a gzipped download, and 429 with `x-rate-limit-reset`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attrsync::domain::time::{Date, Timestamp};
use attrsync::http::Classify;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::fake::{self, Common, Fault, Gate};

const ACCOUNT: &str = "18ce54d4x5t";
const CONSUMER_KEY: &str = "ck-public";
const CONSUMER_SECRET: &str = "cs-SENSITIVE";
const TOKEN: &str = "at-1-SENSITIVE";
const TOKEN_SECRET: &str = "ats-SENSITIVE";

struct Fake {
    common: Arc<Common>,
    base: Mutex<String>,
    jobs: Mutex<HashMap<String, (Value, u32)>>,
    stats_calls: Mutex<Vec<(usize, i64, String)>>,
    job_polls: Mutex<u32>,
    bad_signatures: Mutex<u32>,
}

fn enc(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Recomputes the HMAC-SHA1 signature of the request as received (RFC 5849 §3.4).
fn signature_ok(method: &Method, url: &str, query: &str, auth: &str) -> bool {
    let Some(fields) = auth.strip_prefix("OAuth ") else {
        return false;
    };
    let mut oauth: Vec<(String, String)> = fields
        .split(", ")
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let v = percent_encoding::percent_decode_str(v.trim_matches('"'))
                .decode_utf8_lossy()
                .into_owned();
            Some((k.to_string(), v))
        })
        .collect();
    let Some(pos) = oauth.iter().position(|(k, _)| k == "oauth_signature") else {
        return false;
    };
    let (_, given) = oauth.remove(pos);
    let get = |k: &str| oauth.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    if get("oauth_consumer_key") != Some(CONSUMER_KEY)
        || get("oauth_token") != Some(TOKEN)
        || get("oauth_signature_method") != Some("HMAC-SHA1")
    {
        return false;
    }
    let mut params: Vec<(String, String)> = fake::url_decode_form(query)
        .into_iter()
        .chain(oauth)
        .map(|(k, v)| (enc(&k), enc(&v)))
        .collect();
    params.sort();
    let joined = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!("{}&{}&{}", method.as_str(), enc(url), enc(&joined));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(
        format!("{}&{}", enc(CONSUMER_SECRET), enc(TOKEN_SECRET)).as_bytes(),
    )
    .unwrap();
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()) == given
}

/// Stats for `ids` from `start` for `days` days, the placement's part of each number.
fn series(truth: &[fake::Day], ids: &[&str], from: Date, days: i64, placement: &str) -> Value {
    let part = |v: i64| {
        if placement == "PUBLISHER_NETWORK" {
            v / 5
        } else {
            v - v / 5
        }
    };
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            let day = |i: i64| truth.iter().find(|d| d.campaign_id == *id && d.date == from.add_days(i as i32));
            let metric = |f: &dyn Fn(&fake::Day) -> i64| -> Value { (0..days).map(|i| day(i).map(|d| json!(part(f(d)))).unwrap_or(Value::Null)).collect() };
            json!({"id": id, "id_data": [{"segment": null, "metrics": {
                "impressions": metric(&|d| d.impressions), "clicks": metric(&|d| d.clicks),
                "billed_charge_local_micro": metric(&|d| d.spend_micros),
                "conversion_purchases": {"metric": metric(&|d| d.conversions), "sale_amount": metric(&|d| d.value_micros)}}}]})
        })
        .collect();
    json!({"data": data, "time_series_length": days, "request": {"params": {"granularity": "DAY", "placement": placement}}})
}

async fn api(
    State(f): State<Arc<Fake>>,
    method: Method,
    Path(p): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let c = &f.common;
    let base = f.base.lock().unwrap().clone();
    let (status, resp) = 'answer: {
        let _g = match c.enter() {
            Gate::Fault(Fault::Throttle(d), _) => {
                let reset = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    + d.as_secs().max(1);
                let h = [
                    ("x-rate-limit-limit", "250".to_string()),
                    ("x-rate-limit-remaining", "0".to_string()),
                    ("x-rate-limit-reset", reset.to_string()),
                ];
                break 'answer (429, (StatusCode::TOO_MANY_REQUESTS, h, Json(json!({"errors": [{"code": "TOO_MANY_REQUESTS", "message": "Rate limit exceeded"}]}))).into_response());
            }
            Gate::OverLimit(_) => {
                break 'answer (429, StatusCode::TOO_MANY_REQUESTS.into_response())
            }
            Gate::Fault(_, _) => {
                break 'answer (503, StatusCode::SERVICE_UNAVAILABLE.into_response())
            }
            Gate::Serve(g) => g,
        };
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !signature_ok(&method, &format!("{base}/{p}"), &q, auth) {
            *f.bad_signatures.lock().unwrap() += 1;
            break 'answer (401, (StatusCode::UNAUTHORIZED, Json(json!({"errors": [{"code": "INVALID_AUTH", "message": "Could not authenticate you"}]}))).into_response());
        }
        let form: HashMap<String, String> = fake::url_decode_form(&q).into_iter().collect();
        let truth = c.truth.lock().unwrap().clone();
        let stats_query =
            |max_days: i64| -> Result<(Vec<String>, Date, i64, String), Box<Response>> {
                let bad = |m: &str| {
                    Err(Box::new(
                        (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"errors": [{"code": "INVALID_PARAMETER", "message": m}]})),
                        )
                            .into_response(),
                    ))
                };
                let ids: Vec<String> = form
                    .get("entity_ids")
                    .map(|s| s.split(',').map(str::to_string).collect())
                    .unwrap_or_default();
                if ids.is_empty()
                    || ids.len() > 20
                    || form.get("entity").map(String::as_str) != Some("CAMPAIGN")
                    || form.get("granularity").map(String::as_str) != Some("DAY")
                {
                    return bad("entity_ids (1 to 20), entity=CAMPAIGN and granularity=DAY");
                }
                let (Some(s), Some(e)) = (
                    form.get("start_time")
                        .and_then(|t| Timestamp::parse(t).ok()),
                    form.get("end_time").and_then(|t| Timestamp::parse(t).ok()),
                ) else {
                    return bad("start_time and end_time");
                };
                let local = |t: Timestamp| t.add_micros(f.common.offset_hours * 3_600_000_000);
                if local(s).micros() % 86_400_000_000 != 0
                    || local(e).micros() % 86_400_000_000 != 0
                {
                    return bad("DAY granularity needs times at the account's midnight");
                }
                let days = (e.micros() - s.micros()) / 86_400_000_000;
                if days < 1 || days > max_days {
                    return bad("time range too long");
                }
                Ok((
                    ids,
                    local(s).date(),
                    days,
                    form.get("placement").cloned().unwrap_or_default(),
                ))
            };
        match (method.as_str(), p.as_str()) {
            // The account itself (X Ads API, Accounts: `timezone`, the zone DAY slots follow).
            ("GET", x) if x == format!("12/accounts/{ACCOUNT}") => (
                200,
                Json(json!({"request": {"params": {"account_id": ACCOUNT}},
                            "data": {"id": ACCOUNT, "name": "Demo", "timezone": f.common.zone, "timezone_switch_at": "2020-01-01T08:00:00Z", "approval_status": "ACCEPTED"}}))
                .into_response(),
            ),
            ("GET", x) if x == format!("12/accounts/{ACCOUNT}/campaigns") => {
                let start: usize = form.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
                let mut ids: Vec<(String, String)> = truth
                    .iter()
                    .map(|d| (d.campaign_id.clone(), d.name.clone()))
                    .collect();
                ids.dedup();
                let page: Vec<Value> = ids.iter().skip(start).take(10).map(|(id, n)| json!({"id": id, "name": n, "currency": "JPY", "entity_status": "ACTIVE"})).collect();
                let next = (start + 10 < ids.len()).then(|| (start + 10).to_string());
                (
                    200,
                    Json(json!({"data": page, "next_cursor": next})).into_response(),
                )
            }
            ("GET", x) if x == format!("12/stats/accounts/{ACCOUNT}") => match stats_query(7) {
                Err(r) => (400, *r),
                Ok((ids, from, days, placement)) => {
                    f.stats_calls
                        .lock()
                        .unwrap()
                        .push((ids.len(), days, placement.clone()));
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    (
                        200,
                        Json(series(&truth, &ids, from, days, &placement)).into_response(),
                    )
                }
            },
            ("POST", x) if x == format!("12/stats/jobs/accounts/{ACCOUNT}") => {
                match stats_query(90) {
                    Err(r) => (400, *r),
                    Ok((ids, from, days, placement)) => {
                        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                        let mut jobs = f.jobs.lock().unwrap();
                        let id = format!("{}", 1000 + jobs.len());
                        jobs.insert(
                            id.clone(),
                            (series(&truth, &ids, from, days, &placement), 2),
                        );
                        (
                            200,
                            Json(json!({"data": {"id_str": id, "status": "QUEUED", "url": null}}))
                                .into_response(),
                        )
                    }
                }
            }
            ("GET", x) if x == format!("12/stats/jobs/accounts/{ACCOUNT}") => {
                *f.job_polls.lock().unwrap() += 1;
                let mut jobs = f.jobs.lock().unwrap();
                let id = form.get("job_ids").cloned().unwrap_or_default();
                let Some(job) = jobs.get_mut(&id) else {
                    break 'answer (200, Json(json!({"data": []})).into_response());
                };
                let (st, url) = if job.1 == 0 {
                    ("SUCCESS", json!(format!("{base}/download/{id}.json.gz")))
                } else {
                    ("PROCESSING", Value::Null)
                };
                job.1 = job.1.saturating_sub(1);
                (
                    200,
                    Json(json!({"data": [{"id_str": id, "status": st, "url": url}]}))
                        .into_response(),
                )
            }
            _ => (404, StatusCode::NOT_FOUND.into_response()),
        }
    };
    c.record(&p, status);
    resp
}

async fn download(State(f): State<Arc<Fake>>, Path(file): Path<String>) -> Response {
    let id = file.trim_end_matches(".json.gz");
    let Some((body, _)) = f.jobs.lock().unwrap().get(id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.to_string().as_bytes()).unwrap();
    gz.finish().unwrap().into_response()
}

async fn start(truth: Vec<fake::Day>) -> (Arc<Fake>, String) {
    let f = Arc::new(Fake {
        common: Common::new(truth, (100, Duration::from_secs(1))),
        base: Default::default(),
        jobs: Default::default(),
        stats_calls: Default::default(),
        job_polls: Default::default(),
        bad_signatures: Default::default(),
    });
    let app = Router::new()
        .route("/download/{file}", get(download))
        .route("/{*path}", get(api).post(api))
        .with_state(Arc::clone(&f));
    let url = format!("http://{}", fake::serve(app).await);
    *f.base.lock().unwrap() = url.clone();
    (f, url)
}

fn settings(url: &str, secret: &str) -> attrsync::config::Settings {
    fake::settings(
        "x",
        &[
            ("accounts", ACCOUNT.into()),
            ("base_url", url.into()),
            ("consumer_key", CONSUMER_KEY.into()),
            ("consumer_secret", secret.into()),
            ("access_token", TOKEN.into()),
            ("access_token_secret", TOKEN_SECRET.into()),
        ],
    )
}

/// A running fake with the given truth, and settings that pull from it.
pub async fn setup(truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    let (f, url) = start(truth).await;
    (Arc::clone(&f.common), settings(&url, CONSUMER_SECRET))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[tokio::test]
async fn short_windows_use_signed_sync_stats_in_chunks_of_twenty() {
    let truth = fake::truth(45, d("2024-07-01"), d("2024-07-20"), false);
    let (f, url) = start(truth.clone()).await;
    let src = fake::source(&settings(&url, CONSUMER_SECRET));
    let rows = attrsync::ads::AdSource::fetch(&src, d("2024-07-03"), d("2024-07-12"))
        .await
        .unwrap();
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-07-03"), d("2024-07-12")),
        "placements summed to the exact micros"
    );
    assert!(rows.iter().all(|r| r.currency.as_str() == "JPY"));
    let calls = f.stats_calls.lock().unwrap();
    assert_eq!(
        calls.len(),
        3 * 2 * 2,
        "3 id chunks × 2 slices (7 + 3 days) × 2 placements"
    );
    assert!(calls.iter().all(|c| c.0 <= 20 && c.1 <= 7));
    assert_eq!(*f.bad_signatures.lock().unwrap(), 0);
}

#[tokio::test]
async fn long_windows_use_async_jobs() {
    let truth = fake::truth(5, d("2024-05-01"), d("2024-07-15"), false);
    let (f, url) = start(truth.clone()).await;
    let rows = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, CONSUMER_SECRET)),
        d("2024-05-05"),
        d("2024-07-10"),
    )
    .await
    .unwrap();
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-05-05"), d("2024-07-10"))
    );
    assert!(f.stats_calls.lock().unwrap().is_empty());
    assert_eq!(f.jobs.lock().unwrap().len(), 2, "one job per placement");
    assert_eq!(
        *f.job_polls.lock().unwrap(),
        6,
        "each job PROCESSING twice, then SUCCESS"
    );
}

#[tokio::test]
async fn rate_limit_reset_is_waited_for_and_a_wrong_secret_fails_cleanly() {
    let truth = fake::truth(2, d("2024-07-01"), d("2024-07-03"), false);
    let (f, url) = start(truth.clone()).await;
    f.common.push(Fault::Throttle(Duration::from_secs(1)));
    let rows = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, CONSUMER_SECRET)),
        d("2024-07-01"),
        d("2024-07-03"),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), truth.len());
    let s = f.common.stats();
    assert!(
        fake::gap_after(&s, 429).unwrap() >= Duration::from_millis(500),
        "waited for x-rate-limit-reset"
    );

    let err = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, "wrong-secret")),
        d("2024-07-01"),
        d("2024-07-03"),
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(!err.is_transient());
    assert!(
        text.contains("ads.x.consumer_key")
            && !text.contains("wrong-secret")
            && !text.contains(TOKEN_SECRET),
        "{text}"
    );
}
