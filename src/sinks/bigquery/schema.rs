//! The warehouse tables (docs/ARCHITECTURE.md, "The tables"): columns with types and
//! descriptions, day partitioning, clustering. Changes are additive only.

use crate::sinks::Table;

/// A column: name, BigQuery type, required, description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub required: bool,
    pub description: &'static str,
}

const fn c(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        required: false,
        description,
    }
}

const fn req(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        required: true,
        description,
    }
}

/// A table's layout.
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    pub table: Table,
    pub description: &'static str,
    pub columns: &'static [Column],
    /// Day-partitioned on this TIMESTAMP or DATE column.
    pub partition: &'static str,
    pub cluster: &'static [&'static str],
}

const RUN: [Column; 2] = [
    req(
        "run_id",
        "INTEGER",
        "The sync_runs.id of the run that wrote the row",
    ),
    req(
        "loaded_at",
        "TIMESTAMP",
        "When the row was written; the newest copy of a row_key wins",
    ),
];

const CONVERSIONS: [Column; 11] = [
    req(
        "row_key",
        "STRING",
        "Deterministic key: the conversion event's uuid",
    ),
    req(
        "conversion_id",
        "STRING",
        "PostHog uuid of the conversion event",
    ),
    req(
        "conversion_name",
        "STRING",
        "Configured conversion name ([[conversions]] name)",
    ),
    req("conversion_event", "STRING", "PostHog event name"),
    req(
        "converted_at",
        "TIMESTAMP",
        "When the conversion happened (UTC)",
    ),
    req(
        "person_key",
        "STRING",
        "Resolved person: PostHog person_id, else distinct_id, after identity merges",
    ),
    c(
        "value_micros",
        "INTEGER",
        "Conversion value in millionths of the currency",
    ),
    c("currency", "STRING", "ISO-4217 currency of the value"),
    c(
        "touchpoints_in_window",
        "INTEGER",
        "Touchpoints in the lookback window",
    ),
    RUN[0],
    RUN[1],
];

const TOUCHPOINTS: [Column; 19] = [
    req(
        "row_key",
        "STRING",
        "Deterministic key: the session-start event's uuid",
    ),
    req(
        "touchpoint_id",
        "STRING",
        "PostHog uuid of the session's first event",
    ),
    req("touched_at", "TIMESTAMP", "When the session started (UTC)"),
    req("person_key", "STRING", "Resolved person"),
    c("session_id", "STRING", "PostHog $session_id"),
    req(
        "channel",
        "STRING",
        "Channel group (paid_search, organic_social, direct, …)",
    ),
    c(
        "platform",
        "STRING",
        "Ad platform (google_ads, meta, …) from the click id or utm_source",
    ),
    req(
        "source",
        "STRING",
        "utm_source, else the click id's network or referring domain, else (direct)",
    ),
    req(
        "medium",
        "STRING",
        "utm_medium, else cpc / organic / referral / (none)",
    ),
    c("campaign", "STRING", "utm_campaign"),
    c("campaign_id", "STRING", "utm_id"),
    c("content", "STRING", "utm_content"),
    c("term", "STRING", "utm_term"),
    c(
        "click_id_type",
        "STRING",
        "Click-id parameter seen (gclid, fbclid, …)",
    ),
    c(
        "click_id_masked",
        "BOOLEAN",
        "The click id arrived as <masked>",
    ),
    c("referring_domain", "STRING", "External referring domain"),
    c("landing_url", "STRING", "$current_url of the first event"),
    RUN[0],
    RUN[1],
];

const CREDITS: [Column; 17] = [
    req(
        "row_key",
        "STRING",
        "Deterministic key: conversion uuid:model:touchpoint uuid (or direct)",
    ),
    req(
        "conversion_id",
        "STRING",
        "PostHog uuid of the conversion event",
    ),
    req("conversion_name", "STRING", "Configured conversion name"),
    req(
        "converted_at",
        "TIMESTAMP",
        "When the conversion happened (UTC)",
    ),
    req("person_key", "STRING", "Resolved person"),
    req("model", "STRING", "Attribution model"),
    c(
        "touchpoint_id",
        "STRING",
        "Credited touchpoint; empty when the conversion had none in its window",
    ),
    c(
        "touched_at",
        "TIMESTAMP",
        "When the credited touchpoint happened",
    ),
    req(
        "channel",
        "STRING",
        "Channel of the credited touchpoint (direct when there was none)",
    ),
    c(
        "platform",
        "STRING",
        "Ad platform of the credited touchpoint",
    ),
    c(
        "campaign",
        "STRING",
        "Campaign (utm_campaign) of the credited touchpoint",
    ),
    c(
        "campaign_id",
        "STRING",
        "Campaign id (utm_id) of the credited touchpoint",
    ),
    req(
        "credit",
        "FLOAT",
        "Share of the conversion; a conversion's credits sum to 1 per model",
    ),
    c(
        "credited_value_micros",
        "INTEGER",
        "Share of the value in micros; sums to the value exactly",
    ),
    c("currency", "STRING", "Currency of the value"),
    RUN[0],
    RUN[1],
];

