//! The BigQuery sink: creates the dataset, tables and views, migrates additively, and streams
//! rows with insertAll (`insertId` = `row_key`); analysts read the de-duplicating views. A run's
//! rows become visible only when it commits: the commit inserts one row into `runs`, and every
//! view reads only rows whose `run_id` is there. A run that failed or died after loading stays
//! invisible; its rerun's rows take its place.

mod config;
mod ddl;
pub mod encoder;
mod markers;
pub mod schema;
mod sql;
pub mod views;
pub mod writer;

pub use config::BigQueryConfig;

use std::sync::Arc;

use tokio::sync::Mutex;

use super::{EncodedRow, Sink, SinkError, SinkOwner, Table};
use crate::bigquery::auth::AuthChoice;
use crate::bigquery::Connection;
use crate::domain::ids::RunId;
use writer::Writer;

/// The sink.
#[derive(Clone)]
pub struct BigQuerySink {
    writer: Writer,
    prepared: Arc<Mutex<bool>>,
    conn: Connection,
    /// `campaign_performance` converts to this currency too.
    reporting: Option<crate::domain::money::Currency>,
    /// The run store whose runs this sink commits (set by `prepare`).
    owner: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::fmt::Debug for BigQuerySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQuerySink")
            .field("dataset", &self.writer.dataset)
            .field("auth", &self.conn.auth)
            .finish()
    }
}

impl BigQuerySink {
    /// Connects with the credentials chosen by [`crate::bigquery::auth::choose`].
    pub async fn connect(s: &BigQueryConfig) -> anyhow::Result<Self> {
        let conn = Connection::open(&s.conn).await?;
        Ok(Self {
            writer: Writer {
                stats: Arc::default(),
                client: conn.client.clone(),
                project: conn.project.clone(),
                dataset: s.dataset.clone(),
                batch_rows: s.batch_rows,
                batch_bytes: s.batch_bytes,
                in_flight: s.in_flight,
                retry: conn.retry.clone(),
            },
            prepared: Arc::default(),
            conn,
            reporting: None,
            owner: Arc::default(),
        })
    }

    /// Also converts `campaign_performance` sums to `currency`.
    pub fn with_reporting(mut self, currency: Option<crate::domain::money::Currency>) -> Self {
        self.reporting = currency;
        self
    }

    /// The credentials in use.
    pub fn auth(&self) -> &AuthChoice {
        &self.conn.auth
    }

    /// Requests, rows and bytes sent so far.
    pub fn stats(&self) -> &writer::WriterStats {
        &self.writer.stats
    }

    fn client(&self) -> &gcp_bigquery_client::Client {
        &self.writer.client
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
        self.mark_committed(run, job).await
    }

    async fn discard(&self, run: RunId) -> Result<(), SinkError> {
        self.unmark(run).await
    }
}
