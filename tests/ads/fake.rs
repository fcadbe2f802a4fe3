//! What every fake ad platform shares: the true campaign-days it serves (in the platform's own
//! units, converted by each fake), OAuth 2 refresh-token exchange with tokens that can expire,
//! a documented rate limit enforced by the server, queued faults, and a record of requests.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attrsync::domain::time::Date;
use axum::http::HeaderMap;
use axum::Router;

/// One true campaign-day. Money in micros of the account currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub campaign_id: String,
    pub name: String,
    pub date: Date,
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub conversions: i64,
    pub value_micros: i64,
}

/// `campaigns` campaigns × every day of `[from, to]`, with awkward amounts (sub-cent digits
/// where the platform's unit allows them: `cents_only` keeps whole cents).
pub fn truth(campaigns: usize, from: Date, to: Date, cents_only: bool) -> Vec<Day> {
    let mut out = Vec::new();
    for c in 0..campaigns {
        let mut d = from;
        let mut k = 0i64;
        while d <= to {
            let raw = 1_234_567 + (c as i64 * 7_919 + k * 104_729) % 90_000_000;
            out.push(Day {
                campaign_id: format!("{}", 90_000 + c),
                name: format!("Campaign {c} (spring, \"A\")"),
                date: d,
                spend_micros: if cents_only {
                    raw / 10_000 * 10_000
                } else {
                    raw
                },
                impressions: 1000 + (c as i64 * 31 + k * 17) % 5000,
                clicks: 10 + (c as i64 * 7 + k * 3) % 90,
                conversions: (c as i64 + k) % 4,
                value_micros: ((c as i64 + k) % 4) * 49_990_000,
            });
            d = d.add_days(1);
            k += 1;
        }
    }
    out
}

/// A fault served instead of the next API answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The platform's throttle signal, asking for this wait where the platform says one.
    Throttle(Duration),
    /// HTTP 503.
    Unavailable,
    /// The access token expires before this request.
    ExpireToken,
}

/// What the fake saw.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// (arrival, path, status) of every API request.
    pub requests: Vec<(Instant, String, u16)>,
    pub token_requests: u32,
    /// Throttle answers the fake chose to give (injected faults).
    pub throttled_on_request: u32,
    /// Throttle answers because the client went over the documented limit.
    pub throttled_over_limit: u32,
    pub max_in_flight: usize,
}

/// A fixed-offset zone whose date differs from UTC's right now (UTC+14 from 10:00 UTC, else
/// UTC−11), with its offset in hours: an ad run that counted days in UTC instead of the zone the
/// platform reports would ask for other days than the account's.
pub fn account_zone() -> (&'static str, i64) {
    let hour = (attrsync::domain::time::Timestamp::now().micros() / 3_600_000_000).rem_euclid(24);
    if hour >= 10 {
        ("Etc/GMT-14", 14)
    } else {
        ("Etc/GMT+11", -11)
    }
}

/// State every platform fake holds.
pub struct Common {
    /// The account's time zone as the platform reports it (see [`account_zone`]).
    pub zone: &'static str,
    pub offset_hours: i64,
    pub truth: Mutex<Vec<Day>>,
    pub faults: Mutex<VecDeque<Fault>>,
    pub stats: Mutex<Stats>,
    valid_tokens: Mutex<HashSet<String>>,
    issued: AtomicUsize,
    in_flight: AtomicUsize,
    /// At most `limit.0` requests in any `limit.1`.
    pub limit: (usize, Duration),
    arrivals: Mutex<VecDeque<Instant>>,
    /// Rotating refresh tokens: the newest issued one, and whether older ones stop working.
    rotation: Mutex<Rotation>,
}

/// How the token endpoint treats refresh tokens.
#[derive(Debug, Default, Clone)]
pub struct Rotation {
    /// Answer every refresh with a new refresh token (Microsoft identity platform: refresh
    /// tokens are replaced with a new one on every use).
    pub rotate: bool,
    /// Only the newest refresh token works (the configured one has expired, as Microsoft's do
    /// after 90 days).
    pub only_newest: bool,
    pub newest: Option<String>,
    pub issued: u32,
}

pub const CLIENT_ID: &str = "client-id-1";
pub const CLIENT_SECRET: &str = "client-secret-SENSITIVE";
pub const REFRESH_TOKEN: &str = "refresh-token-SENSITIVE";

