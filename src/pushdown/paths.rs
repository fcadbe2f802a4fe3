//! The data-driven models, split between BigQuery and attrsync as the in-memory engine's
//! `engine::training::training_paths` defines their training set: SQL turns every conversion's
//! window into a channel path (`conv_paths`) and every person's touches after their last
//! conversion into a non-converting one (`null_paths`), and aggregates the distinct paths
//! with their conversion, null and value counts — a small table. attrsync fits Markov and
//! Shapley on it with the engine's own code, computes each converting path's per-touch
//! weights, and writes them back (`dd_weights`, a chunk of paths per job); `credits.rs`
//! spreads them over each conversion's touches. attrsync's memory grows with the distinct
//! paths, not with events.

use super::{exec, texts, JobError, Work};
use crate::bigquery::{Connection, Param};
use crate::engine::models::markov::{self, StepLimit};
use crate::engine::models::shapley::{self, PathTransform};
use crate::engine::paths::{PathSet, PathStats};

/// Separates channel names inside a path. (A control character would be safer, but the
/// emulator does not carry one through a query parameter.) Channel names may not contain it;
/// the engine's configuration check will say so once `engine.kind` exists.
pub const SEP: &str = " > ";

/// Converting paths whose weights go back in one job: each request stays far under BigQuery's
/// 10 MB limit (about 1 MB), and attrsync holds one chunk's text at a time.
pub const CHUNK_PATHS: usize = 5_000;

/// The statements that build `conv_paths` and `null_paths`; `lookback_micros` is the plan's
/// (non-converting journeys count within it of their last touch).
fn statements(w: &Work, lookback_micros: i64) -> [String; 2] {
    let (conv, tp) = (w.t("conversions"), w.t("touchpoints"));
    [
        format!(
            "CREATE OR REPLACE TABLE {} AS SELECT c.conversion_id, \
             STRING_AGG(t.channel, ' > ' ORDER BY t.touched_at, t.touchpoint_id) AS path, \
             MIN(IFNULL(c.value_micros, 0)) AS value_micros, MIN(UNIX_MICROS(c.converted_at)) AS at \
             FROM {conv} c JOIN {tp} t ON t.person_key = c.person_key \
             AND UNIX_MICROS(t.touched_at) >= UNIX_MICROS(c.converted_at) - c.lookback \
             AND t.touched_at <= c.converted_at GROUP BY c.conversion_id",
            w.t("conv_paths")
        ),
        format!(
            "CREATE OR REPLACE TABLE {} AS \
             WITH lastc AS (SELECT person_key, MAX(converted_at) AS at FROM {conv} GROUP BY person_key), \
             lastt AS (SELECT person_key, MAX(touched_at) AS last FROM {tp} GROUP BY person_key) \
             SELECT t.person_key, \
             STRING_AGG(t.channel, ' > ' ORDER BY t.touched_at, t.touchpoint_id) AS path \
             FROM {tp} t JOIN lastt l ON l.person_key = t.person_key \
             LEFT JOIN lastc c ON c.person_key = t.person_key \
             WHERE UNIX_MICROS(t.touched_at) >= UNIX_MICROS(l.last) - {lookback_micros} \
             AND (c.at IS NULL OR t.touched_at > c.at) GROUP BY t.person_key",
            w.t("null_paths")
        ),
    ]
}

/// The distinct paths, each with its counts and the key of its first occurrence in the
/// engine's order (conversions by time, then non-converting persons by key), so channels get
/// the same ids as in memory.
fn distinct(w: &Work) -> String {
    format!(
        "SELECT path, CAST(SUM(conv) AS STRING), CAST(SUM(nulls) AS STRING), \
         CAST(SUM(value_micros) AS STRING), MIN(first) FROM (\
         SELECT path, 1 AS conv, 0 AS nulls, value_micros, \
         CONCAT('0', FORMAT('%020d', at), conversion_id) AS first FROM {} \
         UNION ALL SELECT path, 0, 1, 0, CONCAT('1', person_key) FROM {}) GROUP BY path",
        w.t("conv_paths"),
        w.t("null_paths")
    )
}

