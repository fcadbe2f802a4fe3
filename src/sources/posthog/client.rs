//! Calls to PostHog's query endpoint: auth, rate limits, retries, and errors that say what to do.

use std::sync::Arc;

use super::models::{ApiError, HogQlQuery, QueryRequest};
use crate::config::secret::Secret;
use crate::http::{classify_status, Classify, ErrorKind, RateLimiter, RetryPolicy, StatusClass};

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

impl Classify for PostHogError {
    /// Only running out of retries is worth a later run; the rest needs a person.
    fn kind(&self) -> ErrorKind {
        match self {
            PostHogError::Exhausted { .. } => ErrorKind::Transient,
            _ => ErrorKind::Permanent,
        }
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
        let mut tries = self.retry.attempts("posthog", name);
        loop {
            tries.begin();
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
                    let class = classify_status(status, resp.headers());
                    match (resp.bytes().await, class) {
                        (Err(e), class) => (
                            match class {
                                StatusClass::Retry(after) => after,
                                _ => None,
                            },
                            format!("reading the body failed: {}", describe_transport(&e)),
                        ),
                        (Ok(bytes), StatusClass::Success) => return Ok(bytes),
                        (Ok(bytes), class) => {
                            let err = ApiError::from_body(&bytes);
                            match class {
                                StatusClass::Unauthorized => {
                                    return Err(PostHogError::Unauthorized {
                                        detail: err.describe(),
                                    })
                                }
                                StatusClass::Refused if status == 403 => {
                                    return Err(PostHogError::Forbidden {
                                        query: name.into(),
                                        project: self.project.clone(),
                                        detail: err.describe(),
                                    })
                                }
                                // PostHog also says how long to wait in the body of a 429.
                                StatusClass::Retry(after) if status == 429 => {
                                    metrics::counter!("attrsync_http_throttled_total", "api" => "posthog").increment(1);
                                    (
                                        after.or_else(|| err.retry_hint()),
                                        format!("429 {}", err.describe()),
                                    )
                                }
                                StatusClass::Retry(after) => {
                                    (after, format!("{status} {}", err.describe()))
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
            tries
                .wait(retry_after, last)
                .await
                .map_err(|g| PostHogError::Exhausted {
                    query: name.into(),
                    page,
                    attempts: g.attempts,
                    last: g.last,
                })?;
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