const AD_METRICS: [Column; 15] = [
    req(
        "row_key",
        "STRING",
        "Deterministic key: platform:account:campaign:date",
    ),
    req("platform", "STRING", "Ad platform"),
    req("account_id", "STRING", "Ad account"),
    req("campaign_id", "STRING", "Campaign id on the platform"),
    c("campaign_name", "STRING", "Campaign name on the platform"),
    req("date", "DATE", "Day in the account's time zone"),
    req("currency", "STRING", "Account currency"),
    req(
        "spend_micros",
        "INTEGER",
        "Spend in millionths of the currency",
    ),
    c("impressions", "INTEGER", "Impressions"),
    c("clicks", "INTEGER", "Clicks"),
    c(
        "platform_conversions",
        "FLOAT",
        "Conversions as the platform counts them",
    ),
    c(
        "platform_conversion_value_micros",
        "INTEGER",
        "Conversion value as the platform counts it, in micros",
    ),
    req(
        "pulled_at",
        "TIMESTAMP",
        "When attrsync read the numbers; the newest pull of a key wins",
    ),
    RUN[0],
    RUN[1],
];

const FX_RATES: [Column; 8] = [
    req(
        "row_key",
        "STRING",
        "Deterministic key: reporting_currency:currency:date",
    ),
    req(
        "date",
        "DATE",
        "Day of the rate (the latest earlier rate applies on days without one)",
    ),
    req("currency", "STRING", "Currency converted from"),
    req(
        "reporting_currency",
        "STRING",
        "Currency converted to (reporting.currency)",
    ),
    req(
        "rate",
        "FLOAT",
        "Units of the reporting currency one unit of currency buys on the day",
    ),
    req("source", "STRING", "Where the rate came from: ecb or file"),
    RUN[0],
    RUN[1],
];

const CHANNEL_CREDIT: [Column; 12] = [
    req(
        "row_key",
        "STRING",
        "Deterministic key: run_id:model:channel",
    ),
    req("model", "STRING", "Attribution model"),
    req("channel", "STRING", "Channel"),
    req(
        "conversions",
        "FLOAT",
        "Conversions of the run the model credited to the channel",
    ),
    c(
        "value_micros",
        "INTEGER",
        "Value credited, in micros of currency (NULL when the run's values are in several currencies and no reporting currency is set)",
    ),
    c("currency", "STRING", "ISO 4217 code of value_micros"),
    req(
        "share",
        "FLOAT",
        "The channel's share of the model's conversions in the run",
    ),
    req(
        "share_low",
        "FLOAT",
        "Lower end of the share's bootstrap interval (attribution.confidence)",
    ),
    req("share_high", "FLOAT", "Upper end of the share's bootstrap interval"),
    req(
        "journeys",
        "INTEGER",
        "The run's conversions whose lookback window touched the channel",
    ),
    RUN[0],
    RUN[1],
];

/// The commit markers: one row per committed run.
pub const RUNS_TABLE: &str = "runs";

pub const RUNS: [Column; 4] = [
    req("run_id", "INTEGER", "The sync_runs.id of a committed run"),
    req(
        "job",
        "STRING",
        "The run's job (posthog:…, file:…, ads:…, fx:…)",
    ),
    req(
        "store_id",
        "STRING",
        "The run store that committed it (its store_identity.id)",
    ),
    req("committed_at", "TIMESTAMP", "When the run committed"),
];

/// Every table attrsync writes.
pub const TABLES: [TableDef; 6] = [
    TableDef {
        table: Table::Conversions,
        description: "One row per conversion event (attrsync)",
        columns: &CONVERSIONS,
        partition: "converted_at",
        cluster: &["conversion_event", "person_key"],
    },
    TableDef {
        table: Table::Touchpoints,
        description: "One row per marketing touchpoint: the first event of a session (attrsync)",
        columns: &TOUCHPOINTS,
        partition: "touched_at",
        cluster: &["channel", "platform"],
    },
    TableDef {
        table: Table::AttributionCredits,
        description: "Credit of each conversion to each touchpoint under each model (attrsync)",
        columns: &CREDITS,
        partition: "converted_at",
        cluster: &["model", "channel"],
    },
    TableDef {
        table: Table::AdMetrics,
        description: "Daily campaign metrics from the ad platforms (attrsync)",
        columns: &AD_METRICS,
        partition: "date",
        cluster: &["platform", "campaign_id"],
    },
    TableDef {
        table: Table::FxRates,
        description: "Daily exchange rates to the reporting currency (attrsync)",
        columns: &FX_RATES,
        partition: "date",
        cluster: &["reporting_currency", "currency"],
    },
    TableDef {
        table: Table::ChannelCredit,
        description: "Per run, model and channel: credited conversions, share and its bootstrap interval (attrsync)",
        columns: &CHANNEL_CREDIT,
        partition: "loaded_at",
        cluster: &["model", "channel"],
    },
];

/// The layout of `table`.
pub fn def(table: Table) -> &'static TableDef {
    TABLES
        .iter()
        .find(|t| t.table == table)
        .expect("every table has a definition")
}

/// BigQuery reports INT64/FLOAT64/BOOL under their legacy names; compare canonically.
pub fn canonical(kind: &str) -> &str {
    match kind {
        "INT64" => "INTEGER",
        "FLOAT64" => "FLOAT",
        "BOOL" => "BOOLEAN",
        "STRUCT" => "RECORD",
        k => k,
    }
}
