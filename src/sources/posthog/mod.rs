//! PostHog's query API as an event source: the window since the horizon is counted, cut into
//! time slices read concurrently (each paged by (timestamp, uuid) keyset), then the converting
//! persons' earlier touches are fetched over the lookback window, batched by person.

mod client;
mod models;
mod query;
mod rows;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{ParseRules, ReadRequest, Source, SourceError};
use crate::config::PostHogSettings;
use crate::domain::extract::{Extract, SkipReason};
use crate::domain::time::{Timestamp, MICROS_PER_DAY};
use crate::http::{build_client, Limits, RateLimiter, RetryPolicy};
pub use client::{PostHogClient, PostHogError};
use models::QueryResponse;
pub use query::Queries;

/// The PostHog source.
#[derive(Debug, Clone)]
pub struct PostHogSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: PostHogClient,
    project: String,
    page_size: u32,
    overlap_micros: i64,
    initial_days: u32,
    persons_per_query: usize,
    concurrency: usize,
    touch_events: Vec<String>,
}

impl PostHogSource {
    /// Builds the client from `[posthog]`; `api_key` is the resolved secret.
    pub fn new(
        s: &PostHogSettings,
        api_key: crate::config::secret::Secret,
    ) -> anyhow::Result<Self> {
        let project = s
            .project_id
            .clone()
            .context("posthog.project_id is required")?;
        let limits = Limits {
            per_minute: s.rate_limit.per_minute,
            per_hour: s.rate_limit.per_hour,
            concurrency: s.rate_limit.concurrency,
        };
        let limiter = Arc::new(RateLimiter::new("posthog", limits));
        let client = PostHogClient::new(
            build_client(s.timeout)?,
            &s.host,
            &project,
            api_key,
            limiter,
            RetryPolicy::new(s.max_attempts, s.retry_budget),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                project,
                page_size: s.page_size,
                overlap_micros: s.overlap.as_micros() as i64,
                initial_days: s.initial_days,
                persons_per_query: s.persons_per_query.max(1) as usize,
                concurrency: s.rate_limit.concurrency.max(1) as usize,
                touch_events: s.touch_events.clone(),
            }),
        })
    }

    /// Runs `SELECT 1` to prove the host answers and the key may query the project.
    pub async fn check(&self) -> Result<(), PostHogError> {
        let body = self
            .inner
            .client
            .query(query::CHECK, "SELECT 1", &json!({}), 1)
            .await?;
        serde_json::from_slice::<QueryResponse<'_>>(&body)
            .map(|_| ())
            .map_err(|e| PostHogError::Malformed {
                query: query::CHECK.into(),
                page: 1,
                error: e.to_string(),
                snippet: String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
            })
    }
}

fn err(e: PostHogError) -> SourceError {
    if e.is_transient() {
        SourceError::Transient(anyhow::Error::new(e))
    } else {
        SourceError::Permanent(anyhow::Error::new(e))
    }
}

/// What one keyset-paged read covers.
#[derive(Debug, Clone)]
struct Scan {
    label: String,
    name: &'static str,
    values: serde_json::Value,
    persons: bool,
}

