//! Reads ChannelAttribution's path format: CSV with a path column (`a > b > c`) and columns
//! of conversions, conversion value and nulls.

use std::io::Read;

use anyhow::Context;

use crate::engine::paths::{PathSet, PathStats};

/// Column names and separator.
#[derive(Debug, Clone)]
pub struct PathColumns {
    pub path: String,
    pub conversions: String,
    /// Optional: absent column means value 0.
    pub value: String,
    /// Optional: absent column means no nulls.
    pub nulls: String,
    pub sep: String,
}

impl Default for PathColumns {
    fn default() -> Self {
        Self {
            path: "path".into(),
            conversions: "total_conversions".into(),
            value: "total_conversion_value".into(),
            nulls: "total_null".into(),
            sep: ">".into(),
        }
    }
}

/// A row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

/// Reads all rows; bad rows are returned, not fatal. A missing required column is.
///
/// Files without quotes (the usual case) take a parallel fast path that aggregates rows by
/// their raw path text before splitting it; files with quoted fields go through the csv crate.
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

/// Counts and values above this are refused: no real path file has them, and sums of such
/// numbers overflow to infinity (which would credit every channel 0).
pub const MAX_NUMBER: f64 = 1e15;

/// [`read`] over bytes already in memory. A UTF-8 byte-order mark (spreadsheets write one) is
/// skipped.
pub fn read_bytes(buf: &[u8], cols: &PathColumns) -> anyhow::Result<(PathSet, Vec<BadRow>, u64)> {
    let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    if buf.contains(&b'"') {
        return read_csv(buf, cols);
    }
    super::fastpath::read_unquoted(buf, cols)
}

/// Column positions, from the header.
pub(super) struct Positions {
    pub path: usize,
    pub conversions: usize,
    pub value: Option<usize>,
    pub nulls: Option<usize>,
}

pub(super) fn positions<'a>(
    headers: impl Iterator<Item = &'a [u8]> + Clone,
    cols: &PathColumns,
) -> anyhow::Result<Positions> {
    let find = |name: &str| headers.clone().position(|h| h == name.as_bytes());
    let header_list = || {
        headers
            .clone()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let path = find(&cols.path).with_context(|| {
        format!(
            "no column '{}' (columns: {}); set --path-column",
            cols.path,
            header_list()
        )
    })?;
    let conversions = find(&cols.conversions).with_context(|| {
        format!(
            "no column '{}' (columns: {}); set --conversions-column",
            cols.conversions,
            header_list()
        )
    })?;
    anyhow::ensure!(!cols.sep.trim().is_empty(), "--sep must not be blank");
    Ok(Positions {
        path,
        conversions,
        value: find(&cols.value),
        nulls: find(&cols.nulls),
    })
}

/// Parses a count or value field: a non-negative finite number.
pub(super) fn number(field: Option<&[u8]>, present: bool, what: &str) -> Result<f64, String> {
    match field {
        None if !present => Ok(0.0),
        None => Err(format!("missing {what}")),
        Some(b) => {
            if let Some(v) = simple_decimal(b) {
                return Ok(v);
            }
            let t = std::str::from_utf8(b).unwrap_or("\u{fffd}").trim();
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=MAX_NUMBER).contains(&v) => Ok(v),
                Ok(v) if v.is_finite() && v > MAX_NUMBER => Err(format!(
                    "{what} '{t}' is out of range (at most {MAX_NUMBER:e})"
                )),
                _ => Err(format!("{what} '{t}' is not a non-negative number")),
            }
        }
    }
}

/// `digits[.digits]` with at most 15 significant digits, converted exactly as `str::parse`
/// would (m / 10^k with both exact in f64 rounds once, correctly); `None` for anything else.
fn simple_decimal(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut m: u64 = 0;
    let mut frac_digits: i32 = -1;
    let mut digits = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + (c - b'0') as u64;
                digits += 1;
                if frac_digits >= 0 {
                    frac_digits += 1;
                }
            }
            b'.' if frac_digits < 0 => frac_digits = 0,
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    Some(m as f64 / POW10[frac_digits.max(0) as usize])
}

/// Splits a path into trimmed steps, interning them; `None` when a step is empty.
pub(super) fn split_path(set: &mut PathSet, path: &str, sep: &str, ids: &mut Vec<u32>) -> bool {
    ids.clear();
    for step in path.split(sep) {
        let step = step.trim();
        if step.is_empty() {
            return false;
        }
        ids.push(set.channels.id(step));
    }
    !ids.is_empty()
}

fn read_csv(input: impl Read, cols: &PathColumns) -> anyhow::Result<(PathSet, Vec<BadRow>, u64)> {
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
    fn simple_decimals_parse_exactly_like_std() {
        for t in [
            "0",
            "1",
            "7",
            "123.45",
            "0.1",
            "99999.99",
            "1.",
            "123456789012345",
            "0.0000000000001",
        ] {
            assert_eq!(
                simple_decimal(t.as_bytes()),
                Some(t.parse::<f64>().unwrap()),
                "{t}"
            );
        }
        for t in ["", ".", "-1", "1e5", "1.2.3", " 1", "1234567890123456"] {
            assert_eq!(simple_decimal(t.as_bytes()), None, "{t}");
        }
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
