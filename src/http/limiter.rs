//! Client-side rate limiting: a governor GCRA limiter for the per-minute rate, an exact
//! sliding one-hour budget (as the APIs count it), and a semaphore for requests in flight.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A documented quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_minute: u32,
    pub per_hour: u32,
    pub concurrency: u32,
}

/// Requests sent and time spent waiting, for logs and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LimiterStats {
    pub acquired: u64,
    pub waited: Duration,
}

/// The limiter of one API (and account).
pub struct RateLimiter {
    name: String,
    minute: DefaultDirectRateLimiter,
    per_hour: u32,
    hour: Mutex<VecDeque<Instant>>,
    in_flight: Arc<Semaphore>,
    stats: Mutex<LimiterStats>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name)
            .field("per_hour", &self.per_hour)
            .finish()
    }
}

/// Holds a concurrency slot until dropped.
pub struct Permit(#[allow(dead_code)] OwnedSemaphorePermit);

impl RateLimiter {
    /// Spaces requests evenly at the per-minute rate (GCRA with a burst of one, so no 60-second
    /// window ever holds more than the quota) and never lets the last hour exceed `per_hour`.
    pub fn new(name: &str, limits: Limits) -> Self {
        let per_minute = limits.per_minute.max(1);
        let period = Duration::from_secs_f64(60.0 / per_minute as f64);
        let quota = Quota::with_period(period)
            .expect("non-zero period")
            .allow_burst(NonZeroU32::MIN);
        Self {
            name: name.to_string(),
            minute: governor::RateLimiter::direct(quota),
            per_hour: limits.per_hour.max(1),
            hour: Mutex::new(VecDeque::new()),
            in_flight: Arc::new(Semaphore::new(limits.concurrency.max(1) as usize)),
            stats: Mutex::new(LimiterStats::default()),
        }
    }

    /// Waits for a concurrency slot and for the rates to allow one more request.
    pub async fn acquire(&self) -> Permit {
        let started = Instant::now();
        let permit = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .expect("semaphore never closes");
        loop {
            let wait = {
                let mut hour = self.hour.lock().expect("limiter lock");
                let now = Instant::now();
                while hour
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
                {
                    hour.pop_front();
                }
                if (hour.len() as u32) < self.per_hour {
                    None
                } else {
                    let oldest = *hour.front().expect("non-empty at the limit");
                    Some(
                        Duration::from_secs(3600).saturating_sub(now.duration_since(oldest))
                            + Duration::from_millis(5),
                    )
                }
            };
            match wait {
                Some(d) => {
                    tracing::info!(api = %self.name, wait_secs = d.as_secs_f64(), "hourly quota reached; waiting");
                    tokio::time::sleep(d).await;
                }
                None => break,
            }
        }
        self.minute.until_ready().await;
        self.hour
            .lock()
            .expect("limiter lock")
            .push_back(Instant::now());
        let waited = started.elapsed();
        let mut s = self.stats.lock().expect("stats lock");
        s.acquired += 1;
        s.waited += waited;
        drop(s);
        metrics::counter!("attrsync_http_requests_total", "api" => self.name.clone()).increment(1);
        metrics::histogram!("attrsync_rate_limiter_wait_seconds", "api" => self.name.clone())
            .record(waited.as_secs_f64());
        Permit(permit)
    }

    pub fn stats(&self) -> LimiterStats {
        *self.stats.lock().expect("stats lock")
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spaces_requests_at_the_minute_rate_and_caps_concurrency() {
        let l = Arc::new(RateLimiter::new(
            "t",
            Limits {
                per_minute: 1200,
                per_hour: 100_000,
                concurrency: 2,
            },
        ));
        let start = Instant::now();
        for _ in 0..6 {
            drop(l.acquire().await);
        }
        // 1200/min = one per 50 ms; six requests need at least five gaps.
        assert!(
            start.elapsed() >= Duration::from_millis(240),
            "{:?}",
            start.elapsed()
        );
        let a = l.acquire().await;
        let _b = l.acquire().await;
        let blocked = tokio::time::timeout(Duration::from_millis(150), l.acquire()).await;
        assert!(blocked.is_err(), "a third request must wait for a slot");
        drop(a);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), l.acquire())
                .await
                .is_ok()
        );
        assert_eq!(l.stats().acquired, 9);
    }
}
