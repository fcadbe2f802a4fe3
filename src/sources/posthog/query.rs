//! The HogQL queries attrsync sends. Every parameter travels in `values` placeholders; the
//! query text is fixed per configuration, so it never contains data.

use crate::domain::conversion::PropertySlots;
use crate::domain::time::Timestamp;
use crate::sources::columns::{
    property_columns, signal_terms, wanted_events, FIXED, PROPERTY_COLUMNS,
};

/// Query names, as they appear in PostHog's query log.
pub const COUNT: &str = "attrsync_count";
pub const EVENTS: &str = "attrsync_events";
pub const JOURNEYS: &str = "attrsync_journeys";
pub const CHECK: &str = "attrsync_check";

/// A property reference in HogQL: `properties.$name`, or backquoted when it needs it.
fn property(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    {
        format!("properties.{name}")
    } else {
        format!("properties.`{}`", name.replace('`', "\\`"))
    }
}

/// Which rows a scan reads, and in which order it pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    /// Events PostHog ingested in `[{from}, {to})` (`created_at`), stamped at or after
    /// `{min_ts}`; paged by (created_at, uuid). The incremental read.
    Ingested,
    /// Events stamped in `[{from}, {to})`; paged by (timestamp, uuid). A backfill day.
    Stamped,
    /// Events of `{person_ids}` / `{distinct_ids}` stamped in `[{from}, {to})` and ingested
    /// before `{ingested_before}`; paged by (timestamp, uuid). Converting persons' history.
    Journeys,
}

impl ScanKind {
    /// The column pages are ordered and continued by.
    pub fn key(self) -> &'static str {
        match self {
            ScanKind::Ingested => "created_at",
            ScanKind::Stamped | ScanKind::Journeys => "timestamp",
        }
    }

    /// The position of the key column in a row.
    pub fn key_index(self) -> usize {
        FIXED
            .iter()
            .position(|c| *c == self.key())
            .expect("a fixed column")
    }

    fn range(self) -> String {
        let t =
            |col: &str, op: &str, p: &str| format!("{col} {op} toDateTime64({{{p}}}, 6, 'UTC')");
        match self {
            ScanKind::Ingested => format!(
                "{} AND {} AND {}",
                t("created_at", ">=", "from"),
                t("created_at", "<", "to"),
                t("timestamp", ">=", "min_ts")
            ),
            ScanKind::Stamped => {
                format!("{} AND {}", t("timestamp", ">=", "from"), t("timestamp", "<", "to"))
            }
            ScanKind::Journeys => format!(
                "{} AND {} AND {} AND (person_id IN {{person_ids}} OR distinct_id IN {{distinct_ids}})",
                t("timestamp", ">=", "from"),
                t("timestamp", "<", "to"),
                t("created_at", "<", "ingested_before")
            ),
        }
    }
}

/// The fixed parts of the queries for one configuration.
#[derive(Debug, Clone)]
pub struct Queries {
    select: String,
    /// Which events matter: the wanted names or any marketing signal.
    signal: String,
    /// Names of the configured extra properties, in slot order.
    pub extras: Vec<String>,
    /// Event names that are always wanted (conversions, identity, touch events).
    pub events: Vec<String>,
}

impl Queries {
    pub fn new(
        conversion_events: &[String],
        touch_events: &[String],
        slots: &PropertySlots,
    ) -> Self {
        let extras: Vec<String> = slots.names().to_vec();
        let mut cols: Vec<String> = FIXED.iter().map(|c| c.to_string()).collect();
        cols.extend(property_columns(property, &extras));
        let events = wanted_events(conversion_events, touch_events);
        let signal = signal_terms(property);
        Self {
            select: cols.join(", "),
            signal: format!("(event IN {{events}} OR {})", signal.join(" OR ")),
            extras,
            events,
        }
    }

    /// Number of columns a page row has.
    pub fn width(&self) -> usize {
        FIXED.len() + PROPERTY_COLUMNS.len() + 1 + self.extras.len()
    }

    fn filter(&self, kind: ScanKind) -> String {
        format!("{} AND {}", kind.range(), self.signal)
    }

    /// `SELECT count()` over a scan.
    pub fn count(&self, kind: ScanKind) -> String {
        format!("SELECT count() FROM events WHERE {}", self.filter(kind))
    }

    /// One keyset page of a scan, ascending by (key, uuid); `after` adds the compound
    /// predicate that continues after the last row of the previous page.
    pub fn page(&self, kind: ScanKind, after: bool, limit: u32) -> String {
        let k = kind.key();
        let cont = if after {
            format!(
                " AND ({k} > toDateTime64({{after_ts}}, 6, 'UTC') \
                 OR ({k} = toDateTime64({{after_ts}}, 6, 'UTC') AND uuid > toUUID({{after_uuid}})))"
            )
        } else {
            String::new()
        };
        format!(
            "SELECT {} FROM events WHERE {}{cont} ORDER BY {k} ASC, uuid ASC LIMIT {limit}",
            self.select,
            self.filter(kind)
        )
    }
}

/// A timestamp as a ClickHouse DateTime64 literal value: `2024-01-15 10:00:00.123000`.
pub fn ch_time(t: Timestamp) -> String {
    let s = t.to_string();
    s.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_has_placeholders_and_no_data() {
        let mut slots = PropertySlots::default();
        slots.slot("revenue");
        slots.slot("plan type");
        let q = Queries::new(&["purchase".into()], &["$pageview".into()], &slots);
        let page = q.page(ScanKind::Ingested, true, 10_000);
        assert!(page.contains("{from}") && page.contains("{to}") && page.contains("{events}"));
        assert!(page.contains("{min_ts}") && page.contains("created_at >= toDateTime64({from}"));
        assert!(page.contains("{after_ts}") && page.contains("{after_uuid}"));
        assert!(page.contains("ORDER BY created_at ASC, uuid ASC LIMIT 10000"));
        assert!(page.contains("properties.revenue") && page.contains("properties.`plan type`"));
        assert!(!page.contains("purchase"), "event names travel in values");
        assert_eq!(q.width(), 6 + 21 + 1 + 2);
        assert!(!q.page(ScanKind::Stamped, false, 10).contains("after_ts"));
        assert!(q
            .page(ScanKind::Journeys, false, 10)
            .contains("ORDER BY timestamp ASC, uuid ASC"));
        assert_eq!(
            q.events,
            [
                "$create_alias",
                "$identify",
                "$merge_dangerously",
                "$pageview",
                "purchase"
            ]
        );
        assert_eq!(
            ch_time(Timestamp::parse("2024-01-15T10:00:00.5Z").unwrap()),
            "2024-01-15 10:00:00.500000"
        );
    }
}
