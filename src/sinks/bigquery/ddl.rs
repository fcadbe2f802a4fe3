//! The dataset, tables and views: created when missing, migrated additively, views replaced
//! once per process.

use anyhow::anyhow;
use gcp_bigquery_client::model::clustering::Clustering;
use gcp_bigquery_client::model::dataset::Dataset;
use gcp_bigquery_client::model::table::Table as BqTable;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::model::table_schema::TableSchema;
use gcp_bigquery_client::model::time_partitioning::TimePartitioning;

use super::schema::{self, canonical, TableDef, TABLES};
use super::writer::classify;
use super::{views, BigQuerySink};
use crate::sinks::SinkError;

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
    async fn ensure_dataset(&self) -> Result<(), SinkError> {
        let w = &self.writer;
        match self.client().dataset().get(&w.project, &w.dataset).await {
            Ok(_) => Ok(()),
            Err(gcp_bigquery_client::error::BQError::ResponseError { error })
                if error.error.code == 404 =>
            {
                tracing::info!(dataset = %w.dataset, location = %self.conn.location, "creating the BigQuery dataset");
                let ds = Dataset::new(&w.project, &w.dataset).location(&self.conn.location);
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
