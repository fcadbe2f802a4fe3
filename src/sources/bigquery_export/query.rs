//! The standard-SQL queries the export source runs. Values travel as named parameters
//! (`@from`, `@to`, …); the text holds only the table and property names from the
//! configuration. Every query bounds `timestamp`, the column PostHog's export partitions the
//! table on, so a cycle scans the partitions of its window, not the table's history.

use super::schema::ExportSchema;
use crate::domain::conversion::PropertySlots;
use crate::sources::columns::{property_columns, signal_terms, wanted_events, PROPERTY_COLUMNS};

/// Which rows a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    /// Rows the export wrote in `[@from, @to)` (`bq_ingested_timestamp`), stamped at or after
    /// `@min_ts`. The incremental read.
    Ingested,
    /// Rows stamped in `[@from, @to)`. A backfill day.
    Stamped,
    /// Rows of `@person_ids` / `@distinct_ids` stamped in `[@from, @to)` and written before
    /// `@ingested_before`. Converting persons' history.
    Journeys,
}

/// A property read out of `properties` (a JSON string or JSON: `JSON_VALUE` takes both).
pub fn property(name: &str) -> String {
    // JSONPath with the member name quoted, inside a SQL string literal.
    let member = name.replace('\\', "\\\\").replace('"', "\\\"");
    let path = format!("$.\"{member}\"")
        .replace('\\', "\\\\")
        .replace('\'', "\\'");
    format!("JSON_VALUE(properties, '{path}')")
}

/// The queries for one configuration and table.
#[derive(Debug, Clone)]
pub struct Queries {
    table: String,
    select: String,
    person: &'static str,
    signal: String,
    /// Names of the configured extra properties, in slot order.
    pub extras: Vec<String>,
    /// Event names that are always wanted (conversions, identity, touch events).
    pub events: Vec<String>,
}

impl Queries {
    pub fn new(
        table: &str,
        schema: ExportSchema,
        conversion_events: &[String],
        touch_events: &[String],
        slots: &PropertySlots,
    ) -> Self {
        let extras: Vec<String> = slots.names().to_vec();
        let person = if schema.person_id {
            "person_id"
        } else {
            "CAST(NULL AS STRING)"
        };
        let mut cols: Vec<String> = vec![
            "uuid".into(),
            "event".into(),
            "UNIX_MICROS(timestamp)".into(),
            "distinct_id".into(),
            person.into(),
            "UNIX_MICROS(bq_ingested_timestamp)".into(),
        ];
        cols.extend(property_columns(property, &extras));
        let events = wanted_events(conversion_events, touch_events);
        let signal = signal_terms(property);
        Self {
            table: table.to_string(),
            select: cols.join(", "),
            person,
            signal: format!("(event IN UNNEST(@events) OR {})", signal.join(" OR ")),
            extras,
            events,
        }
    }

    /// Number of columns a row has.
    pub fn width(&self) -> usize {
        6 + PROPERTY_COLUMNS.len() + 1 + self.extras.len()
    }

    fn range(&self, kind: ScanKind) -> String {
        match kind {
            ScanKind::Ingested => "bq_ingested_timestamp >= @from AND bq_ingested_timestamp < @to \
                 AND timestamp >= @min_ts"
                .to_string(),
            ScanKind::Stamped => "timestamp >= @from AND timestamp < @to".to_string(),
            ScanKind::Journeys => format!(
                "timestamp >= @from AND timestamp < @to AND bq_ingested_timestamp < @ingested_before \
                 AND ({} IN UNNEST(@person_ids) OR distinct_id IN UNNEST(@distinct_ids))",
                self.person
            ),
        }
    }

    /// The rows of a scan; paged by BigQuery's page tokens, so no order is needed.
    pub fn select(&self, kind: ScanKind) -> String {
        format!(
            "SELECT {} FROM {} WHERE {} AND {}",
            self.select,
            self.table,
            self.range(kind),
            self.signal
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(person_id: bool) -> ExportSchema {
        ExportSchema {
            person_id,
            json_properties: false,
            partitioned: true,
        }
    }

    #[test]
    fn every_query_bounds_the_partition_column_and_holds_no_data() {
        let mut slots = PropertySlots::default();
        slots.slot("revenue");
        slots.slot("plan's \"type\"");
        let q = Queries::new(
            "`p.d.events`",
            schema(true),
            &["purchase".into()],
            &["$pageview".into()],
            &slots,
        );
        for kind in [ScanKind::Ingested, ScanKind::Stamped, ScanKind::Journeys] {
            let sql = q.select(kind);
            assert!(sql.contains("timestamp >= @"), "{kind:?}: {sql}");
            assert!(
                !sql.contains("purchase"),
                "event names travel as parameters"
            );
            assert!(sql.contains("FROM `p.d.events` WHERE"));
        }
        let sql = q.select(ScanKind::Ingested);
        assert!(sql.contains("timestamp >= @min_ts"));
        assert!(sql.contains(r#"JSON_VALUE(properties, '$."$session_id"')"#));
        assert!(
            sql.contains(r#"JSON_VALUE(properties, '$."plan\'s \\"type\\""')"#),
            "{sql}"
        );
        assert!(q
            .select(ScanKind::Journeys)
            .contains("person_id IN UNNEST(@person_ids)"));
        assert_eq!(q.width(), 6 + 21 + 1 + 2);
        let without = Queries::new(
            "`p.d.e`",
            schema(false),
            &[],
            &[],
            &PropertySlots::default(),
        );
        assert!(without
            .select(ScanKind::Journeys)
            .contains("CAST(NULL AS STRING) IN UNNEST(@person_ids)"));
    }
}
