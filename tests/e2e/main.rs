//! End-to-end runs of the `attrsync` binary on the embedded default (file source, local sink,
//! SQLite run store) in temporary directories.

#[path = "../support/mod.rs"]
mod support;

mod cursors;
mod embedded;
mod generate;
mod incremental;
mod messages;
mod report;
mod secrets;
mod settings;
mod stores;
