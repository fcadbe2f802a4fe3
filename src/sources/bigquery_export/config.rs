//! `[bigquery_export]` (and the `[bigquery]` connection) as the export source needs them. Only
//! [`BigQueryExportConfig::from_settings`] builds one, so the source checks nothing again.

use std::time::Duration;

use crate::bigquery::ConnectionConfig;
use crate::config::{Problems, Settings};

/// BigQuery returns at most 10 MB per page; past this many rows a page of events would not fit.
const MAX_PAGE_SIZE: u32 = 100_000;

/// A fully qualified table, `project.dataset.table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub project: String,
    pub dataset: String,
    pub table: String,
}

impl TableRef {
    /// Parses `project.dataset.table`; names may not hold backquotes, so quoting is safe.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let ok = |s: &str| !s.is_empty() && !s.contains(['`', ' ', '\\']);
        match parts.as_slice() {
            [p, d, t] if ok(p) && ok(d) && ok(t) => Ok(Self {
                project: p.to_string(),
                dataset: d.to_string(),
                table: t.to_string(),
            }),
            _ => Err(format!(
                "'{text}' is not project.dataset.table (three names without spaces or backquotes)"
            )),
        }
    }

    /// The table in standard SQL, backquoted.
    pub fn sql(&self) -> String {
        format!("`{}.{}.{}`", self.project, self.dataset, self.table)
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.project, self.dataset, self.table)
    }
}

/// Validated `[bigquery_export]` settings.
#[derive(Debug, Clone)]
pub struct BigQueryExportConfig {
    pub(super) conn: ConnectionConfig,
    pub(super) table: TableRef,
    pub(super) page_size: u32,
    pub(super) overlap: Duration,
    pub(super) settle: Duration,
    pub(super) max_lateness: Duration,
    pub(super) persons_per_query: usize,
    pub(super) initial_days: u32,
    pub(super) touch_events: Vec<String>,
}

impl BigQueryExportConfig {
    /// The export table.
    pub fn table(&self) -> &TableRef {
        &self.table
    }

    /// The connection its jobs run on.
    pub fn connection(&self) -> &ConnectionConfig {
        &self.conn
    }

    /// Events that can start a session, besides those with a campaign signal.
    pub fn touch_events(&self) -> &[String] {
        &self.touch_events
    }

    /// Checks `[bigquery_export]` and `[bigquery]`'s connection keys for
    /// `source.kind = "bigquery_export"`; every problem names its key.
    pub fn from_settings(s: &Settings) -> Result<Self, Problems> {
        let e = &s.bigquery_export;
        let mut p = Problems::default();
        let conn = p.take(ConnectionConfig::from_settings(
            &s.bigquery,
            "source.kind = \"bigquery_export\"",
        ));
        let table = match e.table.as_deref().filter(|t| !t.is_empty()) {
            None => {
                p.bad(
                    "bigquery_export.table",
                    "required when source.kind = \"bigquery_export\" (the batch export's project.dataset.table)",
                );
                None
            }
            Some(t) => match TableRef::parse(t) {
                Ok(t) => Some(t),
                Err(m) => {
                    p.bad("bigquery_export.table", m);
                    None
                }
            },
        };
        if e.page_size == 0 || e.page_size > MAX_PAGE_SIZE {
            p.bad(
                "bigquery_export.page_size",
                format!("{} is out of range; use 1 to {MAX_PAGE_SIZE}", e.page_size),
            );
        }
        if e.max_lateness.is_zero() {
            p.bad(
                "bigquery_export.max_lateness",
                "must be positive: it bounds how late an event may arrive and still be read",
            );
        }
        match (conn, table) {
            (Some(conn), Some(table)) if p.is_empty() => Ok(Self {
                conn,
                table,
                page_size: e.page_size,
                overlap: e.overlap,
                settle: e.settle,
                max_lateness: e.max_lateness,
                persons_per_query: e.persons_per_query.max(1) as usize,
                initial_days: e.initial_days,
                touch_events: e.touch_events.clone(),
            }),
            _ => Err(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_needs_three_plain_names() {
        let t = TableRef::parse("acme-prod.posthog.events").unwrap();
        assert_eq!(t.sql(), "`acme-prod.posthog.events`");
        for bad in ["posthog.events", "a.b.c.d", "a..c", "a.b.`c`", "a.b.c d"] {
            assert!(TableRef::parse(bad).is_err(), "{bad}");
        }
    }
}
