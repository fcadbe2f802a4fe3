//! Commit markers: one row per committed run in `runs`, which every view joins, so a run's
//! rows show only once it committed; and the run store they belong to.

use anyhow::anyhow;

use super::schema;
use super::BigQuerySink;
use crate::domain::ids::RunId;
use crate::sinks::{SinkError, SinkOwner};

impl BigQuerySink {
    /// Refuses a dataset whose commit markers belong to another run store.
    pub(super) async fn check_owner(&self, owner: &SinkOwner) -> Result<(), SinkError> {
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

    /// Writes run `run`'s marker. A DML insert, not a streamed row: it can be deleted at once if
    /// the run store then fails to record the run (see [`BigQuerySink::unmark`]).
    pub(super) async fn mark_committed(&self, run: RunId, job: &str) -> Result<(), SinkError> {
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
        let params = [
            ("run", "INT64", run.0.to_string()),
            ("job", "STRING", job.to_string()),
            ("store", "STRING", store),
        ];
        self.run_sql_with(&sql, &params)
            .await
            .map(|_| ())
            .map_err(|e| e.context("writing the commit marker"))
    }

    /// Removes run `run`'s marker. Streamed rows cannot be deleted while in the streaming
    /// buffer; without a marker the views never show them, and the rerun writes the same
    /// row_keys again.
    pub(super) async fn unmark(&self, run: RunId) -> Result<(), SinkError> {
        let store = self.owner.lock().expect("owner lock").clone();
        let Some(store) = store else {
            return Ok(());
        };
        let sql = format!(
            "DELETE FROM {} WHERE run_id = @run AND store_id = @store",
            self.qualified(schema::RUNS_TABLE)
        );
        let params = [
            ("run", "INT64", run.0.to_string()),
            ("store", "STRING", store),
        ];
        self.run_sql_with(&sql, &params).await?;
        tracing::info!(
            run_id = run.0,
            "the unfinished run's rows stay invisible (no commit marker)"
        );
        Ok(())
    }
}
