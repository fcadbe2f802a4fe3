//! What the export table must hold. PostHog's BigQuery batch export (its events model, see
//! posthog.com/docs/cdp/batch-exports/bigquery and `bigquery_default_fields` in PostHog's
//! batch-export code) writes `uuid`, `event`, `properties` (STRING, or JSON when the export was
//! created with JSON types), `elements`, `set`, `set_once`, `distinct_id`, `team_id`, `ip`,
//! `site_url`, `timestamp` and `bq_ingested_timestamp`; newer models add `person_id` and
//! `person_properties`. Attribution reads the columns below.

use gcp_bigquery_client::model::field_type::FieldType;
use gcp_bigquery_client::model::table::Table;

/// Columns attribution cannot do without, with the types they may have.
const REQUIRED: [(&str, &[&str]); 6] = [
    ("uuid", &["STRING"]),
    ("event", &["STRING"]),
    ("properties", &["STRING", "JSON"]),
    ("distinct_id", &["STRING"]),
    ("timestamp", &["TIMESTAMP"]),
    ("bq_ingested_timestamp", &["TIMESTAMP"]),
];

/// What the table offers beyond the required columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSchema {
    /// `person_id` is there (PostHog's person after merges); else identity comes from
    /// `$identify` / `$create_alias` events alone.
    pub person_id: bool,
    /// `properties` is BigQuery's JSON type rather than a JSON string.
    pub json_properties: bool,
    /// The table is partitioned by day on `timestamp`, so the timestamp bounds prune it.
    pub partitioned: bool,
}

fn type_name(t: &FieldType) -> &'static str {
    match t {
        FieldType::String => "STRING",
        FieldType::Json => "JSON",
        FieldType::Timestamp => "TIMESTAMP",
        FieldType::Integer | FieldType::Int64 => "INT64",
        _ => "OTHER",
    }
}

impl ExportSchema {
    /// Reads the table's description; every missing or mistyped column is named.
    pub fn of(table: &Table) -> Result<Self, String> {
        let fields: Vec<(&str, &'static str)> = table
            .schema
            .fields
            .iter()
            .flatten()
            .map(|f| (f.name.as_str(), type_name(&f.r#type)))
            .collect();
        let find = |name: &str| fields.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
        let mut missing = Vec::new();
        let mut mistyped = Vec::new();
        for (name, types) in REQUIRED {
            match find(name) {
                None => missing.push(name),
                Some(t) if !types.contains(&t) => {
                    mistyped.push(format!("{name} is {t}, expected {}", types.join(" or ")))
                }
                Some(_) => {}
            }
        }
        if !missing.is_empty() || !mistyped.is_empty() {
            let mut parts = Vec::new();
            if !missing.is_empty() {
                parts.push(format!("missing column(s): {}", missing.join(", ")));
            }
            parts.extend(mistyped);
            return Err(format!(
                "{}; the table must be written by PostHog's BigQuery batch export (events model)",
                parts.join("; ")
            ));
        }
        Ok(Self {
            person_id: find("person_id") == Some("STRING"),
            json_properties: find("properties") == Some("JSON"),
            partitioned: table
                .time_partitioning
                .as_ref()
                .is_some_and(|p| p.field.as_deref() == Some("timestamp")),
        })
    }

    /// One line for `check` and the logs.
    pub fn describe(&self) -> String {
        format!(
            "properties as {}, {}, {}",
            if self.json_properties {
                "JSON"
            } else {
                "a JSON string"
            },
            if self.person_id {
                "person_id present"
            } else {
                "no person_id (identity from $identify and $create_alias events)"
            },
            if self.partitioned {
                "partitioned by day on timestamp"
            } else {
                "NOT partitioned on timestamp: every query scans the whole table"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
    use gcp_bigquery_client::model::table_schema::TableSchema;

    fn table(cols: &[(&str, FieldType)]) -> Table {
        let fields = cols
            .iter()
            .map(|(n, t)| TableFieldSchema::new(n, t.clone()))
            .collect();
        Table::new("p", "d", "events", TableSchema::new(fields))
    }

    #[test]
    fn names_every_missing_column_and_accepts_both_property_types() {
        let err = ExportSchema::of(&table(&[
            ("uuid", FieldType::String),
            ("event", FieldType::String),
            ("properties", FieldType::Integer),
        ]))
        .unwrap_err();
        assert!(
            err.contains("missing column(s): distinct_id, timestamp, bq_ingested_timestamp"),
            "{err}"
        );
        assert!(
            err.contains("properties is INT64, expected STRING or JSON"),
            "{err}"
        );
        let mut cols = vec![
            ("uuid", FieldType::String),
            ("event", FieldType::String),
            ("properties", FieldType::Json),
            ("distinct_id", FieldType::String),
            ("timestamp", FieldType::Timestamp),
            ("bq_ingested_timestamp", FieldType::Timestamp),
        ];
        let s = ExportSchema::of(&table(&cols)).unwrap();
        assert!(s.json_properties && !s.person_id && !s.partitioned);
        cols[2].1 = FieldType::String;
        cols.push(("person_id", FieldType::String));
        let s = ExportSchema::of(&table(&cols)).unwrap();
        assert!(!s.json_properties && s.person_id);
    }
}
