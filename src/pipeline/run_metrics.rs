//! What a finished run adds to the Prometheus metrics (see `/metrics` in the README).

/// Records a finished cycle in the metrics (`/metrics` when the daemon serves them).
pub fn record_run(
    job: &str,
    result: &Result<super::Outcome, super::RunError>,
    took: std::time::Duration,
) {
    use super::Outcome;
    let status = match result {
        Ok(Outcome::Completed(_)) => "succeeded",
        Ok(Outcome::LeaseHeld { .. }) => "lease_held",
        Err(_) => "failed",
    };
    let job = job.to_string();
    metrics::counter!("attrsync_runs_total", "job" => job.clone(), "status" => status).increment(1);
    if let Ok(Outcome::Completed(s)) = result {
        metrics::histogram!("attrsync_run_duration_seconds", "job" => job.clone())
            .record(took.as_secs_f64());
        metrics::counter!("attrsync_events_read_total", "job" => job.clone())
            .increment(s.read.read);
        for r in crate::domain::extract::SkipReason::ALL {
            let n = s.read.skipped(r);
            if n > 0 {
                metrics::counter!("attrsync_events_skipped_total", "job" => job.clone(), "reason" => r.as_str()).increment(n);
            }
        }
        for (table, n) in &s.rows_by_table {
            metrics::counter!("attrsync_rows_written_total", "job" => job.clone(), "table" => table.name()).increment(*n);
        }
        let events_job = !(job.starts_with("ads:") || job.starts_with("fx:"));
        if let Some(q) = s.quality.as_ref().filter(|_| !events_job) {
            metrics::gauge!("attrsync_quality_score", "job" => job.clone()).set(q.score);
            if let Some(spend) = &q.spend {
                metrics::gauge!("attrsync_spend_matched_share", "job" => job.clone())
                    .set(spend.share);
            }
        }
        if let Some(q) = s.quality.as_ref().filter(|_| events_job) {
            metrics::gauge!("attrsync_quality_score", "job" => job.clone()).set(q.score);
            let shares = [
                ("events_used", q.reconciliation.score),
                ("events_with_person_key", q.identity.events_with_person_key),
                (
                    "conversions_with_person_key",
                    q.identity.conversions_with_person_key,
                ),
                ("journeys_joined", q.identity.journeys_joined),
                (
                    "conversions_with_non_direct_touch",
                    q.coverage.conversions_with_non_direct_touch,
                ),
                ("touchpoints_assigned", q.coverage.touchpoints_assigned),
            ];
            for (measure, v) in shares {
                metrics::gauge!("attrsync_quality_share", "job" => job.clone(), "measure" => measure).set(v);
            }
            metrics::counter!("attrsync_masked_click_ids_total", "job" => job.clone())
                .increment(q.coverage.masked_click_ids);
        }
        let now = crate::domain::time::Timestamp::now().micros() as f64 / 1e6;
        metrics::gauge!("attrsync_last_success_timestamp_seconds", "job" => job).set(now);
    } else if let Err(e) = result {
        if e.run.is_some() {
            metrics::histogram!("attrsync_run_duration_seconds", "job" => job)
                .record(took.as_secs_f64());
        }
    }
}
