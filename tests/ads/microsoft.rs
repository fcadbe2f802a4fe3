//! Microsoft Advertising against a fake Reporting API (REST): SubmitGenerateReport,
//! PollGenerateReport that stays Pending for several polls, a zipped CSV download, error 117
//! CallRateExceeded and 109 AuthenticationTokenExpired.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attrsync::domain::time::Date;
use attrsync::http::Classify;
use attrsync::pipeline::Outcome;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fake::{self, Common, Fault, Gate};

const ACCOUNT: &str = "180012345";
const CUSTOMER: &str = "250000777";
const DEV_TOKEN: &str = "ms-dev-token-SENSITIVE";

struct Report {
    from: Date,
    to: Date,
    polls_left: u32,
}

struct Fake {
    common: Arc<Common>,
    base: Mutex<String>,
    reports: Mutex<HashMap<String, Report>>,
    polls_to_finish: u32,
    scopes: Mutex<Vec<String>>,
    polls: Mutex<u32>,
}

/// The account's `TimeZone`, one of Microsoft's own values (Customer Management
/// `TimeZoneType`), chosen so its date differs from UTC's now: (Microsoft name, IANA, offset).
fn ms_zone() -> (&'static str, &'static str, i64) {
    let hour = (attrsync::domain::time::Timestamp::now().micros() / 3_600_000_000).rem_euclid(24);
    if hour >= 11 {
        ("Nukualofa", "Pacific/Tongatapu", 13)
    } else {
        ("InternationalDateLineWest", "Etc/GMT+12", -12)
    }
}

/// Customer Management `GetAccount` over REST (`POST …/CustomerManagement/v13/Account/Query`,
/// body `{"AccountId": …}`, answer `{"Account": AdvertiserAccount}`).
async fn get_account(
    State(f): State<Arc<Fake>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let c = &f.common;
    let (status, resp) = 'answer: {
        let _g = match c.enter() {
            Gate::Serve(g) => g,
            Gate::Fault(Fault::Throttle(_), _) | Gate::OverLimit(_) => {
                break 'answer (400, fault(StatusCode::BAD_REQUEST, 117, "CallRateExceeded"))
            }
            Gate::Fault(_, _) => {
                break 'answer (
                    500,
                    fault(StatusCode::INTERNAL_SERVER_ERROR, 0, "InternalError"),
                )
            }
        };
        if !c.authorized(&headers, "authorization") {
            let body = json!({"Errors": [{"Code": 109, "ErrorCode": "AuthenticationTokenExpired", "Message": "The OAuth access token has expired."}], "TrackingId": "x", "Type": "AdApiFaultDetail"});
            break 'answer (401, (StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
        if body["AccountId"] != json!(180012345)
            || headers.get("developertoken").and_then(|v| v.to_str().ok()) != Some(DEV_TOKEN)
        {
            break 'answer (
                400,
                fault(StatusCode::BAD_REQUEST, 1102, "InvalidAccountId"),
            );
        }
        (
            200,
            Json(json!({"Account": {"Id": 180012345, "Name": "Demo", "CurrencyCode": "USD", "TimeZone": ms_zone().0,
                                    "AccountLifeCycleStatus": "Active", "ParentCustomerId": 250000777}}))
            .into_response(),
        )
    };
    c.record("/CustomerManagement/v13/Account/Query", status);
    resp
}

fn fault(status: StatusCode, code: i64, name: &str) -> Response {
    let body = json!({"OperationErrors": [{"Code": code, "Details": null, "ErrorCode": name, "Message": format!("{name} occurred.")}], "BatchErrors": [], "TrackingId": "7d3f", "Type": "ApiFaultDetail"});
    (status, Json(body)).into_response()
}

fn ymd(v: &Value) -> Option<Date> {
    Date::from_ymd(
        v["Year"].as_i64()? as i32,
        v["Month"].as_u64()? as u32,
        v["Day"].as_u64()? as u32,
    )
}

