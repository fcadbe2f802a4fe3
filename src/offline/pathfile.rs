//! Reads ChannelAttribution's path format: CSV with a path column (`a > b > c`) and columns
//! of conversions, conversion value and nulls.

use std::io::Read;

use anyhow::Context;

use super::columns::{number, positions, split_path};
pub use super::columns::{BadRow, PathColumns, MAX_NUMBER};
use crate::engine::paths::{PathSet, PathStats};

/// Reads all rows into a path set; bad rows are returned, not fatal. A missing required
/// column is.
///
/// Files without quotes (the usual case) are scanned in parallel ([`super::scan`]); files
/// with quoted fields go through the csv crate.
pub fn read(
    mut input: impl Read,
    cols: &PathColumns,
) -> anyhow::Result<(PathSet, Vec<BadRow>, u64)> {
    let mut buf = Vec::new();
    input
        .read_to_end(&mut buf)
        .context("cannot read the path file")?;
    read_bytes(&buf, cols)
}

/// [`read`] over bytes already in memory. A UTF-8 byte-order mark (spreadsheets write one) is
/// skipped.
pub fn read_bytes(buf: &[u8], cols: &PathColumns) -> anyhow::Result<(PathSet, Vec<BadRow>, u64)> {
    let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    if memchr::memchr(b'"', buf).is_some() {
        return read_csv(buf, cols);
    }
    match super::scan::scan(&mut &buf[..], cols, PathSet::default)? {
        Some(scan) => Ok((scan.tally, scan.bad, scan.rows)),
        None => read_csv(buf, cols),
    }
}

/// Reads rows with quoted fields (through the csv crate) into a path set.
pub fn read_csv(
    input: impl Read,
    cols: &PathColumns,
) -> anyhow::Result<(PathSet, Vec<BadRow>, u64)> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, input));
    let headers = rdr
        .byte_headers()
        .context("cannot read the CSV header")?
        .clone();
    let pos = positions(headers.iter(), cols)?;
    let sep = cols.sep.trim();
    let mut set = PathSet::default();
    let mut bad = Vec::new();
    let mut rows = 0u64;
    let mut rec = csv::ByteRecord::new();
    let mut ids: Vec<u32> = Vec::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                bad.push(BadRow {
                    line,
                    reason: e.to_string(),
                });
                continue;
            }
        }
        rows += 1;
        let line = rec.position().map_or(0, |p| p.line());
        let parsed = (|| -> Result<PathStats, String> {
            Ok(PathStats {
                conversions: number(rec.get(pos.conversions), true, &cols.conversions)?,
                value: number(
                    pos.value.and_then(|i| rec.get(i)),
                    pos.value.is_some(),
                    &cols.value,
                )?,
                nulls: number(
                    pos.nulls.and_then(|i| rec.get(i)),
                    pos.nulls.is_some(),
                    &cols.nulls,
                )?,
            })
        })();
        let stats = match parsed {
            Ok(s) => s,
            Err(reason) => {
                bad.push(BadRow { line, reason });
                continue;
            }
        };
        let Some(path) = rec.get(pos.path).map(String::from_utf8_lossy) else {
            bad.push(BadRow {
                line,
                reason: format!("missing {}", cols.path),
            });
            continue;
        };
        if !split_path(&mut set, &path, sep, &mut ids) {
            bad.push(BadRow {
                line,
                reason: format!("path '{path}' has an empty step"),
            });
            continue;
        }
        set.add_ids(&ids, stats);
    }
    Ok((set, bad, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paths_and_reports_bad_rows_by_line() {
        let csv = "path,total_conversions,total_conversion_value,total_null\n\
                   a > b > c,1,10.5,2\n\
                   a>b>c,2,4,0\n\
                   b,x,0,1\n\
                   a >  > c,1,1,1\n\
                   c,1,1,-3\n\
                   \"search > social\",0,0,5\n";
        // The quote sends this through the csv crate; the same rows unquoted take the fast path.
        let (set, bad, rows) = read(csv.as_bytes(), &PathColumns::default()).unwrap();
        assert_eq!(rows, 6);
        assert_eq!(set.paths.len(), 2);
        let abc: Vec<u32> = ["a", "b", "c"]
            .iter()
            .map(|c| set.channels.get(c).unwrap())
            .collect();
        assert_eq!(
            set.paths[&abc[..]],
            PathStats {
                conversions: 3.0,
                nulls: 2.0,
                value: 14.5
            }
        );
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [4, 5, 6]);
        assert!(bad[0].reason.contains("total_conversions 'x'"));
    }

    #[test]
    fn fast_path_agrees_with_the_csv_reader() {
        let text = "path,total_conversions,total_conversion_value,total_null\r\na > b > c,1,10.5,2\r\na>b>c,2,4,0\nb,x,0,1\na >  > c,1,1,1\nc,1,1,-3\nsearch > social,0,0,5";
        let (fast, fast_bad, fast_rows) = read(text.as_bytes(), &PathColumns::default()).unwrap();
        let (slow, slow_bad, slow_rows) =
            read_csv(text.as_bytes(), &PathColumns::default()).unwrap();
        assert_eq!(fast_rows, slow_rows);
        assert_eq!(fast_bad, slow_bad);
        assert_eq!(fast.total(), slow.total());
        assert_eq!(fast.paths.len(), slow.paths.len());
    }

    #[test]
    fn optional_columns_and_custom_names() {
        let csv = "journey,conv\nfb | email,2\n";
        let cols = PathColumns {
            path: "journey".into(),
            conversions: "conv".into(),
            sep: "|".into(),
            ..Default::default()
        };
        let (set, bad, _) = read(csv.as_bytes(), &cols).unwrap();
        assert!(bad.is_empty());
        assert_eq!(
            set.total(),
            PathStats {
                conversions: 2.0,
                nulls: 0.0,
                value: 0.0
            }
        );
        let err = read("p,c\n".as_bytes(), &PathColumns::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no column 'path'") && err.contains("--path-column"),
            "{err}"
        );
    }
}
