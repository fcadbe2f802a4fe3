//! `attrsync status [--limit N] [--json]`.

use std::process::ExitCode;

use super::Context;
use crate::store::{RunRecord, RunStore};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// How many runs to show, newest first (at least 1).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn execute(ctx: &Context, args: StatusArgs) -> ExitCode {
    let runs = match async {
        ctx.store()
            .await?
            .recent(args.limit)
            .await
            .map_err(anyhow::Error::from)
    }
    .await
    {
        Ok(r) => r,
        Err(e) => {
            crate::redact::eprint_error(&format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        for r in &runs {
            // Stored errors are redacted when written; older rows are redacted here too.
            let line = serde_json::to_string(r).expect("run records serialise");
            println!("{}", crate::redact::redact(&line));
        }
    } else {
        print!("{}", crate::redact::redact(&table(&runs)));
    }
    ExitCode::SUCCESS
}

/// Renders runs as a fixed-width table.
pub fn table(runs: &[RunRecord]) -> String {
    let mut out = format!(
        "{:>6}  {:<26} {:<9} {:<10} {:<20} {:>9} {:>10} {:>8} {:>11} {:>9} {:>7} {:>7} {:>7}  {}\n",
        "id",
        "job",
        "trigger",
        "status",
        "started (UTC)",
        "duration",
        "read",
        "skipped",
        "conversions",
        "credits",
        "quality",
        "persons",
        "touched",
        "error / warnings"
    );
    if runs.is_empty() {
        out.push_str("(no runs yet: try `attrsync run --once`)\n");
    }
    for r in runs {
        let started = r.started_at.to_string();
        let duration = r.finished_at.map_or("-".to_string(), |f| {
            format!("{:.1}s", (f.micros() - r.started_at.micros()) as f64 / 1e6)
        });
        let q = &r.counts.quality;
        let pct = |v: &serde_json::Value| {
            v.as_f64()
                .map_or("-".to_string(), |x| format!("{:.0}%", x * 100.0))
        };
        let score = q["score"]
            .as_f64()
            .map_or("-".to_string(), |s| format!("{s:.3}"));
        // Ad runs: campaign-days read, and the share of spend with a matching touchpoint.
        let ads = r.job.starts_with("ads:");
        let (read, persons, touched) = if ads {
            (
                r.counts.ad_metric_rows,
                "-".to_string(),
                pct(&q["spend"]["share"]),
            )
        } else {
            (
                r.counts.events_read,
                pct(&q["identity"]["events_with_person_key"]),
                pct(&q["coverage"]["conversions_with_non_direct_touch"]),
            )
        };
        let job: String = if r.job.chars().count() > 26 {
            r.job.chars().take(25).chain(['…']).collect()
        } else {
            r.job.clone()
        };
        let warnings: Vec<&str> = q["warnings"]
            .as_array()
            .map(|w| w.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let error = r
            .error
            .clone()
            .unwrap_or_else(|| warnings.join("; "))
            .replace('\n', " ");
        let error: String = if error.chars().count() > 80 {
            error.chars().take(79).chain(['…']).collect()
        } else {
            error
        };
        out.push_str(&format!(
            "{:>6}  {:<26} {:<9} {:<10} {:<20} {:>9} {:>10} {:>8} {:>11} {:>9} {:>7} {:>7} {:>7}  {}\n",
            r.id.0,
            job,
            r.trigger,
            r.status,
            &started[..19],
            duration,
            read,
            r.counts.events_skipped,
            r.counts.conversions,
            r.counts.credits,
            score,
            persons,
            touched,
            error
        ));
    }
    out
}
