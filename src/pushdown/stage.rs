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

/// `CREATE OR REPLACE TABLE <work>ev AS …` over `table` (backquoted); `person_id` says whether
/// the table has that column. Parameters: `@from`, `@to` (TIMESTAMP), `@events` (ARRAY<STRING>).
pub fn stage(work: &Work, table: &str, person_id: bool, extras: &[String]) -> String {
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
    format!(
        "CREATE OR REPLACE TABLE {} AS SELECT {} FROM {table} \
         WHERE timestamp >= @from AND timestamp < @to AND (event IN UNNEST(@events) OR {}) \
         QUALIFY ROW_NUMBER() OVER (PARTITION BY uuid ORDER BY bq_ingested_timestamp) = 1",
        work.t("ev"),
        cols.join(", "),
        signal_terms(property).join(" OR ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_named_columns_within_the_partition_bounds() {
        let work = Work::new("p", "w", "run_7_");
        let sql = stage(&work, "`p.d.e`", false, &["revenue".into()]);
        assert!(sql.starts_with(
            "CREATE OR REPLACE TABLE `p.w.run_7_ev` AS SELECT uuid, event, timestamp AS ts"
        ));
        assert!(
            sql.contains(r#"NULLIF(JSON_VALUE(properties, '$."$session_id"'), '') AS session_id"#)
        );
        assert!(sql.contains("AS anon_distinct_id") && sql.contains("AS x0"));
        assert!(sql.contains("CAST(NULL AS STRING) AS person_id"));
        assert!(sql.contains("WHERE timestamp >= @from AND timestamp < @to"));
    }
}
