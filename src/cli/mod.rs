//! The command line: one file per subcommand.

mod attribute;
mod backfill;
mod check;
mod context;
mod generate;
mod migrate;
mod report;
mod run;
mod status;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use context::{problems, Context};

/// attrsync: marketing attribution from PostHog events and ad spend, into your warehouse.
#[derive(Debug, Parser)]
#[command(name = "attrsync", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file layered over the embedded default and config/<ATTRSYNC_ENV>.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon loop, or one cycle with --once (non-zero exit when it fails).
    Run(run::RunArgs),
    /// Re-pull and re-attribute a date range, a run per day, resumable.
    Backfill(backfill::BackfillArgs),
    /// Show recent runs from the run store.
    Status(status::StatusArgs),
    /// Apply run-store migrations.
    Migrate,
    /// Validate configuration and reach every configured service.
    Check,
    /// Recompute a run's row-key checksums from the sink and report rows missing or extra.
    Verify(verify::VerifyArgs),
    /// Write synthetic PostHog-format events for demos and benchmarks.
    Generate(generate::GenerateArgs),
    /// Credit channel paths offline (ChannelAttribution's CSV format) and print CSV.
    Attribute(attribute::AttributeArgs),
    /// Write one HTML page of what the sink holds: models, campaigns, paths, quality.
    Report(report::ReportArgs),
}

/// Parses arguments and runs the command; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        // generate needs no configuration or runtime.
        Command::Generate(args) => generate::execute(args),
        Command::Attribute(args) => {
            crate::memory::restart_without_huge_pages();
            attribute::execute(args)
        }
        Command::Check => {
            let (ctx, problems) = match Context::load_for_check(cli.config) {
                Ok(c) => c,
                Err(e) => {
                    crate::redact::eprint_error(&e.to_string());
                    return ExitCode::from(2);
                }
            };
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(check::execute(&ctx, problems)),
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        command => {
            let ctx = match Context::load(cli.config) {
                Ok(c) => c,
                Err(e) => {
                    crate::redact::eprint_error(&format!("{e}"));
                    return ExitCode::from(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            rt.block_on(async move {
                match command {
                    Command::Run(args) => run::execute(&ctx, args).await,
                    Command::Backfill(args) => backfill::execute(&ctx, args).await,
                    Command::Status(args) => status::execute(&ctx, args).await,
                    Command::Migrate => migrate::execute(&ctx).await,
                    Command::Check => unreachable!("handled above"),
                    Command::Verify(args) => verify::execute(&ctx, args).await,
                    Command::Report(args) => report::execute(&ctx, args).await,
                    Command::Generate(_) | Command::Attribute(_) => unreachable!("handled above"),
                }
            })
        }
    };
    code
}
