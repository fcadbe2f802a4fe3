//! The request loop every ad client shares: rate limit, auth (refreshed once on 401),
//! retries with backoff on throttling and server errors, and the platform's own judgement of
//! each response (throttle codes inside 200 bodies, usage headers, retired versions).

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use reqwest::header::HeaderMap;

use super::AdError;
use crate::http::oauth::{OAuth, OAuthError};
use crate::http::{classify_status, RateLimiter, RetryPolicy, StatusClass};

/// What a platform makes of a response.
#[derive(Debug)]
pub enum Verdict {
    Done,
    /// Throttled or failing for now: wait (this long, if the platform said) and try again.
    Retry(Option<Duration>, String),
    /// The access token was refused: refresh it and try again (once).
    Refresh,
    /// Will not work until someone changes something.
    Fail(String),
    /// Throttled for longer than a run should wait (a daily quota): fail the run as transient.
    Defer(String),
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, AdError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let head = crate::redact::snippet(&self.body, 120);
            AdError::Permanent(anyhow!(
                "{what}: the response is not what the API documents ({e}); it begins {head:?}"
            ))
        })
    }
}

/// The default judgement ([`classify_status`]): 2xx done, 401 refresh, 429/5xx/408 retry
/// (Retry-After honoured), other 4xx fail.
pub fn http_verdict(r: &Reply) -> Verdict {
    match classify_status(r.status, &r.headers) {
        StatusClass::Success => Verdict::Done,
        StatusClass::Unauthorized => Verdict::Refresh,
        StatusClass::Retry(after) => Verdict::Retry(after, format!("HTTP {}", r.status)),
        StatusClass::Refused => Verdict::Fail(format!(
            "HTTP {}: {}",
            r.status,
            crate::redact::snippet(&r.body, 300)
        )),
    }
}

/// One platform account's connection.
#[derive(Clone)]
pub struct Api {
    /// `google_ads:1234567890`, for logs, metrics and errors.
    pub name: String,
    pub http: reqwest::Client,
    pub limiter: Arc<RateLimiter>,
    pub retry: RetryPolicy,
    pub oauth: Option<Arc<OAuth>>,
}

impl Api {
    /// The bearer token, when the platform uses OAuth 2.
    pub async fn bearer(&self) -> Result<Option<String>, AdError> {
        match &self.oauth {
            None => Ok(None),
            Some(o) => o
                .token()
                .await
                .map(|t| Some(t.expose().to_string()))
                .map_err(|e| match e {
                    OAuthError::Refused(_) => AdError::Permanent(anyhow!("{}: {e}", self.name)),
                    OAuthError::Unavailable(_) => AdError::Transient(anyhow!("{}: {e}", self.name)),
                }),
        }
    }

    /// Sends the request `build` makes (given the current bearer token) until `judge` is
    /// satisfied, within the attempt limit and the run's retry budget.
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client, Option<&str>) -> reqwest::RequestBuilder,
        judge: impl Fn(&Reply) -> Verdict,
    ) -> Result<Reply, AdError> {
        let mut tries = self.retry.attempts(&self.name, what);
        let mut refreshed = false;
        loop {
            tries.begin();
            let token = self.bearer().await?;
            let permit = self.limiter.acquire().await;
            let sent = build(&self.http, token.as_deref()).send().await;
            let (wait, last) = match sent {
                Err(e) => (None, format!("request failed: {}", e.without_url())),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Err(e) => (
                            None,
                            format!("reading the body failed: {}", e.without_url()),
                        ),
                        Ok(body) => {
                            let reply = Reply {
                                status,
                                headers,
                                body,
                            };
                            match judge(&reply) {
                                Verdict::Done => return Ok(reply),
                                Verdict::Fail(m) => return Err(AdError::Permanent(anyhow!("{}: {what}: {m}", self.name))),
                                Verdict::Defer(m) => return Err(AdError::Transient(anyhow!("{}: {what}: {m}", self.name))),
                                Verdict::Refresh if self.oauth.is_some() && !refreshed => {
                                    refreshed = true;
                                    tracing::info!(api = %self.name, "access token refused; refreshing it");
                                    if let Some(o) = &self.oauth {
                                        o.invalidate().await;
                                    }
                                    drop(permit);
                                    continue;
                                }
                                Verdict::Refresh => {
                                    return Err(AdError::Permanent(anyhow!(
                                        "{}: {what}: the API refused the credentials (HTTP {status}) even after a token refresh; check the [ads] credentials",
                                        self.name
                                    )))
                                }
                                Verdict::Retry(after, why) => {
                                    metrics::counter!("attrsync_http_throttled_total", "api" => self.limiter.name().to_string()).increment(1);
                                    (after, why)
                                }
                            }
                        }
                    }
                }
            };
            drop(permit);
            tries
                .wait(wait, last)
                .await
                .map_err(|g| AdError::Transient(anyhow!("{}: {what}: {g}", self.name)))?;
        }
    }
}