impl Inner {
    /// Reads every page of `scan` into an extract.
    async fn read_scan(
        &self,
        scan: Scan,
        q: Arc<Queries>,
        rules: Arc<ParseRules>,
    ) -> Result<Extract, SourceError> {
        let mut ex = Extract::default();
        let mut after: Option<(String, String)> = None;
        let mut page = 0u64;
        loop {
            page += 1;
            let text = if scan.persons {
                q.journeys_page(after.is_some(), self.page_size)
            } else {
                q.events_page(after.is_some(), self.page_size)
            };
            let mut values = scan.values.clone();
            if let Some((ts, uuid)) = &after {
                values["after_ts"] = json!(ts);
                values["after_uuid"] = json!(uuid);
            }
            let started = Instant::now();
            let body = self
                .client
                .query(scan.name, &text, &values, page)
                .await
                .map_err(err)?;
            let resp: QueryResponse<'_> = serde_json::from_slice(&body).map_err(|e| {
                err(PostHogError::Malformed {
                    query: scan.name.into(),
                    page,
                    error: e.to_string(),
                    snippet: String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
                })
            })?;
            if let Some(e) = resp.error.filter(|e| !e.is_empty()) {
                return Err(err(PostHogError::Rejected {
                    query: scan.name.into(),
                    status: 200,
                    detail: e,
                }));
            }
            if !resp.columns.is_empty() && resp.columns.len() != q.width() {
                let detail = format!(
                    "{} columns came back, {} were selected",
                    resp.columns.len(),
                    q.width()
                );
                return Err(err(PostHogError::Rejected {
                    query: scan.name.into(),
                    status: 200,
                    detail,
                }));
            }
            let n = resp.results.len();
            let mut last: Option<(String, String)> = None;
            for row in resp.results {
                ex.count_read();
                let (uuid, ts) = (
                    row.first().and_then(|s| s.0.clone()),
                    row.get(2).and_then(|s| s.0.clone()),
                );
                match rows::to_event(row, q.width()) {
                    Ok(ev) => {
                        if let Err(e) = ex.absorb(&ev, &rules.extract) {
                            tracing::warn!(event = %ev.uuid, error = %e, "skipped a conversion with a bad value");
                        }
                    }
                    Err(e) => {
                        ex.counts.skip(SkipReason::Malformed);
                        tracing::warn!(query = scan.name, page, error = %e, "skipped a malformed row");
                    }
                }
                if let (Some(uuid), Some(ts)) = (uuid, ts) {
                    last = Some((server_time(&ts), uuid.into_owned()));
                }
            }
            tracing::info!(
                scan = %scan.label,
                page,
                rows = n,
                secs = started.elapsed().as_secs_f64(),
                after = last.as_ref().map(|l| l.0.as_str()).unwrap_or("-"),
                "read PostHog page"
            );
            if n < self.page_size as usize {
                return Ok(ex);
            }
            match last {
                Some(l) => after = Some(l),
                None => return Ok(ex),
            }
        }
    }
}

/// The server's timestamp text as a DateTime64 value (keeps its precision; accepts ISO forms).
fn server_time(t: &str) -> String {
    match Timestamp::parse(t) {
        Ok(ts) => query::ch_time(ts),
        Err(_) => t.to_string(),
    }
}

async fn run_scans(
    inner: &Arc<Inner>,
    scans: Vec<Scan>,
    q: &Arc<Queries>,
    rules: &Arc<ParseRules>,
) -> Result<Extract, SourceError> {
    let mut set = JoinSet::new();
    let mut pending = scans.into_iter();
    let mut total = Extract::default();
    for _ in 0..inner.concurrency {
        if let Some(s) = pending.next() {
            let (i, q, r) = (Arc::clone(inner), Arc::clone(q), Arc::clone(rules));
            set.spawn(async move { i.read_scan(s, q, r).await }.in_current_span());
        }
    }
    while let Some(done) = set.join_next().await {
        let ex = done.map_err(|e| {
            SourceError::Permanent(anyhow::anyhow!("PostHog reader task failed: {e}"))
        })??;
        total.merge(ex);
        if let Some(s) = pending.next() {
            let (i, q, r) = (Arc::clone(inner), Arc::clone(q), Arc::clone(rules));
            set.spawn(async move { i.read_scan(s, q, r).await }.in_current_span());
        }
    }
    Ok(total)
}

impl Source for PostHogSource {
    fn job(&self) -> String {
        format!("posthog:{}", self.inner.project)
    }

    fn overlap_micros(&self) -> i64 {
        self.inner.overlap_micros
    }

