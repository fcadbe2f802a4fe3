//! What a cycle reads back from its work tables: its counts, and the uuids of the next
//! cursor's tail (small, whatever the events: counts are one row, the tail only the rows the
//! export wrote in the last overlap).

use std::collections::BTreeMap;

use anyhow::Context;

use super::{row, texts, JobError, Work};
use crate::bigquery::{Connection, Param};
use crate::domain::ids::Uuid;
use crate::domain::time::Timestamp;
use crate::http::ErrorKind;

/// A cycle's counts.
#[derive(Debug, Default)]
pub struct Counts {
    /// Rows staged: the new ones and the converting persons' history.
    pub read: u64,
    pub persons: u64,
    pub touchpoints: u64,
    pub conversions: u64,
    /// Credits of this cycle's conversions, per model.
    pub credits_by_model: BTreeMap<String, u64>,
}

/// The counts of the work tables.
pub async fn counts(conn: &Connection, w: &Work) -> Result<Counts, JobError> {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS STRING), \
         (SELECT CAST(COUNT(DISTINCT person_key) AS STRING) FROM {keys}), \
         (SELECT CAST(COUNTIF(fresh) AS STRING) FROM {tp}), \
         (SELECT CAST(COUNTIF(fresh) AS STRING) FROM {conv}) FROM {ev}",
        keys = w.t("person_keys"),
        tp = w.t("touchpoints"),
        conv = w.t("conversions"),
        ev = w.t("ev"),
    );
    let cells = row(conn, &sql, &[]).await?;
    let n = |i: usize| -> u64 {
        cells
            .get(i)
            .cloned()
            .flatten()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let mut out = Counts {
        read: n(0),
        persons: n(1),
        touchpoints: n(2),
        conversions: n(3),
        ..Default::default()
    };
    let sql = format!(
        "SELECT model, CAST(COUNT(*) AS STRING) FROM {} WHERE conversion_id IN \
         (SELECT conversion_id FROM {} WHERE fresh) GROUP BY model",
        w.t("credits"),
        w.t("conversions")
    );
    let mut pages = conn.pages(&sql, &[], 100).await?;
    while let Some(rows) = pages.next().await? {
        for r in rows {
            if let [Some(model), Some(n)] = texts(r).as_slice() {
                out.credits_by_model
                    .insert(model.clone(), n.parse().unwrap_or(0));
            }
        }
    }
    Ok(out)
}

/// The uuids of the staged new rows written at or after `next_from`: the next cursor's tail.
pub async fn tail(
    conn: &Connection,
    w: &Work,
    next_from: Timestamp,
) -> Result<Vec<Uuid>, JobError> {
    let sql = format!(
        "SELECT uuid FROM {} WHERE ingested >= @next_from",
        w.t("ev")
    );
    let params = [Param::Timestamp("next_from", next_from)];
    let mut pages = conn.pages(&sql, &params, 50_000).await?;
    let mut out = Vec::new();
    while let Some(rows) = pages.next().await? {
        for r in rows {
            let text = texts(r).into_iter().next().flatten().unwrap_or_default();
            let uuid = Uuid::parse(&text)
                .with_context(|| format!("the export holds a row with uuid '{text}'"))
                .map_err(|e| (ErrorKind::Permanent, e))?;
            out.push(uuid);
        }
    }
    Ok(out)
}
