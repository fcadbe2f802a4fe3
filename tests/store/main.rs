//! Run-store tests against the real PostgreSQL (`DATABASE_URL`), a fresh database each.

#[path = "../support/mod.rs"]
mod support;

mod backends;
mod crash;
mod postgres;
mod recovery;
