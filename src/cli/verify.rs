//! `attrsync verify --run ID`: recompute the row-key checksums of a run from the sink and
//! report rows missing or extra.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

use super::Context;
use crate::domain::checksum::{Checksum, ChecksumBuilder};
use crate::domain::ids::RunId;
use crate::pipeline::quality::Quality;
use crate::sinks::{AnySink, Table};
use crate::store::{RunStatus, RunStore};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The run to verify (`attrsync status` lists ids).
    #[arg(long)]
    pub run: i64,
}

/// What a table check found.
#[derive(Debug, Default)]
pub struct TableCheck {
    pub table: String,
    pub expected: u64,
    pub found: u64,
    pub ok: bool,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    /// Buckets whose count or sum differ (when the keys themselves cannot be named).
    pub buckets: Vec<usize>,
    /// Every key is there, but some row's values are not what the run wrote (an edit).
    pub values_differ: bool,
}

fn checksum_of(rows: &[(String, u64)]) -> Checksum {
    let mut b = ChecksumBuilder::default();
    rows.iter().for_each(|(k, v)| b.add(k, *v));
    b.finish()
}

fn keys_checksum(keys: &[String]) -> Checksum {
    let mut b = ChecksumBuilder::default();
    keys.iter().for_each(|k| b.add(k, 0));
    b.finish()
}

/// Compares what the sink holds (keys and values digests) with the stored checksum (and the
/// manifest, if any). Runs from before values were checksummed compare keys only.
pub fn compare(
    table: &str,
    expected: &Checksum,
    found_rows: &[(String, u64)],
    manifest: Option<&[String]>,
) -> TableCheck {
    let actual = checksum_of(found_rows);
    let keys_ok = actual.count == expected.count && actual.sum == expected.sum;
    let values_ok = expected.values.is_none() || expected.values == actual.values;
    let mut check = TableCheck {
        table: table.to_string(),
        expected: expected.count,
        found: actual.count,
        ok: keys_ok && values_ok,
        values_differ: keys_ok && !values_ok,
        ..Default::default()
    };
    if check.ok || check.values_differ {
        return check;
    }
    let found: Vec<String> = found_rows.iter().map(|(k, _)| k.clone()).collect();
    let found = &found[..];
    match manifest {
        Some(m) if keys_checksum(m).sum == expected.sum => {
            let want: HashSet<&str> = m.iter().map(String::as_str).collect();
            let have: HashSet<&str> = found.iter().map(String::as_str).collect();
            check.missing = m
                .iter()
                .filter(|k| !have.contains(k.as_str()))
                .cloned()
                .collect();
            check.extra = found
                .iter()
                .filter(|k| !want.contains(k.as_str()))
                .cloned()
                .collect();
            // A key written twice is an extra copy.
            let mut seen = HashSet::new();
            check
                .extra
                .extend(found.iter().filter(|k| !seen.insert(k.as_str())).cloned());
        }
        _ => {
            check.buckets = (0..expected.buckets.len())
                .filter(|&i| expected.buckets.get(i) != actual.buckets.get(i))
                .collect();
        }
    }
    check
}

pub async fn execute(ctx: &Context, args: VerifyArgs) -> ExitCode {
    let run = RunId(args.run);
    let result = async {
        let store = ctx.store().await?;
        let record = store.run(run).await?.ok_or_else(|| anyhow::anyhow!("no run {} in the run store", run))?;
        // A succeeded run that had nothing new to write (an unchanged snapshot file) is fine.
        if record.status == RunStatus::Succeeded && record.counts.rows_written == 0 {
            return Ok(Vec::new());
        }
        if record.counts.quality.is_null() {
            anyhow::bail!("run {run} has no quality record (runs before this version, or a run that failed before loading)");
        }
        let quality: Quality = serde_json::from_value(record.counts.quality.clone())
            .map_err(|e| anyhow::anyhow!("run {run}'s quality record cannot be read ({e}); was it written by a newer version?"))?;
        if quality.checksums.is_empty() {
            anyhow::bail!("run {run} wrote no rows ({}), nothing to verify", record.status);
        }
        let sink = ctx.sink().await?;
        let mut checks = Vec::new();
        let sums: BTreeMap<Table, Checksum> = quality.checksums;
        for (&table, expected) in &sums {
            let name = table.name();
            let check = match &sink {
                AnySink::Local(l) => {
                    let (found, manifest) = l.run_keys(run, table)?;
                    compare(name, expected, &found, manifest.as_deref())
                }
                AnySink::BigQuery(b) => {
                    let found = b.run_keys(run, table).await?;
                    compare(name, expected, &found, None)
                }
            };
            checks.push(check);
        }
        Ok::<_, anyhow::Error>(checks)
    }
    .await;
    let checks = match result {
        Ok(c) => c,
        Err(e) => {
            crate::redact::eprint_error(&format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    if checks.is_empty() {
        println!("run {run} succeeded and wrote no rows: nothing to verify");
        return ExitCode::SUCCESS;
    }
    let mut bad = 0;
    for c in &checks {
        if c.ok {
            println!(
                "ok       {:<22} {} rows, checksum matches",
                c.table, c.found
            );
            continue;
        }
        bad += 1;
        if c.values_differ {
            println!(
                "MISMATCH {:<22} {} rows as expected, but some row's values differ from what the run wrote (edited?)",
                c.table, c.found
            );
            continue;
        }
        println!(
            "MISMATCH {:<22} expected {} rows, found {}",
            c.table, c.expected, c.found
        );
        for k in c.missing.iter().take(20) {
            println!("  missing {k}");
        }
        for k in c.extra.iter().take(20) {
            println!("  extra   {k}");
        }
        if c.missing.len() + c.extra.len() > 40 {
            println!(
                "  ({} missing, {} extra in all)",
                c.missing.len(),
                c.extra.len()
            );
        }
        if !c.buckets.is_empty() {
            println!(
                "  differing key buckets: {:?} (no manifest to name the rows)",
                c.buckets
            );
        }
    }
    if bad == 0 {
        println!("run {run}: every table matches");
        ExitCode::SUCCESS
    } else {
        println!("run {run}: {bad} table(s) differ");
        ExitCode::FAILURE
    }
}