async fn reporting(
    State(f): State<Arc<Fake>>,
    Path(op): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let c = &f.common;
    let (status, resp) = 'answer: {
        let _g = match c.enter() {
            Gate::Fault(Fault::Throttle(_), _) | Gate::OverLimit(_) => {
                break 'answer (400, fault(StatusCode::BAD_REQUEST, 117, "CallRateExceeded"))
            }
            Gate::Fault(_, _) => {
                break 'answer (
                    500,
                    fault(StatusCode::INTERNAL_SERVER_ERROR, 0, "InternalError"),
                )
            }
            Gate::Serve(g) => g,
        };
        if !c.authorized(&headers, "authorization") {
            let body = json!({"Errors": [{"Code": 109, "ErrorCode": "AuthenticationTokenExpired", "Message": "The OAuth access token has expired."}], "TrackingId": "x", "Type": "AdApiFaultDetail"});
            break 'answer (401, (StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        if h("developertoken") != DEV_TOKEN
            || h("customerid") != CUSTOMER
            || h("customeraccountid") != ACCOUNT
        {
            break 'answer (
                400,
                fault(StatusCode::BAD_REQUEST, 106, "UserIsNotAuthorized"),
            );
        }
        match op.as_str() {
            "Submit" => {
                let r = &body["ReportRequest"];
                let ok = r["Type"] == "CampaignPerformanceReportRequest"
                    && r["Aggregation"] == "Daily"
                    && r["Format"] == "Csv"
                    && r["Scope"]["AccountIds"][0] == json!(180012345)
                    && r["Columns"].as_array().is_some_and(|c| c.len() == 9);
                let (Some(from), Some(to)) = (
                    ymd(&r["Time"]["CustomDateRangeStart"]),
                    ymd(&r["Time"]["CustomDateRangeEnd"]),
                ) else {
                    break 'answer (
                        400,
                        fault(StatusCode::BAD_REQUEST, 2015, "InvalidCustomDateRange"),
                    );
                };
                if !ok {
                    break 'answer (
                        400,
                        fault(StatusCode::BAD_REQUEST, 2001, "InvalidReportRequest"),
                    );
                }
                let id = format!("rid-{}", f.reports.lock().unwrap().len() + 1);
                f.reports.lock().unwrap().insert(
                    id.clone(),
                    Report {
                        from,
                        to,
                        polls_left: f.polls_to_finish,
                    },
                );
                (200, Json(json!({"ReportRequestId": id})).into_response())
            }
            "Poll" => {
                *f.polls.lock().unwrap() += 1;
                let id = body["ReportRequestId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let mut reports = f.reports.lock().unwrap();
                let Some(r) = reports.get_mut(&id) else {
                    break 'answer (400, fault(StatusCode::BAD_REQUEST, 2004, "InvalidReportId"));
                };
                if r.polls_left > 0 {
                    r.polls_left -= 1;
                    break 'answer (200, Json(json!({"ReportRequestStatus": {"ReportDownloadUrl": null, "Status": "Pending"}})).into_response());
                }
                let url = format!(
                    "{}/download/{id}.zip?sv=2020&sig=presigned",
                    f.base.lock().unwrap()
                );
                (200, Json(json!({"ReportRequestStatus": {"ReportDownloadUrl": url, "Status": "Success"}})).into_response())
            }
            _ => (404, StatusCode::NOT_FOUND.into_response()),
        }
    };
    c.record(&op, status);
    resp
}

