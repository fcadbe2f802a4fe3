//! `attrsync backfill --from D --to D`: re-pull and re-attribute a date range, one run per
//! day (trigger `backfill`), resumable: a second invocation with the same range continues after
//! the last completed day.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use super::Context;
use crate::domain::time::{Date, Timestamp};
use crate::pipeline::{Outcome, RunSpec};
use crate::sources::Source;
use crate::store::{CursorPosition, RunStore, Trigger};

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// First day (UTC), YYYY-MM-DD.
    #[arg(long)]
    pub from: Date,
    /// Last day (UTC, inclusive), YYYY-MM-DD.
    #[arg(long)]
    pub to: Date,
    /// What to backfill.
    #[arg(long, value_enum, default_value_t = BackfillSource::Events)]
    pub source: BackfillSource,
    /// Start over instead of resuming after the last completed day.
    #[arg(long)]
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackfillSource {
    /// PostHog events (or the export file): conversions, touchpoints, credits.
    Events,
}

pub async fn execute(ctx: &Context, args: BackfillArgs) -> ExitCode {
    if args.to < args.from {
        eprintln!("error: --to ({}) is before --from ({})", args.to, args.from);
        return ExitCode::from(2);
    }
    let pipeline = match ctx.pipeline().await {
        Ok(p) => p,
        Err(e) => {
            crate::redact::eprint_error(&format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = pipeline.store().migrate().await {
        crate::redact::eprint_error(&format!("{e:#}"));
        return ExitCode::FAILURE;
    }
    let job = format!("backfill:{}", pipeline.source().job());
    let partition = format!("{}..{}", args.from, args.to);
    let done = if args.restart {
        None
    } else {
        match pipeline.store().cursor(&job, &partition).await {
            Ok(c) => c.and_then(|d| Date::parse(&d).ok()),
            Err(e) => {
                crate::redact::eprint_error(&format!("{e:#}"));
                return ExitCode::FAILURE;
            }
        }
    };
    let first = done.map_or(args.from, |d| d.add_days(1));
    let total = (args.to.days() - args.from.days() + 1) as u64;
    let already = (first.days() - args.from.days()) as u64;
    if first > args.to {
        println!("backfill {partition} is already complete ({total} days); use --restart to run it again");
        return ExitCode::SUCCESS;
    }
    if already > 0 {
        tracing::info!(resume_from = %first, done = already, total, "resuming an interrupted backfill");
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total).with_position(already);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} backfill {msg} [{bar:30}] {pos}/{len} days, ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b
    });
    let started = Instant::now();
    let (mut conversions, mut rows) = (0u64, 0u64);
    let mut day = first;
    while day <= args.to {
        if let Some(b) = &bar {
            b.set_message(day.to_string());
        }
        let spec = RunSpec {
            trigger: Trigger::Backfill,
            job: job.clone(),
            window: Some((
                Timestamp::start_of(day),
                Timestamp::start_of(day.add_days(1)),
            )),
            progress: Some(CursorPosition::new(&job, &partition, day.to_string())),
        };
        match pipeline.run(&spec).await {
            Ok(Outcome::Completed(s)) => {
                conversions += s.conversions;
                rows += s.rows_written();
                let n = (day.days() - args.from.days() + 1) as u64;
                match &bar {
                    Some(b) => b.set_position(n),
                    None => {
                        tracing::info!(day = %day, done = n, total, conversions = s.conversions, rows = s.rows_written(), "backfill day done")
                    }
                }
            }
            Ok(Outcome::LeaseHeld { holder, .. }) => {
                eprintln!("error: another backfill of this source is running ({holder}); try again when it is done");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                if let Some(b) = &bar {
                    b.abandon();
                }
                crate::redact::eprint_error(&format!("backfill stopped at {day}: {e}"));
                eprintln!("run the same command again to resume from {day}");
                return ExitCode::FAILURE;
            }
        }
        day = day.add_days(1);
    }
    if let Some(b) = &bar {
        b.finish();
    }
    println!(
        "backfill {partition}: {} days in {:.1}s, {conversions} conversions re-attributed, {rows} rows written",
        total - already,
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
