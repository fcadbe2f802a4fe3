//! `attrsync report [--out FILE] [--from D --to D] [--model M]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::Context;
use crate::domain::time::Date;
use crate::report::Filter;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The page to write (default: report.path, else beside the local sink's output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// First conversion and spend day shown (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<Date>,
    /// Last day shown (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<Date>,
    /// The model of the day-by-day chart and of campaign CPA and ROAS (default last_touch).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).map_err(|e| format!("{s:?} is not a date (YYYY-MM-DD): {e}"))
}

pub async fn execute(ctx: &Context, args: ReportArgs) -> ExitCode {
    if let (Some(f), Some(t)) = (args.from, args.to) {
        if f > t {
            eprintln!("error: --from {f} is after --to {t}");
            return ExitCode::from(2);
        }
    }
    let model = args
        .model
        .map(|m| crate::domain::attribution::ModelKind::parse(&m).map_or(m, |k| k.as_str().into()));
    let filter = Filter {
        from: args.from,
        to: args.to,
        model,
    };
    let out = args.out.unwrap_or_else(|| ctx.report_path());
    let started = Instant::now();
    let result = async {
        // Applies pending migrations (when run_store.auto_migrate), so a new store reads empty.
        ctx.store().await?;
        let reporter = ctx.reporter().await?;
        reporter.write(&filter, &out).await
    }
    .await;
    match result {
        Ok(d) => {
            println!(
                "report: {} ({} channels, {} campaigns, {} runs; {:.2}s)",
                out.display(),
                d.channels.len(),
                d.campaigns.len(),
                d.runs.len(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::redact::eprint_error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}
