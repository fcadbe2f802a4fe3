//! Who converted in a cycle's new rows, as `sources::marking::Converting` picks them in memory:
//! each converter's PostHog person id where its rows carry one, else its distinct id (and,
//! where the table has no person ids, the ids its links reach in one hop). Their earlier rows
//! are the cycle's history. Result: the work table `conv_ids(id, by_person)` and the span of the
//! new conversions.

use super::conversions::matching;
use super::expr::link_pairs;
use super::{exec, row, JobError, Work};
use crate::bigquery::Connection;
use crate::domain::conversion::ConversionRules;
use crate::domain::time::Timestamp;

/// The statements that build `conv_ids`; `linked` adds the one-hop linked ids.
pub fn statements(w: &Work, rules: &ConversionRules, linked: bool) -> Vec<String> {
    let (ev, ids) = (w.t("ev"), w.t("conv_ids"));
    let mut out = vec![format!(
        "CREATE OR REPLACE TABLE {ids} AS \
         WITH c AS (SELECT DISTINCT distinct_id FROM {ev} \
           WHERE fresh AND distinct_id IS NOT NULL AND {which} IS NOT NULL), \
         p AS (SELECT distinct_id, person_id FROM {ev} \
           WHERE person_id IS NOT NULL AND distinct_id IS NOT NULL \
           QUALIFY ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY ts, uuid) = 1) \
         SELECT DISTINCT IFNULL(p.person_id, c.distinct_id) AS id, p.person_id IS NOT NULL AS by_person \
         FROM c LEFT JOIN p ON p.distinct_id = c.distinct_id",
        which = matching(rules),
    )];
    if linked {
        out.push(format!(
            "INSERT INTO {ids} (id, by_person) SELECT DISTINCT l.other, FALSE FROM (\
             SELECT a AS id, b AS other FROM ({pairs}) UNION ALL SELECT b, a FROM ({pairs})) l \
             WHERE l.id IS NOT NULL AND l.other IS NOT NULL AND l.id != l.other \
             AND l.id IN (SELECT id FROM {ids} WHERE NOT by_person) \
             AND l.other NOT IN (SELECT id FROM {ids} WHERE NOT by_person)",
            pairs = link_pairs(&ev),
        ));
    }
    out
}

/// The first and last new conversion, if any.
fn span(w: &Work, rules: &ConversionRules) -> String {
    format!(
        "SELECT CAST(UNIX_MICROS(MIN(ts)) AS STRING), CAST(UNIX_MICROS(MAX(ts)) AS STRING) \
         FROM {} WHERE fresh AND distinct_id IS NOT NULL AND {} IS NOT NULL",
        w.t("ev"),
        matching(rules)
    )
}

/// Builds `conv_ids` from the staged new rows; the span of their conversions.
pub async fn find(
    conn: &Connection,
    w: &Work,
    rules: &ConversionRules,
    linked: bool,
) -> Result<Option<(Timestamp, Timestamp)>, JobError> {
    for sql in statements(w, rules, linked) {
        exec(conn, &sql, &[]).await?;
    }
    let cells = row(conn, &span(w, rules), &[]).await?;
    let at = |i: usize| {
        cells
            .get(i)
            .cloned()
            .flatten()
            .and_then(|s| s.parse::<i64>().ok())
            .map(Timestamp::from_micros)
    };
    Ok(at(0).zip(at(1)))
}
