//! Retries with full-jitter exponential backoff that honour Retry-After, within a per-request
//! attempt limit and a per-run budget shared by all requests of a client.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Backoff timing and attempt limits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
    /// Retries left for the whole run.
    pub budget: RetryBudget,
}

/// Retries a run may still spend.
#[derive(Debug, Clone)]
pub struct RetryBudget(Arc<AtomicU32>);

impl RetryBudget {
    pub fn new(n: u32) -> Self {
        Self(Arc::new(AtomicU32::new(n)))
    }

    /// Takes one retry; false when none are left.
    pub fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    pub fn left(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

impl RetryPolicy {
    pub fn new(max_attempts: u32, budget: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            budget: RetryBudget::new(budget),
        }
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1): the server's Retry-After
    /// when given (capped at 15 minutes), else uniform in [0, min(max, base·2^(attempt−1))].
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(Duration::from_secs(900));
        }
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        ceiling.mul_f64(rand::random::<f64>())
    }

    /// Whether another attempt is allowed after `attempt` attempts; spends the run budget.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts && self.budget.take()
    }
}

/// Parses `Retry-After`: delay-seconds (possibly fractional) or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let now = time::OffsetDateTime::now_utc();
    Some(Duration::try_from(when - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_is_bounded_and_honours_the_server() {
        let p = RetryPolicy::new(5, 10);
        for attempt in 1..10 {
            let d = p.delay(attempt, None);
            assert!(d <= p.base.saturating_mul(1 << (attempt - 1)).min(p.max_delay));
        }
        assert_eq!(
            p.delay(3, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn attempts_and_budget_both_stop_retries() {
        let p = RetryPolicy::new(3, 2);
        assert!(p.may_retry(1));
        assert!(!p.may_retry(3), "attempt limit");
        assert!(p.may_retry(1));
        assert!(!p.may_retry(1), "run budget spent");
    }
}
