//! attrsync: PostHog events and ad spend to multi-touch attribution in the warehouse.

pub mod ads;
pub mod bigquery;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod fx;
pub mod generate;
pub mod http;
pub mod memory;
pub mod offline;
pub mod pipeline;
pub mod pushdown;
pub mod redact;
pub mod report;
pub mod scheduler;
pub mod server;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod telemetry;
