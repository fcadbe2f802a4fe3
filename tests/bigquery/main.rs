//! The BigQuery sink against a real BigQuery emulator (bqemulator), per-row errors against an
//! HTTP fake (the emulator fails whole requests instead), and token caching.

#[path = "../support/mod.rs"]
mod support;

mod ads;
mod auth;
mod emulator;
mod engine;
mod export;
mod pushdown;
mod rejects;
mod report;
