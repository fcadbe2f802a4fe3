//! PostHog's query API on the wire: the request body, the response, the error body.

use serde::{Deserialize, Serialize};

use crate::sources::wire::Scalar;

/// `POST /api/projects/{id}/query/` body.
#[derive(Debug, Serialize)]
pub struct QueryRequest<'a> {
    pub query: HogQlQuery<'a>,
    /// Shown in PostHog's query log.
    pub name: &'a str,
    pub refresh: &'static str,
}

/// A HogQL query with its placeholder values.
#[derive(Debug, Serialize)]
pub struct HogQlQuery<'a> {
    pub kind: &'static str,
    pub query: &'a str,
    pub values: &'a serde_json::Value,
}

/// The parts of a `HogQLQueryResponse` attrsync reads; rows are positional.
#[derive(Debug, Deserialize)]
pub struct QueryResponse<'a> {
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(borrow)]
    pub results: Vec<Vec<Scalar<'a>>>,
    #[serde(default)]
    pub error: Option<String>,
}

/// PostHog's error body (`{"type":"throttled_error","code":"throttled","detail":"…"}`).
#[derive(Debug, Default, Deserialize)]
pub struct ApiError {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl ApiError {
    /// Parses an error body, or keeps a short prefix of whatever it was.
    pub fn from_body(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_else(|_| ApiError {
            detail: Some(crate::redact::snippet(body, 200)),
            ..Default::default()
        })
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.code {
            parts.push(c.clone());
        } else if let Some(k) = &self.kind {
            parts.push(k.clone());
        }
        if let Some(d) = &self.detail {
            parts.push(d.clone());
        }
        if parts.is_empty() {
            "no detail".into()
        } else {
            crate::redact::snippet(parts.join(": ").as_bytes(), 300)
        }
    }

    /// "Expected available in N seconds." from a throttled body.
    pub fn retry_hint(&self) -> Option<std::time::Duration> {
        let d = self.detail.as_deref()?;
        let n = d.split("available in ").nth(1)?.split_whitespace().next()?;
        n.parse::<f64>()
            .ok()
            .map(std::time::Duration::from_secs_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_positional_rows_and_throttle_bodies() {
        let body = br#"{"columns":["uuid","n"],"types":["UUID","Int"],"results":[["a",1],["b",null]],"hasMore":null,"is_cached":false}"#;
        let r: QueryResponse<'_> = serde_json::from_slice(body).unwrap();
        assert_eq!(r.columns, ["uuid", "n"]);
        assert_eq!(r.results[0][1].0.as_deref(), Some("1"));
        assert!(r.results[1][1].0.is_none());
        let e = ApiError::from_body(br#"{"type":"throttled_error","code":"throttled","detail":"Request was throttled. Expected available in 7 seconds.","attr":null}"#);
        assert_eq!(e.retry_hint(), Some(std::time::Duration::from_secs(7)));
        assert!(e.describe().starts_with("throttled: Request was throttled"));
    }
}
