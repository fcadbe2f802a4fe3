//! Query jobs: standard SQL with named parameters (never spliced data), waited for until
//! complete, and their results read one page at a time so a large result never sits in memory
//! whole. Transient failures are retried per request within the connection's policy.

use std::time::Duration;

use anyhow::anyhow;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::query_parameter_type::QueryParameterType;
use gcp_bigquery_client::model::query_parameter_value::QueryParameterValue;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::query_response::QueryResponse;
use gcp_bigquery_client::model::table_row::TableRow;

use super::{classify, Connection};
use crate::domain::time::Timestamp;
use crate::http::ErrorKind;

/// How long one request waits for a job before asking again.
const WAIT_MS: i32 = 10_000;

/// A named query parameter (`@name` in the SQL).
#[derive(Debug, Clone)]
pub enum Param {
    Timestamp(&'static str, Timestamp),
    StringArray(&'static str, Vec<String>),
    /// Any scalar type by its BigQuery name, for callers that build parameters from data.
    Typed(String, String, String),
}

impl Param {
    fn wire(&self) -> QueryParameter {
        let scalar = |name: &str, kind: &str, value: String| QueryParameter {
            name: Some(name.to_string()),
            parameter_type: Some(QueryParameterType {
                r#type: kind.to_string(),
                ..Default::default()
            }),
            parameter_value: Some(QueryParameterValue {
                value: Some(value),
                ..Default::default()
            }),
        };
        match self {
            // BigQuery's TIMESTAMP literal form, microsecond precision, UTC.
            Param::Timestamp(n, t) => scalar(n, "TIMESTAMP", literal(*t)),
            Param::Typed(n, kind, v) => scalar(n, kind, v.clone()),
            Param::StringArray(n, vs) => array(n, "STRING", vs),
        }
    }
}

/// An ARRAY<kind> parameter.
fn array(name: &str, kind: &str, values: &[String]) -> QueryParameter {
    QueryParameter {
        name: Some(name.to_string()),
        parameter_type: Some(QueryParameterType {
            r#type: "ARRAY".into(),
            array_type: Some(Box::new(QueryParameterType {
                r#type: kind.into(),
                ..Default::default()
            })),
            ..Default::default()
        }),
        parameter_value: Some(QueryParameterValue {
            array_values: Some(
                values
                    .iter()
                    .map(|v| QueryParameterValue {
                        value: Some(v.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
    }
}

/// BigQuery's canonical timestamp text, `2024-01-15 10:00:00.123456` (UTC).
fn literal(t: Timestamp) -> String {
    let s = t.to_string();
    s.trim_end_matches('Z').replacen('T', " ", 1)
}

/// A failed job call: what the caller should do, and why.
pub type JobError = (ErrorKind, anyhow::Error);

/// The rows of one query, page by page.
pub struct Pages<'c> {
    conn: &'c Connection,
    page_size: u32,
    job: Option<String>,
    token: Option<String>,
    first: Option<Vec<TableRow>>,
    done: bool,
    /// Bytes BigQuery billed for the job, once it is complete.
    pub bytes_processed: Option<i64>,
}

impl Connection {
    /// Runs `sql` and returns its first response, retrying transient failures. BigQuery's errors
    /// sent with HTTP 200 (the emulator's way) are permanent.
    pub async fn query(
        &self,
        sql: &str,
        params: &[Param],
        page_size: Option<u32>,
    ) -> Result<QueryResponse, JobError> {
        let mut req = QueryRequest::new(sql);
        req.location = Some(self.location.clone());
        req.use_legacy_sql = false;
        req.max_results = page_size.map(|n| n as i32);
        req.timeout_ms = Some(WAIT_MS);
        if !params.is_empty() {
            req.parameter_mode = Some("NAMED".into());
            req.query_parameters = Some(params.iter().map(Param::wire).collect());
        }
        self.jobs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = self
            .retrying("query", || {
                self.client.job().query(&self.project, req.clone())
            })
            .await?;
        if let Some(errors) = resp.errors.as_ref().filter(|e| !e.is_empty()) {
            let msg: Vec<String> = errors
                .iter()
                .map(|e| e.message.clone().unwrap_or_default())
                .collect();
            return Err((
                ErrorKind::Permanent,
                anyhow!("BigQuery query failed: {}", msg.join("; ")),
            ));
        }
        Ok(resp)
    }

    /// Starts `sql` and reads its result `page_size` rows at a time.
    pub async fn pages(
        &self,
        sql: &str,
        params: &[Param],
        page_size: u32,
    ) -> Result<Pages<'_>, JobError> {
        let first = self.query(sql, params, Some(page_size)).await?;
        let complete = first.job_complete.unwrap_or(true);
        let job = first.job_reference.and_then(|j| j.job_id);
        if !complete && job.is_none() {
            return Err((
                ErrorKind::Permanent,
                anyhow!("BigQuery answered an unfinished query without a job id"),
            ));
        }
        Ok(Pages {
            conn: self,
            page_size,
            bytes_processed: complete
                .then(|| first.total_bytes_processed.and_then(|b| b.parse().ok()))
                .flatten(),
            job,
            token: first.page_token,
            first: complete.then(|| first.rows.unwrap_or_default()),
            done: false,
        })
    }

    async fn retrying<T, F, Fut>(&self, what: &str, call: F) -> Result<T, JobError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, gcp_bigquery_client::error::BQError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let (kind, err) = classify(e, what);
                    if kind == ErrorKind::Permanent
                        || !self.retry.may_retry(attempt)
                        || !self.retry.budget.take()
                    {
                        return Err((kind, err));
                    }
                    let wait = self.retry.delay(attempt, None);
                    tracing::warn!(error = %format!("{err:#}"), attempt, wait_secs = wait.as_secs_f64(), "BigQuery call failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

impl Pages<'_> {
    /// The next page of rows; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<TableRow>>, JobError> {
        if let Some(rows) = self.first.take() {
            self.done = self.token.is_none();
            return Ok(Some(rows));
        }
        if self.done {
            return Ok(None);
        }
        let job = self.job.clone().expect("a job id when more pages remain");
        loop {
            let params = GetQueryResultsParameters {
                page_token: self.token.clone(),
                location: Some(self.conn.location.clone()),
                max_results: Some(self.page_size as i32),
                timeout_ms: Some(WAIT_MS),
                ..Default::default()
            };
            let page = self
                .conn
                .retrying("reading query results", || {
                    self.conn.client.job().get_query_results(
                        &self.conn.project,
                        &job,
                        params.clone(),
                    )
                })
                .await?;
            if !page.job_complete.unwrap_or(true) {
                tracing::info!(job = %job, "BigQuery job still running");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            if self.bytes_processed.is_none() {
                self.bytes_processed = page.total_bytes_processed.and_then(|b| b.parse().ok());
            }
            self.token = page.page_token;
            self.done = self.token.is_none();
            return Ok(Some(page.rows.unwrap_or_default()));
        }
    }
}
