//! Every run measures and records its own quality: reconciliation, identity, coverage,
//! checksums; `verify` re-checks a run against the sink.

#[path = "../support/mod.rs"]
mod support;

mod credit;
mod measures;
mod reconcile;
mod spend;
