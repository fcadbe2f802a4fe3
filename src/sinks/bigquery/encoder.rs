//! Packs encoded rows into `tabledata.insertAll` bodies bounded by row count and bytes.

use crate::sinks::EncodedRow;

/// One request body and the rows in it (indices into the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub body: Vec<u8>,
    pub rows: Vec<usize>,
}

const HEAD: &[u8] = br#"{"kind":"bigquery#tableDataInsertAllRequest","skipInvalidRows":false,"ignoreUnknownValues":false,"rows":["#;
const TAIL: &[u8] = b"]}";

fn row_entry(r: &EncodedRow, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"insertId":"#);
    out.extend_from_slice(
        serde_json::to_string(&r.row_key)
            .expect("string")
            .as_bytes(),
    );
    out.extend_from_slice(br#","json":"#);
    out.extend_from_slice(r.json.as_bytes());
    out.push(b'}');
}

/// Why rows cannot be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("row {row_key} is {bytes} bytes, more than bigquery.batch_bytes ({limit}) allows in one request")]
pub struct TooLarge {
    pub row_key: String,
    pub bytes: usize,
    pub limit: usize,
}

/// Packs `which` rows of `rows` in order: at most `max_rows` per body and at most `max_bytes`
/// of JSON body (the exact bytes sent before compression).
pub fn pack(
    rows: &[EncodedRow],
    which: &[usize],
    max_rows: usize,
    max_bytes: usize,
) -> Result<Vec<Batch>, TooLarge> {
    let mut out = Vec::new();
    let mut cur = Batch {
        body: HEAD.to_vec(),
        rows: Vec::new(),
    };
    let mut entry = Vec::new();
    for &i in which {
        entry.clear();
        row_entry(&rows[i], &mut entry);
        let needed = entry.len() + usize::from(!cur.rows.is_empty()) + TAIL.len();
        if !cur.rows.is_empty()
            && (cur.rows.len() >= max_rows || cur.body.len() + needed > max_bytes)
        {
            cur.body.extend_from_slice(TAIL);
            out.push(std::mem::replace(
                &mut cur,
                Batch {
                    body: HEAD.to_vec(),
                    rows: Vec::new(),
                },
            ));
        }
        if HEAD.len() + entry.len() + TAIL.len() > max_bytes {
            return Err(TooLarge {
                row_key: rows[i].row_key.clone(),
                bytes: entry.len(),
                limit: max_bytes,
            });
        }
        if !cur.rows.is_empty() {
            cur.body.push(b',');
        }
        cur.body.extend_from_slice(&entry);
        cur.rows.push(i);
    }
    if !cur.rows.is_empty() {
        cur.body.extend_from_slice(TAIL);
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, width: usize) -> Vec<EncodedRow> {
        (0..n)
            .map(|i| EncodedRow {
                row_key: format!("k{i}"),
                json: format!(r#"{{"row_key":"k{i}","pad":"{}"}}"#, "x".repeat(width)),
                values: 0,
            })
            .collect()
    }

    #[test]
    fn bodies_are_valid_json_within_both_bounds() {
        let r = rows(1000, 200);
        let all: Vec<usize> = (0..r.len()).collect();
        let batches = pack(&r, &all, 500, 30_000).unwrap();
        assert!(
            batches.len() > 2,
            "the byte bound splits before the row bound"
        );
        let mut seen = 0;
        for b in &batches {
            assert!(b.body.len() <= 30_000);
            assert!(b.rows.len() <= 500);
            let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap();
            let rs = v["rows"].as_array().unwrap();
            assert_eq!(rs.len(), b.rows.len());
            assert_eq!(rs[0]["insertId"], r[b.rows[0]].row_key.as_str());
            assert_eq!(rs[0]["json"]["row_key"], r[b.rows[0]].row_key.as_str());
            seen += b.rows.len();
        }
        assert_eq!(seen, 1000);
        let by_rows = pack(&r, &all, 300, 10_000_000).unwrap();
        assert_eq!(
            by_rows.iter().map(|b| b.rows.len()).collect::<Vec<_>>(),
            [300, 300, 300, 100]
        );
    }

    #[test]
    fn a_row_larger_than_a_request_is_refused_by_key() {
        let r = rows(3, 5000);
        let err = pack(&r, &[0, 1, 2], 500, 2000).unwrap_err();
        assert_eq!(err.row_key, "k0");
    }
}
