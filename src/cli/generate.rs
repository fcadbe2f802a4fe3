//! `attrsync generate --persons N --days D --seed S --out FILE`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::domain::time::Date;
use crate::generate::{generate, GenerateOptions, Shape};

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of synthetic persons.
    #[arg(long, default_value_t = 3000)]
    pub persons: u64,
    /// Days of history before --end.
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Seed; the same seed and options give the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// End of the period (exclusive), YYYY-MM-DD.
    #[arg(long, default_value = "2026-11-01")]
    pub end: Date,
    /// Output file; gzip when it ends in .gz.
    #[arg(long, default_value = "events.ndjson.gz")]
    pub out: PathBuf,
    /// Overwrite the bundled sample (`data/sample/…`), which tests and the README rely on.
    #[arg(long)]
    pub force: bool,
    /// Row shape.
    #[arg(long, value_enum, default_value_t = Shape::Export)]
    pub shape: Shape,
    /// Where to write the matching ad metrics [default: ad_metrics.ndjson beside --out].
    #[arg(long, value_name = "FILE")]
    pub ads_out: Option<PathBuf>,
    /// Do not write ad metrics.
    #[arg(long, conflicts_with = "ads_out")]
    pub no_ads: bool,
    /// Instead of events, write this many channel-path rows (CSV for `attribute`) to --out.
    #[arg(long, value_name = "ROWS")]
    pub paths: Option<u64>,
    /// With --paths: every row a different path (1–8 steps over 10 channels) with its counts,
    /// as warehouse exports aggregate journeys; without, one journey per row.
    #[arg(long, requires = "paths")]
    pub distinct: bool,
}

/// Whether `p` is one of the bundled sample files (an existing file in `data/sample/`).
fn bundled_sample(p: &std::path::Path) -> bool {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let dir = abs.parent();
    abs.is_file()
        && dir
            .and_then(|d| d.file_name())
            .is_some_and(|n| n == "sample")
        && dir
            .and_then(|d| d.parent())
            .and_then(|d| d.file_name())
            .is_some_and(|n| n == "data")
}

pub fn execute(args: GenerateArgs) -> ExitCode {
    crate::telemetry::init(crate::config::LogFormat::Pretty);
    let ads_target = if args.no_ads || args.paths.is_some() {
        None
    } else {
        Some(args.ads_out.clone().unwrap_or_else(|| {
            args.out
                .parent()
                .unwrap_or(std::path::Path::new(""))
                .join("ad_metrics.ndjson")
        }))
    };
    if !args.force {
        if let Some(p) = std::iter::once(&args.out)
            .chain(ads_target.iter())
            .find(|p| bundled_sample(p))
        {
            eprintln!(
                "error: refusing to overwrite the bundled sample {} (tests and the README rely on it); \
                 choose another --out (or --ads-out), or pass --force",
                p.display()
            );
            return ExitCode::from(2);
        }
    }
    if let Some(rows) = args.paths {
        let started = Instant::now();
        let written = if args.distinct {
            crate::generate::write_distinct_paths(&args.out, rows, args.seed)
        } else {
            crate::generate::write_paths(&args.out, rows, args.seed)
        };
        return match written {
            Ok(bytes) => {
                println!(
                    "wrote {rows} paths to {} ({:.1} MB) in {:.1}s",
                    args.out.display(),
                    bytes as f64 / 1e6,
                    started.elapsed().as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                crate::redact::eprint_error(&format!("{e:#}"));
                ExitCode::FAILURE
            }
        };
    }
    let opts = GenerateOptions {
        persons: args.persons,
        days: args.days,
        seed: args.seed,
        end: args.end,
        ads_out: ads_target,
        out: args.out,
        shape: args.shape,
    };
    let started = Instant::now();
    let mut last_log = Instant::now();
    let result = generate(&opts, |done, total| {
        if last_log.elapsed().as_secs() >= 2 || done == total {
            tracing::info!(done, total, "generated persons");
            last_log = Instant::now();
        }
    });
    match result {
        Ok(r) => {
            println!(
                "wrote {} events for {} persons to {} ({:.1} MB uncompressed) in {:.1}s",
                r.events,
                r.persons,
                opts.out.display(),
                r.bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            if let Some(p) = &opts.ads_out {
                println!(
                    "wrote {} campaign-days of ad metrics to {}",
                    r.ad_rows,
                    p.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::redact::eprint_error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}
