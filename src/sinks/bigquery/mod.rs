//! The BigQuery sink: creates the dataset, tables and views, migrates additively, and streams
//! rows with insertAll (`insertId` = `row_key`); analysts read the de-duplicating views. A run's
//! rows become visible only when it commits: the commit inserts one row into `runs`, and every
//! view reads only rows whose `run_id` is there. A run that failed or died after loading stays
//! invisible; its rerun's rows take its place.

pub mod auth;
mod config;
pub mod encoder;
pub mod schema;
pub mod views;
pub mod writer;

pub use config::BigQueryConfig;

use std::sync::Arc;

use anyhow::{anyhow, Context};
use gcp_bigquery_client::client_builder::ClientBuilder;
use gcp_bigquery_client::model::clustering::Clustering;
use gcp_bigquery_client::model::dataset::Dataset;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::query_response::QueryResponse;
use gcp_bigquery_client::model::table::Table as BqTable;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::model::table_schema::TableSchema;
use gcp_bigquery_client::model::time_partitioning::TimePartitioning;
use tokio::sync::Mutex;

use super::{EncodedRow, Sink, SinkError, SinkOwner, Table};
use crate::domain::ids::RunId;
use crate::http::RetryPolicy;
use auth::{AuthChoice, AuthInputs, MetadataAuthenticator, StaticToken};
use schema::{canonical, TableDef, TABLES};
use writer::{classify, Writer};

/// The sink.
#[derive(Clone)]
pub struct BigQuerySink {
    writer: Writer,
    location: String,
    prepared: Arc<Mutex<bool>>,
    pub auth: AuthChoice,
    /// `campaign_performance` converts to this currency too.
    reporting: Option<crate::domain::money::Currency>,
    /// The run store whose runs this sink commits (set by `prepare`).
    owner: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::fmt::Debug for BigQuerySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQuerySink")
            .field("dataset", &self.writer.dataset)
            .field("auth", &self.auth)
            .finish()
    }
}

fn field(c: &schema::Column) -> TableFieldSchema {
    let mut f = match c.kind {
        "STRING" => TableFieldSchema::string(c.name),
        "INTEGER" => TableFieldSchema::integer(c.name),
        "FLOAT" => TableFieldSchema::float(c.name),
        "BOOLEAN" => TableFieldSchema::bool(c.name),
        "TIMESTAMP" => TableFieldSchema::timestamp(c.name),
        "DATE" => TableFieldSchema::date(c.name),
        other => unreachable!("no column has type {other}"),
    };
    f.description = Some(c.description.to_string());
    f.mode = Some(if c.required { "REQUIRED" } else { "NULLABLE" }.to_string());
    f
}

impl BigQuerySink {
    /// Connects with the credentials chosen by [`auth::choose`].
    pub async fn connect(s: &BigQueryConfig) -> anyhow::Result<Self> {
        let project = s.project_id.clone();
        let http = crate::http::build_client(s.timeout)?;
        let inputs = AuthInputs::from_env(s.credentials_path.clone(), s.endpoint.is_some());
        let probe_http = http.clone();
        let choice = auth::choose(&inputs, |host| async move {
            auth::probe_metadata(&probe_http, &host).await
        })
        .await?;
        tracing::info!(auth = %choice.describe(), "BigQuery credentials");
        let mut builder = ClientBuilder::new();
        builder.with_client(http.clone());
        if let Some(e) = &s.endpoint {
            builder.with_v2_base_url(format!("{}/bigquery/v2", e.trim_end_matches('/')));
        }
        let client = match &choice {
            AuthChoice::ServiceAccountKey(p) => builder
                .build_from_service_account_key_file(&p.to_string_lossy())
                .await
                .with_context(|| format!("cannot use the service-account key {}", p.display()))?,
            AuthChoice::AuthorizedUser(p) => builder
                .build_from_authorized_user_authenticator(p)
                .await
                .with_context(|| {
                    format!("cannot use the authorized-user credentials {}", p.display())
                })?,
            AuthChoice::MetadataServer(host) => {
                builder
                    .build_from_authenticator(Arc::new(MetadataAuthenticator::new(http, host)))
                    .await?
            }
            AuthChoice::None => {
                builder
                    .build_from_authenticator(Arc::new(StaticToken("emulator".into())))
                    .await?
            }
        };
        Ok(Self {
            writer: Writer {
                stats: Arc::default(),
                client,
                project,
                dataset: s.dataset.clone(),
                batch_rows: s.batch_rows,
                batch_bytes: s.batch_bytes,
                in_flight: s.in_flight,
                retry: RetryPolicy::new(s.max_attempts, s.max_attempts.saturating_mul(50)),
            },
            location: s.location.clone(),
            prepared: Arc::default(),
            auth: choice,
            reporting: None,
            owner: Arc::default(),
        })
    }

