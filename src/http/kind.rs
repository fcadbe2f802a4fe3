//! One way to say "retry later", shared by every seam (sources, sinks, ad platforms, the run
//! store) and by the retry driver.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// What a caller must do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Network, throttling, a service that is down: a later attempt (the next run) may succeed.
    Transient,
    /// Configuration, credentials or the data must change first.
    Permanent,
}

impl ErrorKind {
    pub fn is_transient(self) -> bool {
        self == ErrorKind::Transient
    }
}

/// An error that knows its [`ErrorKind`]; every seam's error enum implements it.
pub trait Classify {
    fn kind(&self) -> ErrorKind;

    fn is_transient(&self) -> bool {
        self.kind().is_transient()
    }
}

/// How an HTTP status reads before any platform adds its own signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    /// 401: the credentials were refused (refresh an OAuth token and try once more).
    Unauthorized,
    /// 408, 429, 5xx: try again, after `Retry-After` when the server sent one.
    Retry(Option<Duration>),
    /// Any other status: the request will not succeed as it is.
    Refused,
}

/// Classifies a response status (RFC 9110 §15; `Retry-After` per §10.2.3).
pub fn classify_status(status: u16, headers: &HeaderMap) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        401 => StatusClass::Unauthorized,
        408 | 429 | 500..=599 => StatusClass::Retry(retry_after(headers)),
        _ => StatusClass::Refused,
    }
}

/// The kind of a failed response status: transient for 408, 429 and 5xx.
pub fn status_kind(status: u16) -> ErrorKind {
    match status {
        408 | 429 | 500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    }
}

/// The `Retry-After` header, when present and readable.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(super::parse_retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_once() {
        let mut h = HeaderMap::new();
        assert_eq!(classify_status(204, &h), StatusClass::Success);
        assert_eq!(classify_status(401, &h), StatusClass::Unauthorized);
        assert_eq!(classify_status(403, &h), StatusClass::Refused);
        assert_eq!(classify_status(503, &h), StatusClass::Retry(None));
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            classify_status(429, &h),
            StatusClass::Retry(Some(Duration::from_secs(7)))
        );
        assert_eq!(status_kind(504), ErrorKind::Transient);
        assert_eq!(status_kind(400), ErrorKind::Permanent);
    }
}
