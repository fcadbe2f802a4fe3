//! `attrsync attribute --paths FILE`: credit channel paths offline and print CSV.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::engine::models::markov::StepLimit;
use crate::engine::models::shapley::PathTransform;
use crate::engine::models::RuleModel;
use crate::offline::pathfile::{self, PathColumns};
use crate::offline::report::{self, PathModel, Summary};

/// The models, by the names config, tables and README use (`first_touch`); the hyphenated
/// spellings are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelArg {
    #[value(name = "first_touch", alias = "first-touch")]
    FirstTouch,
    #[value(name = "last_touch", alias = "last-touch")]
    LastTouch,
    #[value(name = "last_non_direct", alias = "last-non-direct")]
    LastNonDirect,
    Linear,
    #[value(name = "position_based", alias = "position-based")]
    PositionBased,
    Markov,
    Shapley,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransformArg {
    Exposure,
    Unique,
    First,
    Frequency,
}

#[derive(Debug, clap::Args)]
pub struct AttributeArgs {
    /// CSV of paths (ChannelAttribution's format); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub paths: PathBuf,
    #[arg(long, value_enum, default_value_t = ModelArg::Markov)]
    pub model: ModelArg,
    /// Markov order (states are windows of this many channels).
    #[arg(long, default_value_t = 1)]
    pub order: usize,
    /// Markov walk bound: `none` (exact, the default), a number of channel states, or `auto`
    /// for ChannelAttribution's default (longest path + 1), which truncates loops.
    #[arg(long, default_value = "none")]
    pub max_step: String,
    /// Shapley path transform.
    #[arg(long, value_enum, default_value_t = TransformArg::Exposure)]
    pub path_transform: TransformArg,
    /// Step separator in the path column (surrounding spaces are trimmed).
    #[arg(long, default_value = ">")]
    pub sep: String,
    #[arg(long, default_value = "path")]
    pub path_column: String,
    #[arg(long, default_value = "total_conversions")]
    pub conversions_column: String,
    /// Optional column; missing means value 0.
    #[arg(long, default_value = "total_conversion_value")]
    pub value_column: String,
    /// Optional column; missing means no nulls.
    #[arg(long, default_value = "total_null")]
    pub null_column: String,
    /// position_based share of the first and last touch.
    #[arg(long, default_value_t = 0.4)]
    pub first: f64,
    #[arg(long, default_value_t = 0.4)]
    pub last: f64,
    /// The channel last_non_direct skips.
    #[arg(long, default_value = "direct")]
    pub direct_channel: String,
    /// Fail (exit 1) on any malformed row instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Also print each channel's share with a bootstrap confidence interval and the converting
    /// journeys that touched it (columns share, share_low, share_high, journeys).
    #[arg(long)]
    pub ci: bool,
    /// Bootstrap resamples (with --ci).
    #[arg(long, default_value_t = 200)]
    pub samples: u32,
    /// The interval's coverage (with --ci): 0.9 is the 5th to 95th percentile.
    #[arg(long, default_value_t = 0.9)]
    pub confidence: f64,
    /// Seed of the resamples (with --ci): the same seed gives the same intervals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn execute(args: AttributeArgs) -> ExitCode {
    if args.order == 0 || args.order > 8 {
        eprintln!("error: --order must be 1 to 8");
        return ExitCode::from(2);
    }
    if args.ci && (!(args.confidence > 0.0 && args.confidence < 1.0) || args.samples == 0) {
        eprintln!("error: --confidence must be between 0 and 1 and --samples at least 1");
        return ExitCode::from(2);
    }
    if !(0.0..=1.0).contains(&(args.first + args.last)) || args.first < 0.0 || args.last < 0.0 {
        eprintln!("error: --first and --last must be non-negative and sum to at most 1");
        return ExitCode::from(2);
    }
    let limit = match args.max_step.as_str() {
        "none" => StepLimit::Exact,
        "auto" => StepLimit::ChannelAttributionDefault,
        n => match n.parse::<usize>() {
            Ok(n) if n > 0 => StepLimit::Steps(n),
            _ => {
                eprintln!("error: --max-step must be none, auto or a positive number, not '{n}'");
                return ExitCode::from(2);
            }
        },
    };
    let cols = PathColumns {
        path: args.path_column.clone(),
        conversions: args.conversions_column.clone(),
        value: args.value_column.clone(),
        nulls: args.null_column.clone(),
        sep: args.sep.clone(),
    };
    let started = Instant::now();
    let model = match args.model {
        ModelArg::FirstTouch => PathModel::Rule(RuleModel::FirstTouch),
        ModelArg::LastTouch => PathModel::Rule(RuleModel::LastTouch),
        ModelArg::LastNonDirect => PathModel::Rule(RuleModel::LastNonDirect),
        ModelArg::Linear => PathModel::Rule(RuleModel::Linear),
        ModelArg::PositionBased => PathModel::Rule(RuleModel::PositionBased {
            first: args.first,
            last: args.last,
        }),
        ModelArg::Markov => PathModel::Markov {
            order: args.order,
            limit,
        },
        ModelArg::Shapley => PathModel::Shapley(match args.path_transform {
            TransformArg::Exposure => PathTransform::Exposure,
            TransformArg::Unique => PathTransform::Unique,
            TransformArg::First => PathTransform::First,
            TransformArg::Frequency => PathTransform::Frequency,
        }),
    };
    // Stdin can be read once: it is held in memory. A file is streamed (and opened again only
    // if it quotes fields).
    let stdin_bytes = if args.paths.as_os_str() == "-" {
        let mut b = Vec::new();
        if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut b) {
            eprintln!("error: cannot read stdin: {e}");
            return ExitCode::FAILURE;
        }
        Some(b)
    } else {
        None
    };
    let open = || -> std::io::Result<Box<dyn std::io::Read + Send + '_>> {
        match &stdin_bytes {
            Some(b) => Ok(Box::new(&b[..])),
            None => Ok(Box::new(std::fs::File::open(&args.paths)?)),
        }
    };
    let result = if args.ci {
        read_and_resample(&open, &cols, model, &args)
    } else {
        report::stream(&open, &cols, model, &args.direct_channel)
    };
    let (r, summary) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e:#}", args.paths.display());
            return ExitCode::FAILURE;
        }
    };
    let Summary {
        rows,
        bad,
        distinct,
    } = &summary;
    for b in bad.iter().take(20) {
        eprintln!("line {}: {}", b.line, b.reason);
    }
    if !bad.is_empty() {
        eprintln!(
            "{} of {rows} rows malformed{}",
            bad.len(),
            if args.strict { "" } else { " and skipped" }
        );
        if args.strict {
            return ExitCode::FAILURE;
        }
    }
    if *distinct == 0 {
        let why = match bad.first() {
            Some(b) => format!(
                "no usable row: all {rows} rows are malformed (line {}: {})",
                b.line, b.reason
            ),
            None => "no rows: the file holds a header only, or nothing".into(),
        };
        eprintln!("error: {}: {why}", args.paths.display());
        return ExitCode::FAILURE;
    }
    print!("{}", r.to_csv());
    eprintln!(
        "{rows} rows, {distinct} distinct paths, {} channels{} in {:.3}s",
        r.channels.len(),
        r.markov
            .as_ref()
            .map_or(String::new(), |m| format!(", {} markov states", m.states)),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// `--ci`: the whole path set in memory (the bootstrap resamples its paths), the model's point
/// fit, and its intervals.
fn read_and_resample(
    open: &report::Open<'_>,
    cols: &PathColumns,
    model: PathModel,
    args: &AttributeArgs,
) -> anyhow::Result<(report::Report, Summary)> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut open()?, &mut bytes)?;
    let (set, bad, rows) = pathfile::read_bytes(&bytes, cols)?;
    drop(bytes);
    let mut r = report::run(&set, model, &args.direct_channel);
    if !set.paths.is_empty() {
        let opts = crate::engine::bootstrap::Options {
            samples: args.samples,
            confidence: args.confidence,
            seed: args.seed,
        };
        r.intervals = Some(report::intervals(&set, model, &args.direct_channel, opts));
    }
    let summary = Summary {
        rows,
        bad,
        distinct: set.paths.len() as u64,
    };
    Ok((r, summary))
}
