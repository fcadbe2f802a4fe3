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

/// Retries ran out for one request: its attempt limit or the run's budget.
#[derive(Debug, Clone)]
pub struct GaveUp {
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last: String,
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gave up after {} attempts: {}", self.attempts, self.last)
    }
}

/// The retry driver every client uses: it counts one request's attempts and, after each that
/// failed in a way worth retrying, decides whether another is allowed, logs it and waits.
/// Clients keep deciding what a response means (with [`super::classify_status`] and their
/// platform's own throttle signals); when to try again is decided here only.
#[derive(Debug)]
pub struct Attempts<'a> {
    policy: &'a RetryPolicy,
    api: &'a str,
    what: &'a str,
    n: u32,
}

impl RetryPolicy {
    /// Starts counting the attempts of one request to `api` (`what` names it in logs).
    pub fn attempts<'a>(&'a self, api: &'a str, what: &'a str) -> Attempts<'a> {
        Attempts {
            policy: self,
            api,
            what,
            n: 0,
        }
    }
}

impl Attempts<'_> {
    /// Starts the next attempt; returns its number, from 1.
    pub fn begin(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    /// Attempts made so far.
    pub fn made(&self) -> u32 {
        self.n
    }

    /// After an attempt that failed for now (`why`): waits (as `after` says, when the server
    /// said) and returns `Ok` for another attempt, or [`GaveUp`] when none is allowed.
    pub async fn wait(&mut self, after: Option<Duration>, why: String) -> Result<(), GaveUp> {
        if !self.policy.may_retry(self.n) {
            return Err(GaveUp {
                attempts: self.n,
                last: why,
            });
        }
        let delay = self.policy.delay(self.n, after);
        tracing::warn!(api = self.api, what = self.what, attempt = self.n, wait_secs = delay.as_secs_f64(), reason = %why, "retrying");
        tokio::time::sleep(delay).await;
        Ok(())
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

    #[tokio::test(start_paused = true)]
    async fn the_driver_waits_as_told_and_gives_up_with_the_last_reason() {
        let p = RetryPolicy::new(3, 10);
        let mut a = p.attempts("api", "a request");
        assert_eq!(a.begin(), 1);
        let t = tokio::time::Instant::now();
        a.wait(Some(Duration::from_secs(4)), "HTTP 429".into())
            .await
            .unwrap();
        assert_eq!(t.elapsed(), Duration::from_secs(4));
        a.begin();
        a.wait(None, "HTTP 503".into()).await.unwrap();
        a.begin();
        let gave_up = a.wait(None, "HTTP 502".into()).await.unwrap_err();
        assert_eq!(gave_up.to_string(), "gave up after 3 attempts: HTTP 502");
        assert_eq!(p.budget.left(), 8);
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
