//! PostHog's query API as an event source, read incrementally by ingestion time: each run
//! takes the events PostHog ingested (`created_at`) since the committed horizon, up to now minus
//! a settle delay, stamped no earlier than `max_lateness` before it (so ClickHouse still prunes
//! by its timestamp sort key). Late events (a phone that was offline) arrive in the run that
//! sees them ingested. The window is counted, cut into slices read concurrently (each paged by
//! (created_at, uuid) keyset), then the converting persons' earlier touches are fetched over
//! the lookback window, batched by person. A backfill day reads by event time instead.

mod client;
mod config;
mod models;
mod query;
mod scan;

use std::sync::Arc;

use serde_json::json;

use super::horizon::Horizon;
use super::{ParseRules, ReadRequest, Source, SourceError};
use crate::domain::extract::Extract;
use crate::domain::time::MICROS_PER_DAY;
use crate::http::Classify;
use crate::http::{build_client, RateLimiter, RetryPolicy};
use crate::sources::marking::{Converting, Marking, Scanned};
pub use client::{PostHogClient, PostHogError};
pub use config::PostHogConfig;
use models::QueryResponse;
pub use query::{Queries, ScanKind};
use scan::{run_scans, Scan};

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
    settle_micros: i64,
    max_lateness_micros: i64,
    initial_days: u32,
    persons_per_query: usize,
    concurrency: usize,
    touch_events: Vec<String>,
}

impl PostHogSource {
    /// Builds the client from validated `[posthog]` settings.
    pub fn new(c: &PostHogConfig) -> anyhow::Result<Self> {
        let limiter = Arc::new(RateLimiter::new("posthog", c.limits));
        let client = PostHogClient::new(
            build_client(c.timeout)?,
            &c.host,
            &c.project_id,
            c.api_key.clone(),
            limiter,
            RetryPolicy::new(c.max_attempts, c.retry_budget),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                project: c.project_id.clone(),
                page_size: c.page_size,
                overlap_micros: c.overlap.as_micros() as i64,
                settle_micros: c.settle.as_micros() as i64,
                max_lateness_micros: c.max_lateness.as_micros() as i64,
                initial_days: c.initial_days,
                persons_per_query: c.persons_per_query,
                concurrency: c.limits.concurrency as usize,
                touch_events: c.touch_events.clone(),
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
                snippet: crate::redact::snippet(&body, 80),
            })
    }
}

fn err(e: PostHogError) -> SourceError {
    SourceError::of(e.kind(), anyhow::Error::new(e))
}

impl Source for PostHogSource {
    fn job(&self) -> String {
        format!("posthog:{}", self.inner.project)
    }

    async fn extract(&self, req: &ReadRequest, rules: &ParseRules) -> Result<Extract, SourceError> {
        let inner = &self.inner;
        let latest = req.latest_allowed();
        let conversion_events = rules.conversion_events();
        let q = Arc::new(Queries::new(
            &conversion_events,
            &inner.touch_events,
            &rules.slots,
        ));
        let rules = Arc::new(rules.clone());
        let base = json!({"events": q.events});

        // The new events: a backfill day by event time, else by ingestion time.
        let (scans, mark, horizon, range) = match req.window {
            Some((from, to)) => {
                let mut b = base.clone();
                b["from"] = json!(query::ch_time(from));
                b["to"] = json!(query::ch_time(to));
                let scans = inner.slices(ScanKind::Stamped, &q, &b, (from, to)).await?;
                let mark = Marking::day(latest);
                (scans, mark, None, (from, to))
            }
            None => {
                let stored = match &req.cursor {
                    Some(text) => Horizon::parse(text).map_err(SourceError::Permanent)?,
                    None => Horizon::default(),
                };
                let to = req.now.add_micros(-inner.settle_micros);
                let from = stored.from.unwrap_or_else(|| {
                    to.add_micros(-(inner.initial_days as i64) * MICROS_PER_DAY)
                });
                let to = to.max(from);
                let next_from = to.add_micros(-inner.overlap_micros).max(from);
                let mut b = base.clone();
                b["from"] = json!(query::ch_time(from));
                b["to"] = json!(query::ch_time(to));
                b["min_ts"] = json!(query::ch_time(from.add_micros(-inner.max_lateness_micros)));
                let scans = inner.slices(ScanKind::Ingested, &q, &b, (from, to)).await?;
                let mark = Marking {
                    fresh: true,
                    tail: Arc::new(stored.tail.clone()),
                    next_from: Some(next_from),
                    latest,
                    late_after_micros: inner.overlap_micros,
                };
                (scans, mark, Some(next_from), (from, to))
            }
        };
        let mark = Arc::new(mark);
        let Scanned { mut ex, tail } = run_scans(&self.inner, scans, &mark, &q, &rules).await?;

        // Journeys of the persons with new conversions: their touches before the window.
        let Converting { persons, span } = Converting::of(&ex);
        if let Some((first_conv, last_conv)) = span {
            let start = first_conv.add_micros(-req.lookback_micros - req.training_micros);
            // Backfill: history before the day (the day itself was read whole). Incremental:
            // what PostHog had ingested before this window, up to the last new conversion.
            let (until, ingested_before) = match req.window {
                Some((from, _)) => (from, latest.add_micros(1)),
                None => (last_conv.add_micros(1), range.0),
            };
            if start < until {
                let scans: Vec<Scan> = persons
                    .chunks(inner.persons_per_query)
                    .enumerate()
                    .map(|(i, batch)| {
                        let mut v = base.clone();
                        v["from"] = json!(query::ch_time(start));
                        v["to"] = json!(query::ch_time(until));
                        v["ingested_before"] = json!(query::ch_time(ingested_before));
                        v["person_ids"] = json!(Converting::ids(batch, true));
                        v["distinct_ids"] = json!(Converting::ids(batch, false));
                        Scan {
                            label: format!("journeys batch {}", i + 1),
                            kind: ScanKind::Journeys,
                            name: query::JOURNEYS,
                            values: v,
                        }
                    })
                    .collect();
                tracing::info!(persons = persons.len(), batches = scans.len(), since = %start, "reading journeys of converting persons");
                let history_mark = Arc::new(Marking::history(latest));
                let history = run_scans(&self.inner, scans, &history_mark, &q, &rules).await?;
                ex.merge(history.ex);
            }
        }
        ex.read_from = Some(range.0);
        ex.read_until = Some(range.1);
        if let Some(next_from) = horizon {
            let next = Horizon {
                from: Some(next_from),
                tail: tail.into_iter().collect(),
            };
            ex.cursor_label = Some(format!("ingested through {}", range.1));
            ex.next_cursor = Some(next.to_text());
        }
        let stats = inner.client.limiter.stats();
        tracing::info!(
            requests = stats.acquired,
            rate_limit_wait_secs = stats.waited.as_secs_f64(),
            retries_left = inner.client.retry.budget.left(),
            late_events = ex.counts.late_events,
            "PostHog extract done"
        );
        Ok(ex)
    }
}
