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

/// The process's resident memory now and at its peak, in MB (Linux; zeros elsewhere): logged
/// with each phase of a run, so a run's memory can be followed without a profiler.
pub fn resident_mb() -> (u64, u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0);
    };
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
