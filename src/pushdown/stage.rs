//! The run's events as a work table `ev`: the rows of the export table stamped in
//! `[@from, @to)` that the export source would read (the wanted events and any with a
//! campaign signal), one per uuid (the export delivers at least once), with the properties
//! attribution reads as columns. Empty strings are NULL, as the in-memory engine reads them.

use super::Work;
use crate::sources::bigquery_export::query::property;
use crate::sources::columns::{signal_terms, ALIAS, PROPERTY_COLUMNS};

/// The column a property is staged in: its name without `$`; extras are `x0`, `x1`, ….
pub fn column(name: &str) -> String {
    name.trim_start_matches('$').to_string()
}

/// The staged columns of the export rows that `range` selects (and that the export source
/// would read: wanted events, or a campaign signal), with `fresh` as the row's freshness.
fn select(table: &str, person_id: bool, extras: &[String], range: &str, fresh: &str) -> String {
    let text = |expr: String, alias: &str| format!("NULLIF({expr}, '') AS {alias}");
    let mut cols = vec![
        "uuid".to_string(),
        "event".into(),
        "timestamp AS ts".into(),
        text("distinct_id".into(), "distinct_id"),
        if person_id {
            text("person_id".into(), "person_id")
        } else {
            "CAST(NULL AS STRING) AS person_id".into()
        },
        "bq_ingested_timestamp AS ingested".into(),
    ];
    for p in PROPERTY_COLUMNS.iter().chain([&ALIAS]) {
        cols.push(text(property(p), &column(p)));
    }
    for (i, e) in extras.iter().enumerate() {
        cols.push(text(property(e), &format!("x{i}")));
    }
    cols.push(format!("{fresh} AS fresh"));
    format!(
        "SELECT {} FROM {table} WHERE {range} AND (event IN UNNEST(@events) OR {})",
        cols.join(", "),
        signal_terms(property).join(" OR ")
    )
}

/// One row per uuid: the export delivers at least once.
const ONCE: &str =
    "QUALIFY ROW_NUMBER() OVER (PARTITION BY uuid ORDER BY bq_ingested_timestamp) = 1";

/// A cycle's new rows into `ev` from `table` (backquoted; `person_id` says whether it has
/// that column): incremental, those the export wrote in `[@from, @to)` stamped
/// in `[@min_ts, @latest]`, fresh unless in `@tail`; a backfill day (`incremental` false),
/// those stamped in `[@from, @to)` and not after `@latest`, all fresh.
pub fn stage_new(
    work: &Work,
    table: &str,
    person_id: bool,
    extras: &[String],
    incremental: bool,
) -> String {
    let (range, fresh) = if incremental {
        (
            "bq_ingested_timestamp >= @from AND bq_ingested_timestamp < @to \
             AND timestamp >= @min_ts AND timestamp <= @latest",
            "uuid NOT IN UNNEST(@tail)",
        )
    } else {
        (
            "timestamp >= @from AND timestamp < @to AND timestamp <= @latest",
            "TRUE",
        )
    };
    format!(
        "CREATE OR REPLACE TABLE {} AS {} {ONCE}",
        work.t("ev"),
        select(table, person_id, extras, range, fresh)
    )
}

/// The converting persons' earlier rows added to `ev` as history (not fresh): those of the
/// ids in `conv_ids` stamped in `[@from, @to)` that the export wrote before
/// `@ingested_before`, and not staged already.
pub fn stage_history(work: &Work, table: &str, person_id: bool, extras: &[String]) -> String {
    let person = if person_id {
        "person_id"
    } else {
        "CAST(NULL AS STRING)"
    };
    let ids = work.t("conv_ids");
    let range = format!(
        "timestamp >= @from AND timestamp < @to AND bq_ingested_timestamp < @ingested_before \
         AND ({person} IN (SELECT id FROM {ids} WHERE by_person) \
         OR distinct_id IN (SELECT id FROM {ids} WHERE NOT by_person)) \
         AND uuid NOT IN (SELECT uuid FROM {ev})",
        ev = work.t("ev")
    );
    format!(
        "INSERT INTO {} {} {ONCE}",
        work.t("ev"),
        select(table, person_id, extras, &range, "FALSE")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_named_columns_within_the_partition_bounds() {
        let work = Work::new("p", "w", "run_7_");
        let sql = stage_new(&work, "`p.d.e`", false, &["revenue".into()], false);
        assert!(sql.starts_with(
            "CREATE OR REPLACE TABLE `p.w.run_7_ev` AS SELECT uuid, event, timestamp AS ts"
        ));
        assert!(
            sql.contains(r#"NULLIF(JSON_VALUE(properties, '$."$session_id"'), '') AS session_id"#)
        );
        assert!(sql.contains("AS anon_distinct_id") && sql.contains("AS x0"));
        assert!(sql.contains("CAST(NULL AS STRING) AS person_id"));
        assert!(sql.contains("WHERE timestamp >= @from AND timestamp < @to"));
        for sql in [
            stage_new(&work, "`p.d.e`", true, &[], true),
            stage_new(&work, "`p.d.e`", true, &[], false),
            stage_history(&work, "`p.d.e`", true, &[]),
        ] {
            let upper = sql.contains("timestamp < @") || sql.contains("timestamp <= @");
            assert!(sql.contains("timestamp >= @") && upper, "{sql}");
        }
    }
}
