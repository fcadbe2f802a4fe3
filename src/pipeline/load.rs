//! The load step: encode rows in parallel and hand them to the sink in bounded chunks.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::attribute::Attributed;
use super::quality::RowCounts;
use super::rows::{self, RowMeta};
use crate::domain::checksum::ChecksumBuilder;
use crate::domain::ids::RunId;
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

impl Loaded {
    /// Rows produced against rows the sink acknowledged.
    pub fn counts(&self) -> RowCounts {
        RowCounts {
            produced: self.produced,
            acknowledged: self.acknowledged,
        }
    }
}

/// Writes already-encoded rows of one table in chunks (ad metrics, exchange rates).
pub async fn write_table<K: Sink>(
    sink: &K,
    run: RunId,
    table: Table,
    mut rows: Vec<EncodedRow>,
) -> Result<Loaded, SinkError> {
    let mut loaded = Loaded::default();
    for r in &rows {
        loaded.checksum.add(&r.row_key, r.values);
    }
    loaded.produced = rows.len() as u64;
    while !rows.is_empty() {
        let tail = rows.split_off(rows.len().min(CHUNK_ROWS));
        loaded.acknowledged += sink.write(run, table, rows).await?;
        rows = tail;
    }
    Ok(loaded)
}

/// Encodes and writes `items` a chunk at a time; `per_item` is about how many rows one item
/// makes, so a chunk holds about [`CHUNK_ROWS`] rows (one conversion makes a credit row per
/// model and touch: chunks of 20,000 conversions were 270,000 rows of fresh memory each).
async fn write_chunks<T: Sync, K: Sink>(
    sink: &K,
    (meta, table): (RowMeta, Table),
    (items, per_item): (&[T], usize),
    encode: impl Fn(&T) -> Vec<EncodedRow> + Sync,
    written: &mut BTreeMap<Table, Loaded>,
) -> Result<(), SinkError> {
    let entry = written.entry(table).or_default();
    let (mut encoding, mut writing) = (Duration::ZERO, Duration::ZERO);
    for chunk in items.chunks((CHUNK_ROWS / per_item.max(1)).max(1)) {
        let t = Instant::now();
        let rows: Vec<EncodedRow> = chunk.par_iter().flat_map_iter(&encode).collect();
        if rows.is_empty() {
            continue;
        }
        for r in &rows {
            entry.checksum.add(&r.row_key, r.values);
        }
        entry.produced += rows.len() as u64;
        encoding += t.elapsed();
        let t = Instant::now();
        entry.acknowledged += sink.write(meta.run_id, table, rows).await?;
        writing += t.elapsed();
    }
    tracing::debug!(
        table = table.name(),
        encode_secs = encoding.as_secs_f64(),
        write_secs = writing.as_secs_f64(),
        "load: table written"
    );
    Ok(())
}

/// Writes the run's new touchpoints, new conversions and their credits; returns what was
/// produced and acknowledged per table.
pub async fn load<K: Sink>(
    sink: &K,
    meta: RowMeta,
    att: &Attributed,
) -> Result<BTreeMap<Table, Loaded>, SinkError> {
    let mut written = BTreeMap::new();
    let touches: Vec<&Touchpoint> = att.new_touchpoints().collect();
    write_chunks(
        sink,
        (meta, Table::Touchpoints),
        (&touches, 1),
        |t| vec![rows::touchpoint(t, meta)],
        &mut written,
    )
    .await?;
    super::failpoint::hit(super::failpoint::AFTER_TOUCHPOINTS).await;
    write_chunks(
        sink,
        (meta, Table::Conversions),
        (&att.credited, 1),
        |c| {
            vec![rows::conversion(
                &att.conversions[c.index],
                c.touches_in_window,
                meta,
            )]
        },
        &mut written,
    )
    .await?;
    let credits: usize = att.credited.iter().map(|c| c.credits.len()).sum();
    let per_conversion = credits.div_ceil(att.credited.len().max(1));
    write_chunks(
        sink,
        (meta, Table::AttributionCredits),
        (&att.credited, per_conversion),
        |credited| {
            let c = &att.conversions[credited.index];
            let journey = att.journeys.of(&c.person);
            credited
                .credits
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
