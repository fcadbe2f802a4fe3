//! The load step: encode rows in parallel and hand them to the sink in bounded chunks.

use std::collections::BTreeMap;

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::attribute::Attributed;
use super::quality::RowCounts;
use super::rows::{self, RowMeta};
use crate::domain::checksum::ChecksumBuilder;
use crate::domain::ids::RunId;
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

/// Encodes rows `range` of a table's items (on a blocking thread, in parallel).
type Encoder = Arc<dyn Fn(Range<usize>) -> Vec<EncodedRow> + Send + Sync>;

/// Encodes and writes `n` items a chunk at a time, encoding the next chunk while the sink
/// writes the current one; `per_item` is about how many rows one item makes, so a chunk holds
/// about [`CHUNK_ROWS`] rows (one conversion makes a credit row per model and touch: chunks of
/// 20,000 conversions were 270,000 rows of fresh memory each).
async fn write_chunks<K: Sink>(
    sink: &K,
    (meta, table): (RowMeta, Table),
    (n, per_item): (usize, usize),
    encode: Encoder,
    written: &mut BTreeMap<Table, Loaded>,
) -> Result<(), SinkError> {
    let entry = written.entry(table).or_default();
    let step = (CHUNK_ROWS / per_item.max(1)).max(1);
    let ranges: Vec<Range<usize>> = (0..n).step_by(step).map(|s| s..(s + step).min(n)).collect();
    // The chunk's checksum is taken beside the encoding, not on the thread that writes.
    let start = |r: Range<usize>| {
        let encode = Arc::clone(&encode);
        tokio::task::spawn_blocking(move || {
            let rows = encode(r);
            let mut checksum = ChecksumBuilder::default();
            for r in &rows {
                checksum.add(&r.row_key, r.values);
            }
            (rows, checksum)
        })
    };
    let (mut waiting, mut writing) = (Duration::ZERO, Duration::ZERO);
    let mut next = ranges.first().cloned().map(start);
    for i in 0..ranges.len() {
        let t = Instant::now();
        let encoded = next.take().expect("a chunk in flight").await;
        let (rows, checksum) = encoded.map_err(|e| {
            SinkError::Permanent(anyhow::Error::new(e).context("encoding rows panicked"))
        })?;
        next = ranges.get(i + 1).cloned().map(start);
        entry.checksum.merge(&checksum);
        waiting += t.elapsed();
        if rows.is_empty() {
            continue;
        }
        entry.produced += rows.len() as u64;
        let t = Instant::now();
        entry.acknowledged += sink.write(meta.run_id, table, rows).await?;
        writing += t.elapsed();
    }
    tracing::debug!(
        table = table.name(),
        encode_wait_secs = waiting.as_secs_f64(),
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
    att: &Arc<Attributed>,
) -> Result<BTreeMap<Table, Loaded>, SinkError> {
    let mut written = BTreeMap::new();
    let fresh: Arc<Vec<usize>> = Arc::new(
        att.journeys
            .touchpoints()
            .iter()
            .enumerate()
            .filter(|(_, t)| t.fresh)
            .map(|(i, _)| i)
            .collect(),
    );
    let encode: Encoder = {
        let (att, fresh) = (Arc::clone(att), Arc::clone(&fresh));
        Arc::new(move |r| {
            let all = att.journeys.touchpoints();
            fresh[r]
                .par_iter()
                .map(|&i| rows::touchpoint(&all[i], meta))
                .collect()
        })
    };
    let n = fresh.len();
    write_chunks(
        sink,
        (meta, Table::Touchpoints),
        (n, 1),
        encode,
        &mut written,
    )
    .await?;
    super::failpoint::hit(super::failpoint::AFTER_TOUCHPOINTS).await;
    let encode: Encoder = {
        let att = Arc::clone(att);
        Arc::new(move |r| {
            att.credited[r]
                .par_iter()
                .map(|c| rows::conversion(&att.conversions[c.index], c.touches_in_window, meta))
                .collect()
        })
    };
    let n = att.credited.len();
    write_chunks(
        sink,
        (meta, Table::Conversions),
        (n, 1),
        encode,
        &mut written,
    )
    .await?;
    let credits: usize = att.credited.iter().map(|c| c.credits.len()).sum();
    let per_conversion = credits.div_ceil(n.max(1));
    let encode: Encoder = {
        let att = Arc::clone(att);
        Arc::new(move |r| {
            att.credited[r]
                .par_iter()
                .flat_map_iter(|credited| {
                    let c = &att.conversions[credited.index];
                    let journey = att.journeys.of(c.person_ix);
                    let shared = rows::CreditRows::new(c, meta);
                    credited.credits.iter().map(move |cr| {
                        let touch = cr
                            .touchpoint
                            .and_then(|u| journey.iter().find(|t| t.uuid == u));
                        shared.row(cr, touch)
                    })
                })
                .collect()
        })
    };
    let tables = (meta, Table::AttributionCredits);
    write_chunks(sink, tables, (n, per_conversion), encode, &mut written).await?;
    Ok(written)
}