/// What a request may do next.
pub enum Gate {
    Serve(InFlight),
    Fault(Fault, InFlight),
    /// Over the documented limit (the guard keeps it counted while it is answered).
    OverLimit(#[allow(dead_code)] InFlight),
}

/// Counts a request in flight until dropped.
pub struct InFlight(Arc<Common>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Common {
    pub fn new(truth: Vec<Day>, limit: (usize, Duration)) -> Arc<Self> {
        Self::new_in(truth, limit, account_zone())
    }

    /// A fake whose account is in `zone` (IANA name, and its UTC offset in hours now).
    pub fn new_in(
        truth: Vec<Day>,
        limit: (usize, Duration),
        (zone, offset_hours): (&'static str, i64),
    ) -> Arc<Self> {
        Arc::new(Self {
            zone,
            offset_hours,
            truth: Mutex::new(truth),
            faults: Mutex::default(),
            stats: Mutex::default(),
            valid_tokens: Mutex::default(),
            issued: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            limit,
            arrivals: Mutex::default(),
            rotation: Mutex::default(),
        })
    }

    pub fn push(&self, f: Fault) {
        self.faults.lock().unwrap().push_back(f);
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap().clone()
    }

    /// Admits a request: counts it, applies the next fault, enforces the limit.
    pub fn enter(self: &Arc<Self>) -> Gate {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let guard = InFlight(Arc::clone(self));
        {
            let mut s = self.stats.lock().unwrap();
            s.max_in_flight = s.max_in_flight.max(n);
        }
        if let Some(f) = self.faults.lock().unwrap().pop_front() {
            if let Fault::ExpireToken = f {
                self.valid_tokens.lock().unwrap().clear();
            } else {
                if let Fault::Throttle(_) = f {
                    self.stats.lock().unwrap().throttled_on_request += 1;
                }
                return Gate::Fault(f, guard);
            }
        }
        let now = Instant::now();
        let mut a = self.arrivals.lock().unwrap();
        while a
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.limit.1)
        {
            a.pop_front();
        }
        if a.len() >= self.limit.0 {
            self.stats.lock().unwrap().throttled_over_limit += 1;
            return Gate::OverLimit(guard);
        }
        a.push_back(now);
        Gate::Serve(guard)
    }

    pub fn record(&self, path: &str, status: u16) {
        self.stats
            .lock()
            .unwrap()
            .requests
            .push((Instant::now(), path.to_string(), status));
    }

    /// Whether `Authorization: Bearer …` (or `header`) carries a live token.
    pub fn authorized(&self, headers: &HeaderMap, header: &str) -> bool {
        let v = headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = v.strip_prefix("Bearer ").unwrap_or(v);
        self.valid_tokens.lock().unwrap().contains(token)
    }

    /// Makes `token` valid (for platforms with long-lived tokens).
    pub fn grant(&self, token: &str) {
        self.valid_tokens.lock().unwrap().insert(token.to_string());
    }

    /// Sets how refresh tokens rotate.
    pub fn set_rotation(&self, rotate: bool, only_newest: bool) {
        let mut r = self.rotation.lock().unwrap();
        r.rotate = rotate;
        r.only_newest = only_newest;
    }

    /// The refresh tokens issued so far and the newest.
    pub fn rotation(&self) -> Rotation {
        self.rotation.lock().unwrap().clone()
    }

    /// The refresh-token grant with rotation: `Some((access token, new refresh token))`.
    pub fn refresh_rotating(
        &self,
        headers: &HeaderMap,
        form: &str,
        basic: bool,
    ) -> Option<(String, Option<String>)> {
        let accept = {
            let r = self.rotation.lock().unwrap();
            let newest = r.newest.clone();
            let configured = !(r.only_newest && r.newest.is_some());
            move |t: &str| newest.as_deref() == Some(t) || (configured && t == REFRESH_TOKEN)
        };
        let access = self.refresh_with(headers, form, basic, accept)?;
        let mut r = self.rotation.lock().unwrap();
        let new = r.rotate.then(|| {
            r.issued += 1;
            let t = format!("rotated-refresh-{}-SENSITIVE", r.issued);
            r.newest = Some(t.clone());
            t
        });
        Some((access, new))
    }

    /// The OAuth 2 refresh-token grant: `Some(access token)` for the right client and refresh
    /// token, given in the form body or (when `basic`) as HTTP Basic.
    pub fn refresh(&self, headers: &HeaderMap, form: &str, basic: bool) -> Option<String> {
        self.refresh_with(headers, form, basic, |t| t == REFRESH_TOKEN)
    }

    fn refresh_with(
        &self,
        headers: &HeaderMap,
        form: &str,
        basic: bool,
        accept: impl Fn(&str) -> bool,
    ) -> Option<String> {
        self.stats.lock().unwrap().token_requests += 1;
        let f: Vec<(String, String)> = url_decode_form(form);
        let get = |k: &str| f.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        let (id, secret) = if basic {
            use base64::Engine;
            let h = headers
                .get("authorization")?
                .to_str()
                .ok()?
                .strip_prefix("Basic ")?;
            let raw = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(h).ok()?)
                .ok()?;
            let (a, b) = raw.split_once(':')?;
            (a.to_string(), b.to_string())
        } else {
            (
                get("client_id")?.to_string(),
                get("client_secret")?.to_string(),
            )
        };
        if get("grant_type") != Some("refresh_token")
            || !get("refresh_token").is_some_and(&accept)
            || id != CLIENT_ID
            || secret != CLIENT_SECRET
        {
            return None;
        }
        let token = format!("access-{}", self.issued.fetch_add(1, Ordering::SeqCst) + 1);
        self.grant(&token);
        Some(token)
    }
}

/// Decodes `application/x-www-form-urlencoded` (or a query string).
pub fn url_decode_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |x: &str| {
                percent_encoding::percent_decode_str(&x.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// The token endpoint answer with a rotated refresh token, when there is one.
pub fn token_response_rotating(got: Option<(String, Option<String>)>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match got {
        Some((t, Some(r))) => axum::Json(
            serde_json::json!({"access_token": t, "token_type": "Bearer", "expires_in": 3600, "refresh_token": r}),
        )
        .into_response(),
        Some((t, None)) => token_response(Some(t)),
        None => token_response(None),
    }
}

/// The token endpoint answer.
pub fn token_response(token: Option<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match token {
        Some(t) => axum::Json(
            serde_json::json!({"access_token": t, "token_type": "Bearer", "expires_in": 3600}),
        )
        .into_response(),
        None => (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "invalid_grant"})),
        )
            .into_response(),
    }
}

