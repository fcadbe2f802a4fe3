//! The PostHog source against a fake PostHog server (real HTTP, PostHog's paging, limits and
//! failures), through the whole pipeline with the local sink and a SQLite run store.

#[path = "../support/mod.rs"]
mod support;

mod fixture;
mod limits;
mod reading;
