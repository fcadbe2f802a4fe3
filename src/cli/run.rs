//! `attrsync run [--once]`.

use std::process::ExitCode;

use super::Context;
use crate::pipeline::Outcome;
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
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if args.once {
        if ctx.settings.run_store.auto_migrate {
            if let Err(e) = pipeline.store.migrate().await {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        }
        return match pipeline.run_once(Trigger::Manual).await {
            Ok(Outcome::Completed(summary)) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Ok(Outcome::LeaseHeld { job, holder }) => {
                println!("job {job}: lease held by {holder}; nothing to do");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = crate::scheduler::LoopOptions::from_settings(&ctx.settings);
    crate::scheduler::run_loop(pipeline, opts, crate::scheduler::shutdown_signal()).await
}