/// Builds the distinct paths, fits the data-driven models on them and writes each converting
/// path's per-touch weights to `dd_weights(model, path, idx, weight)`, `chunk_paths` paths per
/// job ([`CHUNK_PATHS`]). Returns the number of distinct paths.
pub async fn fit(
    conn: &Connection,
    w: &Work,
    lookback_micros: i64,
    markov_order: Option<usize>,
    shapley_transform: Option<PathTransform>,
    chunk_paths: usize,
) -> Result<usize, JobError> {
    for sql in statements(w, lookback_micros) {
        exec(conn, &sql, &[]).await?;
    }
    let mut rows: Vec<(String, f64, f64, i64, String)> = Vec::new();
    let mut pages = conn.pages(&distinct(w), &[], 50_000).await?;
    while let Some(page) = pages.next().await? {
        for r in page {
            let cells: Vec<String> = texts(r)
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect();
            let num = |i: usize| cells[i].parse::<f64>().unwrap_or(0.0);
            rows.push((
                cells[0].clone(),
                num(1),
                num(2),
                cells[3].parse().unwrap_or(0),
                cells[4].clone(),
            ));
        }
    }
    rows.sort_by(|a, b| a.4.cmp(&b.4));
    let mut set = PathSet::default();
    let mut converting: Vec<(String, Vec<u32>)> = Vec::new();
    for (path, conversions, nulls, value_micros, _) in &rows {
        let ids: Vec<u32> = path.split(SEP).map(|c| set.channels.id(c)).collect();
        set.add_ids(
            &ids,
            PathStats {
                conversions: *conversions,
                nulls: *nulls,
                value: *value_micros as f64 / 1e6,
            },
        );
        if *conversions > 0.0 {
            converting.push((path.clone(), ids));
        }
    }
    let markov_fit = markov_order.map(|order| markov::fit(&set, order, StepLimit::Exact));
    let shapley_fit = shapley_transform.map(|t| shapley::fit(&set, t));
    let table = w.t("dd_weights");
    let create = format!(
        "CREATE OR REPLACE TABLE {table} (model STRING, path STRING, idx INT64, weight FLOAT64)"
    );
    exec(conn, &create, &[]).await?;
    // Each touch's weight travels inside one text per path ("w1,w2,…", f64s that read back
    // exactly), so a chunk's request stays small.
    let insert = format!(
        "INSERT INTO {table} (model, path, idx, weight) \
         SELECT m, p, i + 1, CAST(x AS FLOAT64) FROM UNNEST(@models) AS m WITH OFFSET o1 \
         JOIN UNNEST(@paths) AS p WITH OFFSET o2 ON o1 = o2 \
         JOIN UNNEST(@weights) AS ws WITH OFFSET o3 ON o1 = o3 \
         CROSS JOIN UNNEST(SPLIT(ws, ',')) AS x WITH OFFSET i"
    );
    let mut scratch = Vec::new();
    for chunk in converting.chunks(chunk_paths.max(1)) {
        let (mut models, mut paths, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        let mut push = |model: &str, path: &str, ws: &[f64]| {
            models.push(model.to_string());
            paths.push(path.to_string());
            let text: Vec<String> = ws.iter().map(|x| format!("{x:?}")).collect();
            weights.push(text.join(","));
        };
        for (path, ids) in chunk {
            if let Some(f) = &markov_fit {
                f.journey_weights(ids, &mut scratch);
                push("markov", path, &scratch);
            }
            if let Some(f) = &shapley_fit {
                f.journey_weights(ids, &mut scratch);
                push("shapley", path, &scratch);
            }
        }
        let params = [
            Param::StringArray("models", models),
            Param::StringArray("paths", paths),
            Param::StringArray("weights", weights),
        ];
        exec(conn, &insert, &params).await?;
    }
    Ok(rows.len())
}
