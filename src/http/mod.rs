//! The one HTTP stack every API client uses: a client builder, a rate limiter per API and
//! account, one classification of failures ([`ErrorKind`]) and one retry driver
//! ([`Attempts`]) with jittered exponential backoff and a bounded budget.

pub mod client;
pub mod kind;
pub mod limiter;
pub mod oauth;
pub mod oauth1;
pub mod retry;

pub use client::build_client;
pub use kind::{classify_status, retry_after, status_kind, Classify, ErrorKind, StatusClass};
pub use limiter::{Limits, RateLimiter};
pub use retry::{parse_retry_after, Attempts, GaveUp, RetryBudget, RetryPolicy};
