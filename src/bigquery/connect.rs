//! One authenticated client for a job project, built from the checked `[bigquery]` settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gcp_bigquery_client::client_builder::ClientBuilder;

use super::auth::{self, AuthChoice, AuthInputs, MetadataAuthenticator, StaticToken};
use crate::config::{BigQuerySettings, Problems};
use crate::http::RetryPolicy;

/// The part of `[bigquery]` every BigQuery user needs: where jobs run and how to sign in.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The project jobs run in (and are billed to).
    pub project_id: String,
    pub location: String,
    pub credentials_path: Option<PathBuf>,
    pub endpoint: Option<String>,
    pub max_attempts: u32,
    pub timeout: Duration,
}

impl ConnectionConfig {
    /// Checks `[bigquery]`'s connection keys; `why` says which setting needs them.
    pub fn from_settings(s: &BigQuerySettings, why: &str) -> Result<Self, Problems> {
        let mut p = Problems::default();
        match s.project_id.clone().filter(|id| !id.is_empty()) {
            Some(project_id) => Ok(Self {
                project_id,
                location: s.location.clone(),
                credentials_path: s.credentials_path.clone(),
                endpoint: s.endpoint.clone(),
                max_attempts: s.max_attempts.max(1),
                timeout: s.timeout,
            }),
            None => {
                p.bad(
                    "bigquery.project_id",
                    format!("required when {why} (set ATTRSYNC__BIGQUERY__PROJECT_ID)"),
                );
                Err(p)
            }
        }
    }
}

/// An authenticated client and where its jobs run.
#[derive(Clone)]
pub struct Connection {
    pub client: gcp_bigquery_client::Client,
    pub project: String,
    pub location: String,
    pub auth: AuthChoice,
    pub retry: RetryPolicy,
    /// Query jobs started through this connection (and its clones), for the cycle's report.
    pub jobs: Arc<std::sync::atomic::AtomicU64>,
    /// Bytes BigQuery billed for the statements run to completion through it.
    pub bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("project", &self.project)
            .field("auth", &self.auth)
            .finish()
    }
}

impl Connection {
    /// Connects with the credentials chosen by [`auth::choose`].
    pub async fn open(s: &ConnectionConfig) -> anyhow::Result<Self> {
        let http = crate::http::build_client(s.timeout)?;
        let inputs = AuthInputs::from_env(s.credentials_path.clone(), s.endpoint.is_some());
        let probe_http = http.clone();
        let choice = auth::choose(&inputs, |host| async move {
            auth::probe_metadata(&probe_http, &host).await
        })
        .await?;
        tracing::info!(auth = %choice.describe(), "BigQuery credentials");
        let mut builder = ClientBuilder::new();
        builder.with_client(http.clone());
        if let Some(e) = &s.endpoint {
            builder.with_v2_base_url(format!("{}/bigquery/v2", e.trim_end_matches('/')));
        }
        let client = match &choice {
            AuthChoice::ServiceAccountKey(p) => builder
                .build_from_service_account_key_file(&p.to_string_lossy())
                .await
                .with_context(|| format!("cannot use the service-account key {}", p.display()))?,
            AuthChoice::AuthorizedUser(p) => builder
                .build_from_authorized_user_authenticator(p)
                .await
                .with_context(|| {
                    format!("cannot use the authorized-user credentials {}", p.display())
                })?,
            AuthChoice::MetadataServer(host) => {
                builder
                    .build_from_authenticator(Arc::new(MetadataAuthenticator::new(http, host)))
                    .await?
            }
            AuthChoice::None => {
                builder
                    .build_from_authenticator(Arc::new(StaticToken("emulator".into())))
                    .await?
            }
        };
        Ok(Self {
            client,
            project: s.project_id.clone(),
            location: s.location.clone(),
            auth: choice,
            retry: RetryPolicy::new(s.max_attempts, s.max_attempts.saturating_mul(50)),
            jobs: Arc::default(),
            bytes: Arc::default(),
        })
    }
}