    async fn extract(&self, req: &ReadRequest, rules: &ParseRules) -> Result<Extract, SourceError> {
        let inner = &self.inner;
        let to = req.until.unwrap_or_else(Timestamp::now);
        let from = req
            .from
            .unwrap_or_else(|| to.add_micros(-(inner.initial_days as i64) * MICROS_PER_DAY));
        let conversion_events: Vec<String> = rules
            .extract
            .conversions
            .defs
            .iter()
            .map(|d| d.event.clone())
            .collect();
        let q = Arc::new(Queries::new(
            &conversion_events,
            &inner.touch_events,
            &rules.slots,
        ));
        let rules = Arc::new(rules.clone());
        let base =
            json!({"from": query::ch_time(from), "to": query::ch_time(to), "events": q.events});

        let body = inner
            .client
            .query(query::COUNT, &q.count(), &base, 1)
            .await
            .map_err(err)?;
        let resp: QueryResponse<'_> = serde_json::from_slice(&body).map_err(|e| {
            err(PostHogError::Malformed {
                query: query::COUNT.into(),
                page: 1,
                error: e.to_string(),
                snippet: String::new(),
            })
        })?;
        let count: u64 = resp
            .results
            .first()
            .and_then(|r| r.first())
            .and_then(|c| c.0.as_deref())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let pages = count.div_ceil(inner.page_size as u64).max(1);
        // Enough slices to keep every concurrency slot busy, few enough that the partial last
        // page of each costs little quota.
        let slices = pages.min(inner.concurrency as u64 * 2).max(1);
        tracing::info!(from = %from, to = %to, rows = count, pages, slices, "PostHog window counted");
        let span = (to.micros() - from.micros()).max(1);
        let scans: Vec<Scan> = (0..slices)
            .map(|k| {
                let a = from.add_micros(span * k as i64 / slices as i64);
                let b = if k + 1 == slices {
                    to
                } else {
                    from.add_micros(span * (k as i64 + 1) / slices as i64)
                };
                let mut v = base.clone();
                v["from"] = json!(query::ch_time(a));
                v["to"] = json!(query::ch_time(b));
                Scan {
                    label: format!("slice {}/{slices}", k + 1),
                    name: query::EVENTS,
                    values: v,
                    persons: false,
                }
            })
            .collect();
        let mut ex = run_scans(&self.inner, scans, &q, &rules).await?;

        // Journeys of the persons who converted: their touches before the window.
        let mut persons: Vec<(String, bool)> = ex
            .conversions
            .iter()
            .filter(|c| c.timestamp >= from)
            .map(|c| match ex.person_ids.get(&c.distinct_id) {
                Some(p) => (p.to_string(), true),
                None => (c.distinct_id.to_string(), false),
            })
            .collect();
        persons.sort();
        persons.dedup();
        let earliest = ex
            .conversions
            .iter()
            .filter(|c| c.timestamp >= from)
            .map(|c| c.timestamp)
            .min();
        if let Some(first_conv) = earliest {
            let start = first_conv.add_micros(-req.lookback_micros - req.training_micros);
            if start < from {
                let scans: Vec<Scan> = persons
                    .chunks(inner.persons_per_query)
                    .enumerate()
                    .map(|(i, batch)| {
                        let mut v = base.clone();
                        v["from"] = json!(query::ch_time(start));
                        v["to"] = json!(query::ch_time(from));
                        v["person_ids"] = json!(batch
                            .iter()
                            .filter(|p| p.1)
                            .map(|p| &p.0)
                            .collect::<Vec<_>>());
                        v["distinct_ids"] = json!(batch
                            .iter()
                            .filter(|p| !p.1)
                            .map(|p| &p.0)
                            .collect::<Vec<_>>());
                        Scan {
                            label: format!("journeys batch {}", i + 1),
                            name: query::JOURNEYS,
                            values: v,
                            persons: true,
                        }
                    })
                    .collect();
                tracing::info!(persons = persons.len(), batches = scans.len(), since = %start, "reading journeys of converting persons");
                let history = run_scans(&self.inner, scans, &q, &rules).await?;
                ex.merge(history);
            }
        }
        ex.read_from = Some(from);
        ex.read_until = Some(to);
        let stats = inner.client.limiter.stats();
        tracing::info!(
            requests = stats.acquired,
            rate_limit_wait_secs = stats.waited.as_secs_f64(),
            retries_left = inner.client.retry.budget.left(),
            "PostHog extract done"
        );
        Ok(ex)
    }
}
