//! The cycle's rows into the sink's tables: one `INSERT … SELECT` per table from the work
//! tables, with the in-memory engine's row keys, the run's `run_id` and one `loaded_at`. Only
//! what this cycle owns is written (fresh touchpoints and conversions, and the credits of
//! those conversions); the rows stay invisible to analysts until the run's commit marker.

use super::{exec, JobError, Work};
use crate::bigquery::{Connection, Param};
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;
use crate::sinks::bigquery::schema;
use crate::sinks::Table;

/// The tables a cycle writes, with the work table each comes from, the expression of its
/// `row_key`, and which of its rows the cycle owns.
fn sources(w: &Work) -> [(Table, String, &'static str, String); 3] {
    let fresh_conversions = format!(
        "SELECT conversion_id FROM {} WHERE fresh",
        w.t("conversions")
    );
    [
        (
            Table::Touchpoints,
            w.t("touchpoints"),
            "touchpoint_id",
            "fresh".into(),
        ),
        (
            Table::Conversions,
            w.t("conversions"),
            "conversion_id",
            "fresh".into(),
        ),
        (
            Table::AttributionCredits,
            w.t("credits"),
            "row_key",
            format!("conversion_id IN ({fresh_conversions})"),
        ),
    ]
}

/// `INSERT INTO` the sink's `table` in `project.dataset` from the work tables. Parameters:
/// `@run` (INT64), `@loaded_at` (TIMESTAMP).
pub fn statements(w: &Work, project: &str, dataset: &str) -> Vec<(Table, String)> {
    sources(w)
        .into_iter()
        .map(|(table, from, key, owned)| {
            let cols: Vec<&str> = schema::def(table).columns.iter().map(|c| c.name).collect();
            let values: Vec<String> = cols
                .iter()
                .map(|c| match *c {
                    "row_key" => format!("{key} AS row_key"),
                    "run_id" => "@run AS run_id".into(),
                    "loaded_at" => "@loaded_at AS loaded_at".into(),
                    other => other.to_string(),
                })
                .collect();
            let sql = format!(
                "INSERT INTO `{project}.{dataset}.{}` ({}) SELECT {} FROM {from} WHERE {owned}",
                table.name(),
                cols.join(", "),
                values.join(", ")
            );
            (table, sql)
        })
        .collect()
}

/// Writes the cycle's rows as run `run`.
pub async fn publish(
    conn: &Connection,
    w: &Work,
    (project, dataset): (&str, &str),
    run: RunId,
    loaded_at: Timestamp,
) -> Result<(), JobError> {
    let params = [
        Param::Typed("run".into(), "INT64".into(), run.0.to_string()),
        Param::Timestamp("loaded_at", loaded_at),
    ];
    for (table, sql) in statements(w, project, dataset) {
        tracing::debug!(table = table.name(), "publishing");
        exec(conn, &sql, &params).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sink_column_is_written_with_the_run_columns_as_parameters() {
        let w = Work::new("p", "w", "e_");
        let all = statements(&w, "p", "attribution");
        assert_eq!(all.len(), 3);
        for (table, sql) in &all {
            for c in schema::def(*table).columns {
                assert!(sql.contains(c.name), "{}: {}", table.name(), c.name);
            }
            assert!(sql.contains("@run AS run_id") && sql.contains("@loaded_at AS loaded_at"));
        }
        assert!(all[0]
            .1
            .starts_with("INSERT INTO `p.attribution.touchpoints` (row_key,"));
        assert!(all[2].1.contains(
            "WHERE conversion_id IN (SELECT conversion_id FROM `p.w.e_conversions` WHERE fresh)"
        ));
    }
}
