//! Statements and queries: standard SQL with named parameters, and reading back what a run
//! wrote (for `verify`).

use anyhow::anyhow;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::query_response::QueryResponse;

use super::writer::classify;
use super::BigQuerySink;
use crate::domain::ids::RunId;
use crate::sinks::{SinkError, Table};

impl BigQuerySink {
    /// `project.dataset.name`, backquoted.
    pub fn qualified(&self, name: &str) -> String {
        format!("`{}.{}.{}`", self.writer.project, self.writer.dataset, name)
    }

    /// Runs a standard-SQL statement and fails on the errors BigQuery (or the emulator) returns
    /// with HTTP 200.
    pub async fn run_sql(&self, sql: &str) -> Result<QueryResponse, SinkError> {
        self.run_sql_with(sql, &[]).await
    }

    /// Runs a statement with named parameters (`@name`), each (name, BigQuery type, value).
    pub async fn run_sql_with(
        &self,
        sql: &str,
        params: &[(&str, &str, String)],
    ) -> Result<QueryResponse, SinkError> {
        use gcp_bigquery_client::model::query_parameter::QueryParameter;
        use gcp_bigquery_client::model::query_parameter_type::QueryParameterType;
        use gcp_bigquery_client::model::query_parameter_value::QueryParameterValue;
        let mut req = QueryRequest::new(sql);
        req.location = Some(self.location.clone());
        req.use_legacy_sql = false;
        if !params.is_empty() {
            req.parameter_mode = Some("NAMED".into());
            req.query_parameters = Some(
                params
                    .iter()
                    .map(|(name, kind, value)| QueryParameter {
                        name: Some(name.to_string()),
                        parameter_type: Some(QueryParameterType {
                            r#type: kind.to_string(),
                            ..Default::default()
                        }),
                        parameter_value: Some(QueryParameterValue {
                            value: Some(value.clone()),
                            ..Default::default()
                        }),
                    })
                    .collect(),
            );
        }
        let resp = self
            .client()
            .job()
            .query(&self.writer.project, req)
            .await
            .map_err(|e| classify(e, "query"))?;
        if let Some(errors) = resp.errors.as_ref().filter(|e| !e.is_empty()) {
            let msg: Vec<String> = errors
                .iter()
                .map(|e| e.message.clone().unwrap_or_default())
                .collect();
            return Err(SinkError::Permanent(anyhow!(
                "BigQuery query failed: {}",
                msg.join("; ")
            )));
        }
        Ok(resp)
    }

    /// Every row a query returns (all pages), as JSON cells: BigQuery sends values as
    /// strings (or null).
    pub async fn rows(
        &self,
        sql: &str,
        params: &[(&str, &str, String)],
    ) -> Result<Vec<Vec<serde_json::Value>>, SinkError> {
        use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
        use gcp_bigquery_client::model::table_row::TableRow;
        let cells = |rows: Option<Vec<TableRow>>, out: &mut Vec<Vec<serde_json::Value>>| {
            for r in rows.unwrap_or_default() {
                out.push(
                    r.columns
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| c.value.unwrap_or(serde_json::Value::Null))
                        .collect(),
                );
            }
        };
        let first = self.run_sql_with(sql, params).await?;
        let mut out = Vec::new();
        cells(first.rows, &mut out);
        let job = first.job_reference.and_then(|j| j.job_id);
        let mut token = first.page_token;
        while let (Some(t), Some(job)) = (token.take(), job.as_ref()) {
            let params = GetQueryResultsParameters {
                page_token: Some(t),
                location: Some(self.location.clone()),
                ..Default::default()
            };
            let page = self
                .client()
                .job()
                .get_query_results(&self.writer.project, job, params)
                .await
                .map_err(|e| classify(e, "reading query results"))?;
            cells(page.rows, &mut out);
            token = page.page_token;
        }
        Ok(out)
    }

    /// The rows run `run` holds in `<table>_latest`: key and values digest (for `verify`).
    pub async fn run_keys(
        &self,
        run: RunId,
        table: Table,
    ) -> Result<Vec<(String, u64)>, SinkError> {
        let fields = crate::domain::checksum::value_fields(table);
        let cols: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let sql = format!(
            "SELECT row_key, {} FROM {} WHERE run_id = {}",
            cols.join(", "),
            self.qualified(&format!("{}_latest", table.name())),
            run.0
        );
        let mut keys = Vec::new();
        for cells in self.rows(&sql, &[]).await? {
            let Some(serde_json::Value::String(k)) = cells.first().cloned() else {
                continue;
            };
            let values = crate::domain::checksum::values_of(table, |f| {
                cols.iter()
                    .position(|c| *c == f)
                    .map(|i| cells[i + 1].clone())
            });
            keys.push((k, values));
        }
        Ok(keys)
    }
}
