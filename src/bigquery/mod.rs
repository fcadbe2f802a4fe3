//! BigQuery as a service both sides of a cycle use: one connection (credentials, job
//! project, location, retries), statements with named parameters, and query results read
//! page by page. The sink (`src/sinks/bigquery/`) writes through it; the export source
//! (`src/sources/bigquery_export/`) reads PostHog's batch-export table through it.

pub mod auth;
mod connect;
mod error;
mod jobs;

pub use connect::{Connection, ConnectionConfig};
pub use error::classify;
pub use jobs::{Pages, Param};
