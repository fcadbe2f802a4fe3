//! Statements and queries: standard SQL with named parameters, and reading back what a run
//! wrote (for `verify`).

use gcp_bigquery_client::model::query_response::QueryResponse;

use super::BigQuerySink;
use crate::bigquery::Param;
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
        self.conn
            .query(sql, &typed(params), None)
            .await
            .map_err(|(kind, e)| SinkError::of(kind, e))
    }

    /// Every row a query returns (all pages), as JSON cells: BigQuery sends values as
    /// strings (or null).
    pub async fn rows(
        &self,
        sql: &str,
        params: &[(&str, &str, String)],
    ) -> Result<Vec<Vec<serde_json::Value>>, SinkError> {
        let err = |(kind, e)| SinkError::of(kind, e);
        let mut pages = self
            .conn
            .pages(sql, &typed(params), 10_000)
            .await
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(rows) = pages.next().await.map_err(err)? {
            for r in rows {
                out.push(
                    r.columns
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| c.value.unwrap_or(serde_json::Value::Null))
                        .collect(),
                );
            }
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

fn typed(params: &[(&str, &str, String)]) -> Vec<Param> {
    params
        .iter()
        .map(|(name, kind, value)| Param::Typed(name.to_string(), kind.to_string(), value.clone()))
        .collect()
}