/// The report as Microsoft delivers it: a ZIP with one CSV (BOM, quoted fields, header row).
async fn download(
    State(f): State<Arc<Fake>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    assert!(
        headers.get("authorization").is_none(),
        "no credentials to the storage URL"
    );
    let id = file.trim_end_matches(".zip");
    let (from, to) = {
        let r = f.reports.lock().unwrap();
        let Some(r) = r.get(id) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        (r.from, r.to)
    };
    let mut csv = String::from("\u{feff}\"TimePeriod\",\"CampaignId\",\"CampaignName\",\"Spend\",\"Impressions\",\"Clicks\",\"Conversions\",\"Revenue\",\"CurrencyCode\"\r\n");
    for d in f
        .common
        .truth
        .lock()
        .unwrap()
        .iter()
        .filter(|d| d.date >= from && d.date <= to)
    {
        csv.push_str(&format!(
            "\"{}\",\"{}\",\"{}\",\"{}.{:02}\",\"{}\",\"{}\",\"{}.00\",\"{}.{:02}\",\"USD\"\r\n",
            d.date,
            d.campaign_id,
            d.name.replace('"', "\"\""),
            d.spend_micros / 1_000_000,
            d.spend_micros % 1_000_000 / 10_000,
            d.impressions,
            d.clicks,
            d.conversions,
            d.value_micros / 1_000_000,
            d.value_micros % 1_000_000 / 10_000
        ));
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(
            format!("{id}.csv"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(csv.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    (
        [("content-type", "application/x-zip-compressed")],
        buf.into_inner(),
    )
        .into_response()
}

async fn token(State(f): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    let scope = fake::url_decode_form(&body)
        .into_iter()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v)
        .unwrap_or_default();
    f.scopes.lock().unwrap().push(scope);
    fake::token_response_rotating(f.common.refresh_rotating(&headers, &body, false))
}

async fn start(truth: Vec<fake::Day>, polls_to_finish: u32) -> (Arc<Fake>, String) {
    let f = Arc::new(Fake {
        common: {
            let (_, iana, offset) = ms_zone();
            Common::new_in(truth, (50, Duration::from_secs(1)), (iana, offset))
        },
        base: Default::default(),
        reports: Default::default(),
        polls_to_finish,
        scopes: Default::default(),
        polls: Default::default(),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/Reporting/v13/GenerateReport/{op}", post(reporting))
        .route("/CustomerManagement/v13/Account/Query", post(get_account))
        .route("/download/{file}", get(download))
        .with_state(Arc::clone(&f));
    let url = format!("http://{}", fake::serve(app).await);
    *f.base.lock().unwrap() = url.clone();
    (f, url)
}

fn settings(url: &str, extra: &[(&str, &str)]) -> attrsync::config::Settings {
    let mut pairs: Vec<(&str, String)> = vec![
        ("accounts", ACCOUNT.into()),
        ("base_url", url.into()),
        ("customer_management_url", url.into()),
        ("token_url", format!("{url}/token")),
        ("client_id", fake::CLIENT_ID.into()),
        ("client_secret", fake::CLIENT_SECRET.into()),
        ("refresh_token", fake::REFRESH_TOKEN.into()),
        ("developer_token", DEV_TOKEN.into()),
        ("login_customer_id", CUSTOMER.into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    fake::settings("microsoft", &pairs)
}

/// A running fake with the given truth, and settings that pull from it.
pub async fn setup(truth: Vec<fake::Day>) -> (Arc<Common>, attrsync::config::Settings) {
    let (f, url) = start(truth, 2).await;
    (Arc::clone(&f.common), settings(&url, &[]))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[tokio::test]
async fn reports_are_submitted_polled_downloaded_and_unzipped() {
    let truth = fake::truth(5, d("2024-04-01"), d("2024-05-15"), true);
    let (f, url) = start(truth.clone(), 3).await;
    let src = fake::source(&settings(&url, &[]));
    let rows = attrsync::ads::AdSource::fetch(&src, d("2024-04-10"), d("2024-05-09"))
        .await
        .unwrap();
    assert_eq!(
        fake::tuples(&rows),
        fake::expected(&truth, d("2024-04-10"), d("2024-05-09"))
    );
    assert_eq!(
        *f.polls.lock().unwrap(),
        4,
        "three Pending polls, then Success"
    );
    let r = rows.iter().find(|r| r.platform_conversions > 0.0).unwrap();
    let t = fake::truth_of(&truth, r);
    assert_eq!(
        r.platform_conversion_value_micros,
        Some(t.value_micros / 10_000 * 10_000)
    );
    assert_eq!(
        r.campaign_name.as_deref(),
        Some(t.name.as_str()),
        "quoted CSV names with quotes and commas"
    );
    assert!(
        f.scopes.lock().unwrap()[0].contains("msads.manage"),
        "Microsoft tokens are scoped"
    );
}

#[tokio::test]
async fn call_rate_exceeded_backs_off_and_expired_tokens_refresh_once() {
    let truth = fake::truth(2, d("2024-04-01"), d("2024-04-05"), true);
    let (f, url) = start(truth.clone(), 1).await;
    f.common.push(Fault::Throttle(Duration::ZERO));
    f.common.push(Fault::ExpireToken);
    let rows = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, &[])),
        d("2024-04-01"),
        d("2024-04-05"),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), truth.len());
    let s = f.common.stats();
    assert_eq!(s.throttled_on_request, 1);
    assert_eq!(s.token_requests, 2);
    assert_eq!(s.requests.iter().filter(|r| r.2 == 401).count(), 1);
}

#[tokio::test]
async fn a_report_slower_than_the_deadline_fails_transiently() {
    let (f, url) = start(
        fake::truth(1, d("2024-04-01"), d("2024-04-02"), true),
        10_000,
    )
    .await;
    let err = attrsync::ads::AdSource::fetch(
        &fake::source(&settings(&url, &[("report_deadline", "300ms")])),
        d("2024-04-01"),
        d("2024-04-02"),
    )
    .await
    .unwrap_err();
    assert!(err.is_transient());
    assert!(format!("{err}").contains("report_deadline"), "{err}");
    let polls = *f.polls.lock().unwrap();
    assert!(
        (3..=6).contains(&polls),
        "polls back off (20, 40, 80, 160 ms …): {polls}"
    );
}

/// One "process": a pipeline from `settings`, one run of the account.
async fn one_run(
    settings: &attrsync::config::Settings,
) -> Result<attrsync::pipeline::Outcome, attrsync::pipeline::RunError> {
    let p = attrsync::cli::Context::new(settings.clone())
        .pipeline()
        .await
        .unwrap();
    attrsync::store::RunStore::migrate(p.store()).await.unwrap();
    p.run_ads(&p.ads()[0], attrsync::store::Trigger::Manual)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_kept_encrypted_and_used_after_a_restart() {
    let today = attrsync::domain::time::Timestamp::now().date();
    let truth = fake::truth(2, today.add_days(-40), today.add_days(2), true);
    let (f, url) = start(truth, 1).await;
    // Microsoft hands out a new refresh token on every use, and the configured one expires.
    f.common.set_rotation(true, true);
    let (with_key, without_key) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let base = settings(&url, &[]);
    let for_dir = |dir: &std::path::Path, key: Option<&str>| {
        let mut s = base.clone();
        s.sink.dir = dir.join("out");
        s.run_store.url = format!("sqlite://{}", dir.join("runs.db").display());
        s.secrets.key = key.map(attrsync::config::secret::Secret::new);
        s
    };
    let key = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=";
    let kept = for_dir(with_key.path(), Some(key));
    assert!(matches!(one_run(&kept).await, Ok(Outcome::Completed(_))));
    let first = f.common.rotation().newest.unwrap();
    // A restart: the configured token no longer works, the stored one does.
    assert!(
        matches!(one_run(&kept).await, Ok(Outcome::Completed(_))),
        "the stored token is used"
    );
    let second = f.common.rotation().newest.unwrap();
    assert_ne!(first, second, "rotated again, and stored again");
    // At rest it is encrypted: neither token appears in the run store's file.
    let db = std::fs::read(with_key.path().join("runs.db")).unwrap();
    let text = String::from_utf8_lossy(&db);
    assert!(
        !text.contains("SENSITIVE"),
        "no refresh token in plain text"
    );
    // Without a key the token lives only as long as the process: the next one is refused.
    let lost = for_dir(without_key.path(), None);
    f.common.set_rotation(true, false);
    assert!(matches!(one_run(&lost).await, Ok(Outcome::Completed(_))));
    f.common.set_rotation(true, true);
    let err = one_run(&lost).await.unwrap_err();
    let cause = format!("{err}");
    assert!(
        cause.contains("refused") && !cause.contains("SENSITIVE"),
        "{cause}"
    );
}
