//! Scans: keyset-paged reads of one query (or one time slice of it), several at a time, each
//! page parsed and reduced into an extract as it arrives.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::models::QueryResponse;
use super::query::{self, Queries, ScanKind};
use super::{err, Inner, PostHogError};
use crate::domain::extract::SkipReason;
use crate::domain::time::Timestamp;
use crate::sources::columns;
use crate::sources::marking::{Marking, Scanned};
use crate::sources::{ParseRules, SourceError};

/// What one keyset-paged read covers.
#[derive(Debug, Clone)]
pub(super) struct Scan {
    pub(super) label: String,
    pub(super) kind: ScanKind,
    pub(super) name: &'static str,
    pub(super) values: serde_json::Value,
}

impl Inner {
    /// Reads every page of `scan` into an extract.
    async fn read_scan(
        &self,
        scan: Scan,
        mark: Arc<Marking>,
        q: Arc<Queries>,
        rules: Arc<ParseRules>,
    ) -> Result<Scanned, SourceError> {
        let mut out = Scanned::default();
        let mut after: Option<(String, String)> = None;
        let mut page = 0u64;
        let key_index = scan.kind.key_index();
        loop {
            page += 1;
            let text = q.page(scan.kind, after.is_some(), self.page_size);
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
                    snippet: crate::redact::snippet(&body, 80),
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
                out.ex.count_read();
                let (uuid, key) = (
                    row.first().and_then(|s| s.0.clone()),
                    row.get(key_index).and_then(|s| s.0.clone()),
                );
                match columns::to_event(row, q.width()) {
                    Ok((ev, created_at)) => out.take(&mark, &ev, created_at, &rules),
                    Err(e) => {
                        out.ex.counts.skip(SkipReason::Malformed);
                        tracing::warn!(query = scan.name, page, error = %e, "skipped a malformed row");
                    }
                }
                if let (Some(uuid), Some(k)) = (uuid, key) {
                    last = Some((server_time(&k), uuid.into_owned()));
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
                return Ok(out);
            }
            match last {
                Some(l) => after = Some(l),
                None => return Ok(out),
            }
        }
    }

    /// Counts the rows of `kind` in `base`'s range and cuts it into slices of `key` time.
    pub(super) async fn slices(
        &self,
        kind: ScanKind,
        q: &Queries,
        base: &serde_json::Value,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Vec<Scan>, SourceError> {
        let body = self
            .client
            .query(query::COUNT, &q.count(kind), base, 1)
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
        let pages = count.div_ceil(self.page_size as u64).max(1);
        // Enough slices to keep every concurrency slot busy, few enough that the partial last
        // page of each costs little quota.
        let slices = pages.min(self.concurrency as u64 * 2).max(1);
        tracing::info!(key = kind.key(), from = %from, to = %to, rows = count, pages, slices, "PostHog window counted");
        let span = (to.micros() - from.micros()).max(1);
        Ok((0..slices)
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
                    kind,
                    name: query::EVENTS,
                    values: v,
                }
            })
            .collect())
    }
}

/// The server's timestamp text as a DateTime64 value (keeps its precision; accepts ISO forms).
fn server_time(t: &str) -> String {
    match Timestamp::parse(t) {
        Ok(ts) => query::ch_time(ts),
        Err(_) => t.to_string(),
    }
}

pub(super) async fn run_scans(
    inner: &Arc<Inner>,
    scans: Vec<Scan>,
    mark: &Arc<Marking>,
    q: &Arc<Queries>,
    rules: &Arc<ParseRules>,
) -> Result<Scanned, SourceError> {
    let mut set = JoinSet::new();
    let mut pending = scans.into_iter();
    let mut total = Scanned::default();
    let spawn = |set: &mut JoinSet<_>, s: Scan| {
        let (i, m, q, r) = (
            Arc::clone(inner),
            Arc::clone(mark),
            Arc::clone(q),
            Arc::clone(rules),
        );
        set.spawn(async move { i.read_scan(s, m, q, r).await }.in_current_span());
    };
    for _ in 0..inner.concurrency {
        if let Some(s) = pending.next() {
            spawn(&mut set, s);
        }
    }
    while let Some(done) = set.join_next().await {
        let got = done.map_err(|e| {
            SourceError::Permanent(anyhow::anyhow!("PostHog reader task failed: {e}"))
        })??;
        total.merge(got);
        if let Some(s) = pending.next() {
            spawn(&mut set, s);
        }
    }
    Ok(total)
}
