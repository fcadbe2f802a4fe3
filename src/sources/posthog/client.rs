//! Calls to PostHog's query endpoint: auth, rate limits, retries, and errors that say what to do.

use std::sync::Arc;

use super::models::{ApiError, HogQlQuery, QueryRequest};
use crate::config::secret::Secret;
use crate::http::{parse_retry_after, RateLimiter, RetryPolicy};

/// Why a query failed, and whether trying again later can help.
#[derive(Debug, thiserror::Error)]
pub enum PostHogError {
    #[error(
        "PostHog rejected the personal API key (posthog.api_key): {detail}. Create a personal API key \
         with the Query Read scope (query:read) in PostHog → Settings → Personal API keys, and set it \
         as ATTRSYNC__POSTHOG__API_KEY"
    )]
    Unauthorized { detail: String },
    #[error(
        "PostHog refused query '{query}' with 403: {detail}. The personal API key needs the \
         query:read scope and access to project {project} (posthog.project_id)"
    )]
    Forbidden {
        query: String,
        project: String,
        detail: String,
    },
    #[error("PostHog rejected query '{query}' (HTTP {status}): {detail}")]
    Rejected {
        query: String,
        status: u16,
        detail: String,
    },
    #[error("query '{query}' page {page}: gave up after {attempts} attempts: {last}")]
    Exhausted {
        query: String,
        page: u64,
        attempts: u32,
        last: String,
    },
    #[error("query '{query}' page {page}: the response is not valid JSON ({error}); it begins {snippet:?}")]
    Malformed {
        query: String,
        page: u64,
        error: String,
        snippet: String,
    },
}

impl PostHogError {
    /// Retrying the run later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PostHogError::Exhausted { .. })
    }
}

/// A client for one project.
#[derive(Debug, Clone)]
pub struct PostHogClient {
    http: reqwest::Client,
    url: String,
    project: String,
    key: Secret,
    pub limiter: Arc<RateLimiter>,
    pub retry: RetryPolicy,
}

impl PostHogClient {
    pub fn new(
        http: reqwest::Client,
        host: &str,
        project: &str,
        key: Secret,
        limiter: Arc<RateLimiter>,
        retry: RetryPolicy,
    ) -> Self {
        let url = format!(
            "{}/api/projects/{}/query/",
            host.trim_end_matches('/'),
            project
        );
        Self {
            http,
            url,
            project: project.to_string(),
            key,
            limiter,
            retry,
        }
    }

    /// Runs one query and returns the raw response body, retrying throttling, server errors
    /// and timeouts within the attempt limit and the run's retry budget.
    pub async fn query(
        &self,
        name: &str,
        hogql: &str,
        values: &serde_json::Value,
        page: u64,
    ) -> Result<bytes::Bytes, PostHogError> {
        let body = QueryRequest {
            query: HogQlQuery {
                kind: "HogQLQuery",
                query: hogql,
                values,
            },
            name,
            refresh: "blocking",
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let permit = self.limiter.acquire().await;
            let sent = self
                .http
                .post(&self.url)
                .bearer_auth(self.key.expose())
                .json(&body)
                .send()
                .await;
            let (retry_after, last) = match sent {
                Err(e) => (None, describe_transport(&e)),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let header_wait = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    match resp.bytes().await {
                        Err(e) => (
                            header_wait,
                            format!("reading the body failed: {}", describe_transport(&e)),
                        ),
                        Ok(bytes) if status == 200 => return Ok(bytes),
                        Ok(bytes) => {
                            let err = ApiError::from_body(&bytes);
                            match status {
                                401 => {
                                    return Err(PostHogError::Unauthorized {
                                        detail: err.describe(),
                                    })
                                }
                                403 => {
                                    return Err(PostHogError::Forbidden {
                                        query: name.into(),
                                        project: self.project.clone(),
                                        detail: err.describe(),
                                    })
                                }
                                429 => {
                                    metrics::counter!("attrsync_http_throttled_total", "api" => "posthog").increment(1);
                                    (
                                        header_wait.or_else(|| err.retry_hint()),
                                        format!("429 {}", err.describe()),
                                    )
                                }
                                408 | 500..=599 => {
                                    (header_wait, format!("{status} {}", err.describe()))
                                }
                                _ => {
                                    return Err(PostHogError::Rejected {
                                        query: name.into(),
                                        status,
                                        detail: err.describe(),
                                    })
                                }
                            }
                        }
                    }
                }
            };
            drop(permit);
            if !self.retry.may_retry(attempt) {
                return Err(PostHogError::Exhausted {
                    query: name.into(),
                    page,
                    attempts: attempt,
                    last,
                });
            }
            let wait = self.retry.delay(attempt, retry_after);
            tracing::warn!(query = name, page, attempt, wait_secs = wait.as_secs_f64(), reason = %last, "retrying PostHog query");
            tokio::time::sleep(wait).await;
        }
    }
}

/// A transport error without the URL's query string (no secrets are in it, but keep logs short).
fn describe_transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}
