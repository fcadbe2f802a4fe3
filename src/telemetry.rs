//! Tracing setup: JSON lines in production, human-readable locally; level from `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to stderr (stdout is for command output).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(crate::redact::RedactingStderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_ansi(color)
                    .with_writer(crate::redact::RedactingStderr),
            )
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}

/// Logs an error with its whole cause chain.
pub fn log_error_chain(context: &str, err: &anyhow::Error) {
    tracing::error!(error = format!("{err:#}"), "{context}");
}

/// Records a finished cycle in the metrics (`/metrics` when the daemon serves them).
pub fn record_run(
    job: &str,
    result: &Result<crate::pipeline::Outcome, crate::pipeline::RunError>,
    took: std::time::Duration,
) {
    use crate::pipeline::Outcome;
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
            metrics::counter!("attrsync_rows_written_total", "job" => job.clone(), "table" => table.clone()).increment(*n);
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

/// Registers every metric family for the jobs and APIs this process runs, at zero, so that a
/// scrape right after start-up (and an alert on an absent series) sees them before the first
/// run completes. `attrsync_last_success_timestamp_seconds` starts at 0: never.
pub fn register_metrics(jobs: &[String], apis: &[String]) {
    use crate::domain::extract::SkipReason;
    metrics::describe_counter!("attrsync_runs_total", "Runs finished, by job and status");
    metrics::describe_histogram!("attrsync_run_duration_seconds", "Run wall time, by job");
    metrics::describe_counter!("attrsync_events_read_total", "Events read, by job");
    metrics::describe_counter!(
        "attrsync_events_skipped_total",
        "Events skipped, by job and reason"
    );
    metrics::describe_counter!(
        "attrsync_rows_written_total",
        "Rows the sink acknowledged, by job and table"
    );
    metrics::describe_counter!("attrsync_http_requests_total", "API requests sent, by API");
    metrics::describe_counter!(
        "attrsync_http_throttled_total",
        "Throttled API answers, by API"
    );
    metrics::describe_gauge!(
        "attrsync_last_success_timestamp_seconds",
        "When a job last succeeded (0: never)"
    );
    metrics::describe_gauge!(
        "attrsync_quality_score",
        "The last run's data-quality score, by job"
    );
    for job in jobs {
        for status in ["succeeded", "failed", "lease_held"] {
            metrics::counter!("attrsync_runs_total", "job" => job.clone(), "status" => status)
                .increment(0);
        }
        metrics::gauge!("attrsync_last_success_timestamp_seconds", "job" => job.clone()).set(0.0);
        let tables: &[&str] = if job.starts_with("ads:") {
            &["ad_metrics"]
        } else if job.starts_with("fx:") {
            &["fx_rates"]
        } else {
            metrics::counter!("attrsync_events_read_total", "job" => job.clone()).increment(0);
            for r in SkipReason::ALL {
                metrics::counter!("attrsync_events_skipped_total", "job" => job.clone(), "reason" => r.as_str())
                    .increment(0);
            }
            &["conversions", "touchpoints", "attribution_credits"]
        };
        for t in tables {
            metrics::counter!("attrsync_rows_written_total", "job" => job.clone(), "table" => *t)
                .increment(0);
        }
    }
    for api in apis {
        metrics::counter!("attrsync_http_requests_total", "api" => api.clone()).increment(0);
        metrics::counter!("attrsync_http_throttled_total", "api" => api.clone()).increment(0);
    }
}
