//! BigQuery result rows to the positional rows of [`crate::sources::columns`]: cells arrive as
//! strings or null; the two timestamps arrive as integer microseconds (`UNIX_MICROS`), which
//! real BigQuery and the emulator send alike.

use std::borrow::Cow;

use gcp_bigquery_client::model::table_row::TableRow;
use serde_json::Value;

use crate::domain::time::Timestamp;
use crate::sources::wire::Scalar;

/// Positions of `UNIX_MICROS(timestamp)` and `UNIX_MICROS(bq_ingested_timestamp)`.
const MICROS_COLUMNS: [usize; 2] = [2, 5];

/// One result row as scalars: empty strings are absent (as PostHog's own rows treat them).
pub fn scalars(row: TableRow) -> Vec<Scalar<'static>> {
    let mut out: Vec<Scalar<'static>> = row
        .columns
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            Scalar(match c.value {
                Some(Value::String(s)) if !s.is_empty() => Some(Cow::Owned(s)),
                Some(Value::Number(n)) => Some(Cow::Owned(n.to_string())),
                Some(Value::Bool(b)) => Some(Cow::Owned(b.to_string())),
                _ => None,
            })
        })
        .collect();
    for i in MICROS_COLUMNS {
        if let Some(Scalar(Some(text))) = out.get_mut(i) {
            if let Ok(micros) = text.parse::<i64>() {
                *text = Cow::Owned(Timestamp::from_micros(micros).to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_become_timestamps_and_empty_cells_absent() {
        let row: TableRow = serde_json::from_value(serde_json::json!({"f": [
            {"v": "u1"}, {"v": "$pageview"}, {"v": "1709287200123456"}, {"v": ""},
            {"v": null}, {"v": "1709287260000000"}, {"v": "s1"}
        ]}))
        .unwrap();
        let cells: Vec<Option<String>> = scalars(row)
            .into_iter()
            .map(|s| s.0.map(|c| c.into_owned()))
            .collect();
        assert_eq!(cells[2].as_deref(), Some("2024-03-01T10:00:00.123456Z"));
        assert_eq!(cells[3], None);
        assert_eq!(cells[4], None);
        assert_eq!(cells[5].as_deref(), Some("2024-03-01T10:01:00.000000Z"));
        assert_eq!(cells[6].as_deref(), Some("s1"));
    }
}
