//! One classification of BigQuery client failures, for every seam that calls BigQuery.

use anyhow::anyhow;
use gcp_bigquery_client::error::BQError;

use crate::http::{status_kind, ErrorKind};

/// Is a client error worth retrying? Network errors, 429, 5xx and BigQuery's backend and rate
/// reasons are; bad requests, permissions and missing tables are not. `what` names the call.
pub fn classify(e: BQError, what: &str) -> (ErrorKind, anyhow::Error) {
    match &e {
        BQError::RequestError(_) | BQError::NoToken => {
            (ErrorKind::Transient, anyhow!("{what}: {e}"))
        }
        BQError::ResponseError { error } => {
            let n = &error.error;
            let reasons: Vec<&str> = n
                .errors
                .iter()
                .filter_map(|m| m.get("reason").map(String::as_str))
                .collect();
            // BigQuery's own reasons mark some failures retryable whatever the status.
            let transient = status_kind(u16::try_from(n.code).unwrap_or(0)).is_transient()
                || reasons.iter().any(|r| {
                    matches!(
                        *r,
                        "backendError" | "internalError" | "rateLimitExceeded" | "quotaExceeded"
                    )
                });
            let hint = match n.code {
                401 | 403 => "; the service account needs roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project",
                404 => "; check the project, dataset and table names",
                _ => "",
            };
            let err = anyhow!(
                "{what}: HTTP {} {} ({}){hint}",
                n.code,
                n.message,
                reasons.join(", ")
            );
            let kind = if transient {
                ErrorKind::Transient
            } else {
                ErrorKind::Permanent
            };
            (kind, err)
        }
        _ => (ErrorKind::Permanent, anyhow!("{what}: {e}")),
    }
}
