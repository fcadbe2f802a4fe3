//! The rows the `_latest` views keep, read from the committed files: newest run first, a
//! group (a row key, or a conversion and model) taken from the newest run that wrote it.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// A stable 64-bit hash of key parts.
pub fn hash(parts: &[&str]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(7).hash_one(parts)
}

/// Streams the committed rows of `table`, newest run first, passing on only the rows of groups
/// (`group`: a row key, or a conversion and model) that no newer run wrote: the rows the
/// `_latest` views keep. Memory holds one hash per group, not the rows. Returns the files read.
pub fn newest_first<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    table: &str,
    group: impl Fn(&T) -> u64,
    mut each: impl FnMut(T),
) -> anyhow::Result<usize> {
    let d = dir.join(table);
    let entries = match fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", d.display())),
    };
    let mut files: Vec<(u64, std::path::PathBuf)> = Vec::new();
    for e in entries {
        let p = e?.path();
        let run = p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok());
        if let (Some(run), true) = (run, p.extension().is_some_and(|x| x == "ndjson")) {
            files.push((run, p));
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut seen: HashSet<u64> = HashSet::new();
    for (_, p) in &files {
        let mut this: HashSet<u64> = HashSet::new();
        let f = fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {}", p.display()))?;
            let row: T = serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", p.display(), i + 1))?;
            let g = group(&row);
            if seen.contains(&g) {
                continue;
            }
            this.insert(g);
            each(row);
        }
        seen.extend(this);
    }
    Ok(files.len())
}
