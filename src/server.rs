//! The daemon's one HTTP port: `/healthz` (alive), `/readyz` (run store reachable and a recent
//! success), `/metrics` (Prometheus text), `/report` (the page the daemon rewrites each cycle).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use crate::domain::time::Timestamp;
use crate::store::{AnyStore, RunStore};

/// Installs the global Prometheus recorder (once per process) and returns its handle.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("attrsync_run_duration_seconds".into()),
            &[
                0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
            ],
        )?
        .set_buckets_for_metric(
            Matcher::Full("attrsync_rate_limiter_wait_seconds".into()),
            &[0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0],
        )?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    let _ = HANDLE.set(handle.clone());
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// What the endpoints read.
#[derive(Clone)]
pub struct ServerState {
    pub store: AnyStore,
    pub started: Instant,
    /// `/readyz` fails when the last success is older than this (after a start-up grace of the
    /// same length, so a fresh deployment can finish its first run).
    pub ready_max_age: Duration,
    pub metrics: PrometheusHandle,
    /// The report the daemon rewrites after each cycle (`None`: report.enabled is false).
    pub report: Option<std::path::PathBuf>,
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Arc<ServerState>>) -> impl IntoResponse {
    if let Err(e) = tokio::time::timeout(Duration::from_secs(3), s.store.ping())
        .await
        .unwrap_or_else(|_| {
            Err(crate::store::StoreError::Unavailable(anyhow::anyhow!(
                "ping timed out"
            )))
        })
    {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n"));
    }
    let last = s.store.last_success().await.ok().flatten();
    let age =
        last.map(|t| Duration::from_micros((Timestamp::now().micros() - t.micros()).max(0) as u64));
    match age {
        Some(a) if a <= s.ready_max_age => (
            StatusCode::OK,
            format!("ready: last success {}s ago\n", a.as_secs()),
        ),
        _ if s.started.elapsed() <= s.ready_max_age => {
            (StatusCode::OK, "ready: starting up\n".to_string())
        }
        Some(a) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: last success {}s ago, more than server.ready_max_age\n",
                a.as_secs()
            ),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no successful run yet\n".to_string(),
        ),
    }
}

async fn report(State(s): State<Arc<ServerState>>) -> axum::response::Response {
    let Some(path) = &s.report else {
        return (
            StatusCode::NOT_FOUND,
            "the report is off (report.enabled = false)\n",
        )
            .into_response();
    };
    match tokio::fs::read(path).await {
        Ok(page) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            page,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no report yet: it is written after the first cycle\n",
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the report: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<Arc<ServerState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

/// Serves until `shutdown` turns true.
pub async fn serve(
    bind: &str,
    state: ServerState,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/report", get(report))
        .with_state(Arc::new(state));
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on server.bind = {bind}: {e}"))?;
    tracing::info!(bind = %listener.local_addr()?, "serving /healthz, /readyz, /metrics and /report");
    Ok(tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    }))
}
