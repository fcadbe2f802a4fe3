//! The load step: encode rows in parallel and hand them to the sink in bounded chunks.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::attribute::Attributed;
use super::rows::{self, RowMeta};
use crate::domain::checksum::ChecksumBuilder;
use crate::domain::touchpoint::Touchpoint;
use crate::sinks::{EncodedRow, Sink, SinkError, Table};

/// Rows encoded and written per sink call.
pub const CHUNK_ROWS: usize = 20_000;

/// What the load did per table.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub produced: u64,
    pub acknowledged: u64,
    pub checksum: ChecksumBuilder,
}

async fn write_chunks<T: Sync, K: Sink>(
    sink: &K,
    meta: RowMeta,
    table: Table,
    items: &[T],
    encode: impl Fn(&T) -> Vec<EncodedRow> + Sync,
    written: &mut BTreeMap<String, Loaded>,
) -> Result<(), SinkError> {
    let entry = written.entry(table.name().to_string()).or_default();
    for chunk in items.chunks(CHUNK_ROWS) {
        let rows: Vec<EncodedRow> = chunk.par_iter().flat_map_iter(&encode).collect();
        if rows.is_empty() {
            continue;
        }
        for r in &rows {
            entry.checksum.add(&r.row_key, r.values);
        }
        entry.produced += rows.len() as u64;
        entry.acknowledged += sink.write(meta.run_id, table, rows).await?;
    }
    Ok(())
}

/// Writes the run's new touchpoints, new conversions and their credits; returns what was
/// produced and acknowledged per table.
pub async fn load<K: Sink>(
    sink: &K,
    meta: RowMeta,
    att: &Attributed,
) -> Result<BTreeMap<String, Loaded>, SinkError> {
    let mut written = BTreeMap::new();
    let touches: Vec<&Touchpoint> = att.new_touchpoints().collect();
    write_chunks(
        sink,
        meta,
        Table::Touchpoints,
        &touches,
        |t| vec![rows::touchpoint(t, meta)],
        &mut written,
    )
    .await?;
    super::failpoint::hit(super::failpoint::AFTER_TOUCHPOINTS).await;
    write_chunks(
        sink,
        meta,
        Table::Conversions,
        &att.credited,
        |(i, in_window, _)| vec![rows::conversion(&att.conversions[*i], *in_window, meta)],
        &mut written,
    )
    .await?;
    write_chunks(
        sink,
        meta,
        Table::AttributionCredits,
        &att.credited,
        |(i, _, credits)| {
            let c = &att.conversions[*i];
            let journey = att.journeys.of(&c.person);
            credits
                .iter()
                .map(|cr| {
                    let touch = cr
                        .touchpoint
                        .and_then(|u| journey.iter().find(|t| t.uuid == u));
                    rows::credit(c, cr, touch, meta)
                })
                .collect()
        },
        &mut written,
    )
    .await?;
    Ok(written)
}
