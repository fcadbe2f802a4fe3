//! `attrsync run [--once]`.

use std::process::ExitCode;

use super::Context;
use crate::pipeline::Outcome;
use crate::sinks::AnySink;
use crate::store::RunStore;
use crate::store::Trigger;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run one cycle and exit (non-zero when it fails).
    #[arg(long)]
    pub once: bool,
}

pub async fn execute(ctx: &Context, args: RunArgs) -> ExitCode {
    let pipeline = match ctx.pipeline().await {
        Ok(p) => p,
        Err(e) => {
            crate::telemetry::log_error_chain("cannot start", &e);
            crate::redact::eprint_error(&format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    if args.once {
        if ctx.settings.run_store.auto_migrate {
            if let Err(e) = pipeline.store().migrate().await {
                crate::redact::eprint_error(&format!("{e:#}"));
                return ExitCode::FAILURE;
            }
        }
        let mut failed = false;
        for (job, result) in pipeline.run_all(Trigger::Manual).await {
            match result {
                Ok(Outcome::Completed(summary)) => println!("{summary}"),
                Ok(Outcome::LeaseHeld { job, holder }) => {
                    println!("job {job}: lease held by {holder}; nothing to do")
                }
                Err(e) => {
                    failed = true;
                    crate::redact::eprint_error(&format!("job {job}: {e}"));
                }
            }
        }
        if let AnySink::Local(l) = &pipeline.sink() {
            let perf = l.dir().join(crate::sinks::local::performance::FILE);
            if perf.exists() {
                println!("campaign performance: {}", perf.display());
            }
        }
        return if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let shutdown = crate::scheduler::shutdown_signal();
    let report = if ctx.settings.report.enabled {
        match ctx.reporter().await {
            Ok(reporter) => Some(crate::report::DaemonReport {
                reporter,
                path: ctx.report_path(),
            }),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "the report is off: cannot open its sources"
                );
                None
            }
        }
    } else {
        None
    };
    let bind = ctx.settings.server.bind.trim();
    let server = if bind.is_empty() {
        None
    } else {
        let started = async {
            let state = crate::server::ServerState {
                store: pipeline.store().clone(),
                started: std::time::Instant::now(),
                ready_max_age: ctx.settings.server.ready_max_age,
                metrics: crate::server::install_metrics()?,
                report: report.as_ref().map(|r| r.path.clone()),
            };
            let mut jobs = vec![crate::sources::Source::job(pipeline.source())];
            jobs.extend(pipeline.fx().map(|f| f.job()));
            jobs.extend(pipeline.ads().iter().map(crate::ads::AdSource::job));
            let mut apis: Vec<String> = jobs
                .iter()
                .filter_map(|j| match j.split(':').collect::<Vec<_>>().as_slice() {
                    ["posthog", _] => Some("posthog".to_string()),
                    ["ads", platform, _] => Some(platform.to_string()),
                    _ => None,
                })
                .collect();
            apis.sort();
            apis.dedup();
            crate::telemetry::register_metrics(&jobs, &apis);
            crate::server::serve(bind, state, shutdown.clone()).await
        };
        match started.await {
            Ok(h) => Some(h),
            Err(e) => {
                crate::redact::eprint_error(&format!("{e:#}"));
                return ExitCode::FAILURE;
            }
        }
    };
    let opts = crate::scheduler::LoopOptions::from_settings(&ctx.settings);
    let code = crate::scheduler::run_loop(pipeline, opts, shutdown, report).await;
    if let Some(h) = server {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), h).await;
    }
    code
}