/// Serves `app` on a free local port.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// Settings with the file ad source off and `[ads.<platform>]` as given (values for
/// `ATTRSYNC__ADS__<PLATFORM>__<KEY>`), plus fast polling and a limiter the fake's limit admits.
pub fn settings(platform: &str, pairs: &[(&str, String)]) -> attrsync::config::Settings {
    let p = platform.to_uppercase();
    let mut all: Vec<(String, String)> = vec![
        ("ATTRSYNC__ADS__FILE__ENABLED".into(), "false".into()),
        (format!("ATTRSYNC__ADS__{p}__ENABLED"), "true".into()),
        (format!("ATTRSYNC__ADS__{p}__POLL_INTERVAL"), "20ms".into()),
        (
            format!("ATTRSYNC__ADS__{p}__RATE_LIMIT__PER_MINUTE"),
            "1200".into(),
        ),
        (format!("ATTRSYNC__ADS__{p}__MAX_ATTEMPTS"), "6".into()),
    ];
    for (k, v) in pairs {
        all.push((
            format!("ATTRSYNC__ADS__{p}__{}", k.to_uppercase()),
            v.clone(),
        ));
    }
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    crate::support::settings(&refs)
}

/// The one configured ad source.
pub fn source(settings: &attrsync::config::Settings) -> attrsync::ads::AnyAdSource {
    let mut s = attrsync::ads::sources(
        &attrsync::ads::AdsConfig::from_settings(&settings.ads).expect("[ads]"),
        None,
    )
    .expect("ad sources build");
    assert_eq!(s.len(), 1, "one account configured");
    s.remove(0)
}

/// Rows as comparable tuples, sorted.
pub fn tuples(
    rows: &[attrsync::domain::ad_metric::AdMetricRow],
) -> Vec<(String, Date, i64, i64, i64, i64)> {
    let mut v: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.campaign_id.clone(),
                r.date,
                r.spend_micros,
                r.impressions,
                r.clicks,
                r.platform_conversions.round() as i64,
            )
        })
        .collect();
    v.sort();
    v
}

/// The truth in the same shape, for `[from, to]`.
pub fn expected(truth: &[Day], from: Date, to: Date) -> Vec<(String, Date, i64, i64, i64, i64)> {
    let mut v: Vec<_> = truth
        .iter()
        .filter(|d| d.date >= from && d.date <= to)
        .map(|d| {
            (
                d.campaign_id.clone(),
                d.date,
                d.spend_micros,
                d.impressions,
                d.clicks,
                d.conversions,
            )
        })
        .collect();
    v.sort();
    v
}

/// The smallest gap between consecutive API requests after a throttled one, and the wait asked.
pub fn gap_after(stats: &Stats, status: u16) -> Option<Duration> {
    stats
        .requests
        .windows(2)
        .filter(|w| w[0].2 == status)
        .map(|w| w[1].0.duration_since(w[0].0))
        .min()
}

/// A bare 429 with `Retry-After` in whole seconds.
pub fn retry_after(d: Duration) -> axum::response::Response {
    use axum::response::IntoResponse;
    let secs = d.as_secs().max(1).to_string();
    (
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        [("retry-after", secs)],
        "",
    )
        .into_response()
}

/// The true day behind a pulled row.
pub fn truth_of<'a>(truth: &'a [Day], r: &attrsync::domain::ad_metric::AdMetricRow) -> &'a Day {
    truth
        .iter()
        .find(|t| t.campaign_id == r.campaign_id && t.date == r.date)
        .expect("a pulled row has a true day")
}
