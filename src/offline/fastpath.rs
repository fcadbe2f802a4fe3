//! The parallel reader for unquoted path files: rows are aggregated by their raw path text
//! first (one hash per row), and only distinct paths are split into channels.

use rayon::prelude::*;

use super::columns::{number, positions, split_path, BadRow, PathColumns, Positions};
use crate::engine::paths::{PathSet, PathStats};

type FxMap<K, V> = crate::domain::collections::FastMap<K, V>;

struct Partial<'a> {
    paths: FxMap<&'a [u8], PathStats>,
    /// (line within the chunk, 0-based; reason).
    bad: Vec<(u64, String)>,
    lines: u64,
    rows: u64,
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_chunk<'a>(chunk: &'a [u8], pos: &Positions, cols: &PathColumns) -> Partial<'a> {
    let mut p = Partial {
        paths: FxMap::default(),
        bad: Vec::new(),
        lines: 0,
        rows: 0,
    };
    let mut fields: Vec<&[u8]> = Vec::with_capacity(8);
    for (i, raw) in chunk.split(|&b| b == b'\n').enumerate() {
        p.lines = i as u64 + 1;
        let line = trim_cr(raw);
        if line.is_empty() {
            continue;
        }
        p.rows += 1;
        fields.clear();
        fields.extend(line.split(|&b| b == b','));
        let stats = (|| -> Result<PathStats, String> {
            Ok(PathStats {
                conversions: number(
                    fields.get(pos.conversions).copied(),
                    true,
                    &cols.conversions,
                )?,
                value: number(
                    pos.value.and_then(|i| fields.get(i).copied()),
                    pos.value.is_some(),
                    &cols.value,
                )?,
                nulls: number(
                    pos.nulls.and_then(|i| fields.get(i).copied()),
                    pos.nulls.is_some(),
                    &cols.nulls,
                )?,
            })
        })();
        match (stats, fields.get(pos.path)) {
            (Ok(s), Some(path)) => p.paths.entry(path).or_default().add(s),
            (Ok(_), None) => p.bad.push((i as u64, format!("missing {}", cols.path))),
            (Err(reason), _) => p.bad.push((i as u64, reason)),
        }
    }
    // A chunk that ends with a newline has no line after it.
    if chunk.last() == Some(&b'\n') {
        p.lines -= 1;
    }
    p
}

/// Reads a path file that has no quoted fields.
pub(super) fn read_unquoted(
    buf: &[u8],
    cols: &PathColumns,
) -> anyhow::Result<(PathSet, Vec<BadRow>, u64)> {
    let header_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let header = trim_cr(&buf[..header_end]);
    let pos = positions(header.split(|&b| b == b','), cols)?;
    let body = &buf[(header_end + 1).min(buf.len())..];
    let pieces = rayon::current_num_threads().max(1) * 4;
    let mut chunks: Vec<&[u8]> = Vec::with_capacity(pieces);
    let mut start = 0;
    for k in 1..=pieces {
        let mut end = body.len() * k / pieces;
        if k < pieces {
            end = match body[end.max(start)..].iter().position(|&b| b == b'\n') {
                Some(i) => end.max(start) + i + 1,
                None => body.len(),
            };
        }
        if end > start {
            chunks.push(&body[start..end]);
            start = end;
        }
    }
    let partials: Vec<Partial<'_>> = chunks
        .par_iter()
        .map(|c| parse_chunk(c, &pos, cols))
        .collect();
    let mut raw: FxMap<&[u8], PathStats> = FxMap::default();
    let mut bad = Vec::new();
    let mut rows = 0;
    let mut first_line = 2; // the header is line 1
    for p in partials {
        for (l, reason) in p.bad {
            bad.push(BadRow {
                line: first_line + l,
                reason,
            });
        }
        for (k, s) in p.paths {
            raw.entry(k).or_default().add(s);
        }
        rows += p.rows;
        first_line += p.lines;
    }
    let sep = cols.sep.trim();
    let mut set = PathSet::default();
    let mut ids = Vec::new();
    let mut keys: Vec<(&[u8], PathStats)> = raw.into_iter().collect();
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (path, stats) in keys {
        let text = String::from_utf8_lossy(path);
        if !split_path(&mut set, &text, sep, &mut ids) {
            // Report every row that had this path: find them again (rare).
            for (i, line) in buf.split(|&b| b == b'\n').enumerate().skip(1) {
                if trim_cr(line).split(|&b| b == b',').nth(pos.path) == Some(path) {
                    bad.push(BadRow {
                        line: i as u64 + 1,
                        reason: format!("path '{text}' has an empty step"),
                    });
                }
            }
            continue;
        }
        set.add_ids(&ids, stats);
    }
    bad.sort_by_key(|b| b.line);
    Ok((set, bad, rows))
}
