//! The one HTTP stack every API client uses: a client builder, a rate limiter per API and
//! account, and a retry policy with jittered exponential backoff and a bounded budget.

pub mod client;
pub mod limiter;
pub mod oauth;
pub mod oauth1;
pub mod retry;

pub use client::build_client;
pub use limiter::{Limits, RateLimiter};
pub use retry::{parse_retry_after, RetryBudget, RetryPolicy};