    /// Also converts `campaign_performance` sums to `currency`.
    pub fn with_reporting(mut self, currency: Option<crate::domain::money::Currency>) -> Self {
        self.reporting = currency;
        self
    }

    /// Requests, rows and bytes sent so far.
    pub fn stats(&self) -> &writer::WriterStats {
        &self.writer.stats
    }

    fn client(&self) -> &gcp_bigquery_client::Client {
        &self.writer.client
    }

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

    /// The rows run `run` holds in `<table>_latest`: key and values digest (for `verify`).
    pub async fn run_keys(
        &self,
        run: RunId,
        table: Table,
    ) -> Result<Vec<(String, u64)>, SinkError> {
        use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
        use gcp_bigquery_client::model::table_row::TableRow;
        let fields = crate::domain::checksum::value_fields(table);
        let cols: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let sql = format!(
            "SELECT row_key, {} FROM {} WHERE run_id = {}",
            cols.join(", "),
            self.qualified(&format!("{}_latest", table.name())),
            run.0
        );
        let first = self.run_sql(&sql).await?;
        let keys_of = |rows: Option<Vec<TableRow>>, out: &mut Vec<(String, u64)>| {
            for r in rows.unwrap_or_default() {
                let cells: Vec<serde_json::Value> = r
                    .columns
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.value.unwrap_or(serde_json::Value::Null))
                    .collect();
                let Some(serde_json::Value::String(k)) = cells.first().cloned() else {
                    continue;
                };
                let values = crate::domain::checksum::values_of(table, |f| {
                    cols.iter()
                        .position(|c| *c == f)
                        .map(|i| cells[i + 1].clone())
                });
                out.push((k, values));
            }
        };
        let mut keys = Vec::new();
        keys_of(first.rows, &mut keys);
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
            keys_of(page.rows, &mut keys);
            token = page.page_token;
        }
        Ok(keys)
    }

    async fn ensure_dataset(&self) -> Result<(), SinkError> {
        let w = &self.writer;
        match self.client().dataset().get(&w.project, &w.dataset).await {
            Ok(_) => Ok(()),
            Err(gcp_bigquery_client::error::BQError::ResponseError { error })
                if error.error.code == 404 =>
            {
                tracing::info!(dataset = %w.dataset, location = %self.location, "creating the BigQuery dataset");
                let ds = Dataset::new(&w.project, &w.dataset).location(&self.location);
                self.client()
                    .dataset()
                    .create(ds)
                    .await
                    .map_err(|e| classify(e, "creating the dataset"))?;
                Ok(())
            }
            Err(e) => Err(classify(e, &format!("reading dataset {}", w.dataset))),
        }
    }

    async fn ensure_table(&self, def: &TableDef) -> Result<(), SinkError> {
        let w = &self.writer;
        let name = def.table.name();
        match self
            .client()
            .table()
            .get(&w.project, &w.dataset, name, None)
            .await
        {
            Ok(existing) => self.migrate(def, &existing).await,
            Err(gcp_bigquery_client::error::BQError::ResponseError { error })
                if error.error.code == 404 =>
            {
                tracing::info!(table = name, "creating the BigQuery table");
                let schema = TableSchema::new(def.columns.iter().map(field).collect());
                let t = BqTable::new(&w.project, &w.dataset, name, schema)
                    .description(def.description)
                    .time_partitioning(TimePartitioning::per_day().field(def.partition))
                    .clustering(Clustering {
                        fields: Some(def.cluster.iter().map(|c| c.to_string()).collect()),
                    });
                self.client()
                    .table()
                    .create(t)
                    .await
                    .map_err(|e| classify(e, &format!("creating table {name}")))?;
                Ok(())
            }
            Err(e) => Err(classify(e, &format!("reading table {name}"))),
        }
    }

    /// Additive only: missing columns are added (nullable); a column of another type stops
    /// start-up naming table and column.
    async fn migrate(&self, def: &TableDef, existing: &BqTable) -> Result<(), SinkError> {
        let name = def.table.name();
        let have: Vec<(String, String)> = existing
            .schema
            .fields
            .as_ref()
            .map(|f| {
                f.iter()
                    .map(|f| (f.name.clone(), format!("{:?}", f.r#type).to_uppercase()))
                    .collect()
            })
            .unwrap_or_default();
        for c in def.columns {
            match have.iter().find(|(n, _)| n == c.name) {
                Some((_, kind)) if canonical(kind) != canonical(c.kind) => {
                    return Err(SinkError::Permanent(anyhow!(
                        "table {}.{name} column {} is {kind} in BigQuery but attrsync writes {}; schema changes are \
                         additive only: rename or drop the column (or point bigquery.dataset elsewhere)",
                        self.writer.dataset,
                        c.name,
                        c.kind
                    )));
                }
                Some(_) => {}
                None => {
                    tracing::info!(
                        table = name,
                        column = c.name,
                        "adding a column (additive migration)"
                    );
                    let sql = format!(
                        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                        self.qualified(name),
                        c.name,
                        c.kind
                    );
                    self.run_sql(&sql).await?;
                }
            }
        }
        Ok(())
    }

    /// Creates `runs` when missing; rows written before it existed count as committed, so an
    /// upgrade does not hide them.
    async fn ensure_runs(&self) -> Result<(), SinkError> {
        let w = &self.writer;
        match self
            .client()
            .table()
            .get(&w.project, &w.dataset, schema::RUNS_TABLE, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(gcp_bigquery_client::error::BQError::ResponseError { error })
                if error.error.code == 404 =>
            {
                tracing::info!("creating the BigQuery table runs (commit markers)");
                let schema = TableSchema::new(schema::RUNS.iter().map(field).collect());
                let t = BqTable::new(&w.project, &w.dataset, schema::RUNS_TABLE, schema)
                    .description(
                        "One row per committed attrsync run; the views show only their rows",
                    );
                self.client()
                    .table()
                    .create(t)
                    .await
                    .map_err(|e| classify(e, "creating table runs"))?;
                let earlier: Vec<String> = TABLES
                    .iter()
                    .map(|d| {
                        format!(
                            "SELECT DISTINCT run_id FROM {}",
                            self.qualified(d.table.name())
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO {} (run_id, job, store_id, committed_at) \
                     SELECT DISTINCT run_id, 'before commit markers', 'legacy', CURRENT_TIMESTAMP() FROM ({})",
                    self.qualified(schema::RUNS_TABLE),
                    earlier.join(" UNION ALL ")
                );
                self.run_sql(&sql).await?;
                Ok(())
            }
            Err(e) => Err(classify(e, "reading table runs")),
        }
    }

    /// Refuses a dataset whose commit markers belong to another run store.
    async fn check_owner(&self, owner: &SinkOwner) -> Result<(), SinkError> {
        let sql = format!(
            "SELECT DISTINCT store_id FROM {} WHERE store_id != 'legacy' AND store_id != @store LIMIT 1",
            self.qualified(schema::RUNS_TABLE)
        );
        let resp = self
            .run_sql_with(&sql, &[("store", "STRING", owner.store_id.clone())])
            .await?;
        let other = resp
            .rows
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.columns?.into_iter().next()?.value)
            .find_map(|v| v.as_str().map(String::from));
        if let Some(other) = other {
            return Err(SinkError::Permanent(anyhow!(
                "BigQuery dataset {} holds runs of another run store ({}), but this run store is {} ({}): run ids \
                 restart with a new store and would be mistaken for those runs. Point bigquery.dataset at a new \
                 dataset, or restore the run store that wrote it",
                self.writer.dataset,
                &other[..other.len().min(8)],
                &owner.store_id[..owner.store_id.len().min(8)],
                owner.store_label
            )));
        }
        Ok(())
    }

    /// Creates or migrates everything and replaces the views; done once per process.
    pub async fn ensure(&self) -> Result<(), SinkError> {
        let mut done = self.prepared.lock().await;
        if *done {
            return Ok(());
        }
        self.ensure_dataset().await?;
        for def in &TABLES {
            self.ensure_table(def).await?;
        }
        self.ensure_runs().await?;
        for (name, sql) in
            views::statements(&self.writer.project, &self.writer.dataset, self.reporting)
        {
            self.run_sql(&sql).await.map_err(|e| match e {
                SinkError::Permanent(e) => {
                    SinkError::Permanent(e.context(format!("creating view {name}")))
                }
                t => t,
            })?;
        }
        *done = true;
        Ok(())
    }
}

impl Sink for BigQuerySink {
    async fn prepare(&self, owner: &SinkOwner) -> Result<Vec<String>, SinkError> {
        self.ensure().await?;
        let known = self.owner.lock().expect("owner lock").clone();
        if known.as_deref() != Some(owner.store_id.as_str()) {
            self.check_owner(owner).await?;
            *self.owner.lock().expect("owner lock") = Some(owner.store_id.clone());
        }
        Ok(Vec::new())
    }

    async fn write(
        &self,
        _run: RunId,
        table: Table,
        rows: Vec<EncodedRow>,
    ) -> Result<u64, SinkError> {
        self.writer
            .insert(table, &rows)
            .await
            .map(|()| rows.len() as u64)
    }

    async fn commit(&self, run: RunId, job: &str) -> Result<(), SinkError> {
        // A DML insert, not a streamed row: it can be deleted at once if the run store then
        // fails to record the run (see `discard`).
        let store = self
            .owner
            .lock()
            .expect("owner lock")
            .clone()
            .ok_or_else(|| SinkError::Permanent(anyhow!("commit before prepare")))?;
        let sql = format!(
            "INSERT INTO {} (run_id, job, store_id, committed_at) VALUES (@run, @job, @store, CURRENT_TIMESTAMP())",
            self.qualified(schema::RUNS_TABLE)
        );
        self.run_sql_with(
            &sql,
            &[
                ("run", "INT64", run.0.to_string()),
                ("job", "STRING", job.to_string()),
                ("store", "STRING", store),
            ],
        )
        .await
        .map(|_| ())
        .map_err(|e| match e {
            SinkError::Permanent(e) => SinkError::Permanent(e.context("writing the commit marker")),
            SinkError::Transient(e) => SinkError::Transient(e.context("writing the commit marker")),
        })
    }

    async fn discard(&self, run: RunId) -> Result<(), SinkError> {
        // Streamed rows cannot be deleted while in the streaming buffer; without a commit marker
        // the views never show them, and the rerun writes the same row_keys again.
        let store = self.owner.lock().expect("owner lock").clone();
        let Some(store) = store else {
            return Ok(());
        };
        let sql = format!(
            "DELETE FROM {} WHERE run_id = @run AND store_id = @store",
            self.qualified(schema::RUNS_TABLE)
        );
        self.run_sql_with(
            &sql,
            &[
                ("run", "INT64", run.0.to_string()),
                ("store", "STRING", store),
            ],
        )
        .await?;
        tracing::info!(
            run_id = run.0,
            "the unfinished run's rows stay invisible (no commit marker)"
        );
        Ok(())
    }
}
