//! The columns of a path file: names, positions in the header, and the parsing of counts
//! and paths that every reader shares.

use anyhow::Context;

use crate::engine::paths::PathSet;

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

/// Counts and values above this are refused: no real path file has them, and sums of such
/// numbers overflow to infinity (which would credit every channel 0).
pub const MAX_NUMBER: f64 = 1e15;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
