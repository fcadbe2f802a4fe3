//! `attrsync generate`: realistic synthetic PostHog events, deterministic for a seed.

mod ads;
mod catalog;
mod paths;
mod person;

pub use paths::{write_distinct_paths, write_paths};

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use crate::domain::time::{Date, Timestamp};

/// Row shape to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Batch-export rows: `uuid`, `properties` as an object.
    Export,
    /// Batch-export rows with `properties` as a JSON string (BigQuery STRING column).
    ExportString,
    /// Events-API rows: `id` instead of `uuid`.
    EventsApi,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub persons: u64,
    pub days: u32,
    pub seed: u64,
    /// Last day (exclusive end) of the period.
    pub end: Date,
    pub out: PathBuf,
    pub shape: Shape,
    /// Where to write the matching ad metrics (NDJSON for `[ads.file]`), if anywhere.
    pub ads_out: Option<PathBuf>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateReport {
    pub persons: u64,
    pub events: u64,
    pub bytes: u64,
    /// Campaign-day rows written to `ads_out`.
    pub ad_rows: u64,
}

const PERSONS_PER_BATCH: u64 = 1 << 15;
const PERSONS_PER_TASK: u64 = 256;

/// Writes the events file (gzip when the name ends in `.gz`), reporting progress per batch.
pub fn generate(
    opts: &GenerateOptions,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<GenerateReport> {
    if let Some(dir) = opts.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file =
        File::create(&opts.out).with_context(|| format!("cannot create {}", opts.out.display()))?;
    let buffered = BufWriter::with_capacity(1 << 20, file);
    let mut sink = if is_gz(&opts.out) {
        Out::Gz(flate2::write::GzEncoder::new(
            buffered,
            flate2::Compression::new(6),
        ))
    } else {
        Out::Plain(buffered)
    };
    let end_ms = Timestamp::start_of(opts.end).micros() / 1000;
    let start_ms =
        Timestamp::start_of(opts.end.add_days(-(opts.days.max(1) as i32))).micros() / 1000;
    let mut report = GenerateReport {
        persons: opts.persons,
        events: 0,
        bytes: 0,
        ad_rows: 0,
    };
    let mut paid = ads::PaidSessions::new();
    let mut done = 0;
    while done < opts.persons {
        let batch_end = (done + PERSONS_PER_BATCH).min(opts.persons);
        let tasks: Vec<(u64, u64)> = (done..batch_end)
            .step_by(PERSONS_PER_TASK as usize)
            .map(|a| (a, (a + PERSONS_PER_TASK).min(batch_end)))
            .collect();
        let chunks: Vec<(String, u64, ads::PaidSessions)> = tasks
            .par_iter()
            .map(|&(a, b)| {
                let mut out = String::with_capacity(((b - a) * 6000) as usize);
                let mut sessions = ads::PaidSessions::new();
                let mut w = person::Writer {
                    out: &mut out,
                    shape: opts.shape,
                    events: 0,
                    paid: &mut sessions,
                    end_ms,
                };
                for i in a..b {
                    person::simulate(opts.seed, i, start_ms, end_ms, &mut w);
                }
                let n = w.events;
                (out, n, sessions)
            })
            .collect();
        for (text, n, sessions) in chunks {
            for (k, v) in sessions {
                *paid.entry(k).or_default() += v;
            }
            sink.writer()
                .write_all(text.as_bytes())
                .context("write failed")?;
            report.events += n;
            report.bytes += text.len() as u64;
        }
        done = batch_end;
        progress(done, opts.persons);
    }
    sink.finish()
        .with_context(|| format!("cannot finish {}", opts.out.display()))?;
    if let Some(path) = &opts.ads_out {
        let start = opts.end.add_days(-(opts.days.max(1) as i32));
        report.ad_rows = ads::write(path, opts.seed, start, opts.end, &paid)?;
    }
    Ok(report)
}

enum Out {
    Gz(flate2::write::GzEncoder<BufWriter<File>>),
    Plain(BufWriter<File>),
}

impl Out {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Out::Gz(w) => w,
            Out::Plain(w) => w,
        }
    }

    fn finish(self) -> std::io::Result<()> {
        let mut inner = match self {
            Out::Gz(w) => w.finish()?,
            Out::Plain(w) => w,
        };
        inner.flush()?;
        inner.get_ref().sync_all()
    }
}

fn is_gz(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "gz")
}
