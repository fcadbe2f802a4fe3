//! How attrsync authenticates to BigQuery (the sink and the export source), chosen in order
//! and logged (never the secret): a service-account key file (`bigquery.credentials_path` or
//! GOOGLE_APPLICATION_CREDENTIALS), the GCE/GKE/Cloud Run metadata server (workload identity),
//! an authorized-user ADC file. With `bigquery.endpoint` set and no key file: no auth (an
//! emulator).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::error::BQError;
use tokio::sync::Mutex;

/// The scope attrsync asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";
/// Refresh a cached token this long before it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Which credentials to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChoice {
    ServiceAccountKey(PathBuf),
    MetadataServer(String),
    AuthorizedUser(PathBuf),
    None,
}

impl AuthChoice {
    /// For the log line.
    pub fn describe(&self) -> String {
        match self {
            AuthChoice::ServiceAccountKey(p) => format!("service-account key file {}", p.display()),
            AuthChoice::MetadataServer(h) => format!("metadata server {h} (workload identity)"),
            AuthChoice::AuthorizedUser(p) => format!("authorized-user credentials {}", p.display()),
            AuthChoice::None => "no authentication (emulator endpoint)".into(),
        }
    }
}

/// Where the credentials could come from.
#[derive(Debug, Clone, Default)]
pub struct AuthInputs {
    pub credentials_path: Option<PathBuf>,
    /// GOOGLE_APPLICATION_CREDENTIALS.
    pub env_credentials: Option<PathBuf>,
    /// GCE_METADATA_HOST, else `metadata.google.internal`.
    pub metadata_host: String,
    /// The gcloud ADC file, if it exists.
    pub adc_file: Option<PathBuf>,
    pub endpoint_set: bool,
}

impl AuthInputs {
    /// From the settings and the process environment.
    pub fn from_env(credentials_path: Option<PathBuf>, endpoint_set: bool) -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let adc = std::env::var_os("CLOUDSDK_CONFIG")
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".config/gcloud")))
            .map(|d| d.join("application_default_credentials.json"))
            .filter(|p| p.is_file());
        Self {
            credentials_path,
            env_credentials: std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")
                .map(PathBuf::from)
                .filter(|p| !p.as_os_str().is_empty()),
            metadata_host: std::env::var("GCE_METADATA_HOST")
                .unwrap_or_else(|_| "metadata.google.internal".into()),
            adc_file: adc,
            endpoint_set,
        }
    }
}

fn key_kind(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| anyhow::anyhow!("{} is not a JSON credentials file", path.display()))?;
    // The file's secrets never show, whatever echoes them (a token endpoint's error body).
    for k in [
        "private_key",
        "private_key_id",
        "client_secret",
        "refresh_token",
    ] {
        if let Some(s) = v[k].as_str() {
            crate::redact::register(s);
        }
    }
    Ok(v["type"].as_str().unwrap_or("").to_string())
}

/// Picks the credentials in the documented order; `metadata_up` probes the metadata server.
pub async fn choose<F, Fut>(inputs: &AuthInputs, metadata_up: F) -> anyhow::Result<AuthChoice>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = bool>,
{
    if let Some(p) = inputs
        .credentials_path
        .as_ref()
        .or(inputs.env_credentials.as_ref())
    {
        return match key_kind(p)?.as_str() {
            "service_account" => Ok(AuthChoice::ServiceAccountKey(p.clone())),
            "authorized_user" => Ok(AuthChoice::AuthorizedUser(p.clone())),
            other => anyhow::bail!(
                "{} has credentials of type '{other}'; bigquery.credentials_path needs a service-account key (type service_account)",
                p.display()
            ),
        };
    }
    if inputs.endpoint_set {
        return Ok(AuthChoice::None);
    }
    if metadata_up(inputs.metadata_host.clone()).await {
        return Ok(AuthChoice::MetadataServer(inputs.metadata_host.clone()));
    }
    if let Some(p) = &inputs.adc_file {
        return Ok(AuthChoice::AuthorizedUser(p.clone()));
    }
    anyhow::bail!(
        "no BigQuery credentials: set bigquery.credentials_path (or GOOGLE_APPLICATION_CREDENTIALS) to a \
         service-account key file, run on GCP with a service account, or run `gcloud auth application-default login`"
    )
}

/// Whether the metadata server answers (one short request).
pub async fn probe_metadata(http: &reqwest::Client, host: &str) -> bool {
    let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/email");
    matches!(
        tokio::time::timeout(Duration::from_secs(2), http.get(url).header("Metadata-Flavor", "Google").send()).await,
        Ok(Ok(r)) if r.status().is_success()
    )
}

type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<String, BQError>> + Send + 'a>>;

/// A fixed token (emulators ignore it).
#[derive(Debug, Clone)]
pub struct StaticToken(pub String);

impl Authenticator for StaticToken {
    fn access_token<'life0, 'async_trait>(&'life0 self) -> TokenFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let t = self.0.clone();
        Box::pin(async move { Ok(t) })
    }
}

/// Tokens from the metadata server, cached and refreshed [`REFRESH_MARGIN`] before expiry
/// (the client library's own workload-identity path fetches one per call).
#[derive(Clone)]
pub struct MetadataAuthenticator {
    http: reqwest::Client,
    url: String,
    cached: Arc<Mutex<Option<(String, Instant)>>>,
    fetches: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

impl MetadataAuthenticator {
    pub fn new(http: reqwest::Client, host: &str) -> Self {
        let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={SCOPE}");
        Self {
            http,
            url,
            cached: Arc::default(),
            fetches: Arc::default(),
        }
    }

    /// How many tokens were fetched (for tests and logs).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn token(&self) -> Result<String, BQError> {
        let mut cached = self.cached.lock().await;
        if let Some((t, expires)) = cached.as_ref() {
            if Instant::now() + REFRESH_MARGIN < *expires {
                return Ok(t.clone());
            }
        }
        let resp = self
            .http
            .get(&self.url)
            .header("Metadata-Flavor", "Google")
            .send()
            .await?
            .error_for_status()?;
        let body: TokenResponse = resp.json().await?;
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(
            expires_in = body.expires_in,
            "fetched a BigQuery token from the metadata server"
        );
        let expires = Instant::now() + Duration::from_secs(body.expires_in);
        *cached = Some((body.access_token.clone(), expires));
        Ok(body.access_token)
    }
}

impl Authenticator for MetadataAuthenticator {
    fn access_token<'life0, 'async_trait>(&'life0 self) -> TokenFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, kind: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!(r#"{{"type":"{kind}","client_email":"x@y"}}"#)).unwrap();
        p
    }

    #[tokio::test]
    async fn order_is_key_file_then_metadata_then_adc_and_emulators_need_none() {
        let dir = tempfile::tempdir().unwrap();
        let sa = write(dir.path(), "sa.json", "service_account");
        let user = write(dir.path(), "adc.json", "authorized_user");
        let up = |_: String| async { true };
        let down = |_: String| async { false };
        let base = AuthInputs {
            metadata_host: "meta".into(),
            ..Default::default()
        };
        let i = AuthInputs {
            credentials_path: Some(sa.clone()),
            adc_file: Some(user.clone()),
            ..base.clone()
        };
        assert_eq!(
            choose(&i, up).await.unwrap(),
            AuthChoice::ServiceAccountKey(sa.clone())
        );
        let i = AuthInputs {
            env_credentials: Some(sa.clone()),
            endpoint_set: true,
            ..base.clone()
        };
        assert_eq!(
            choose(&i, up).await.unwrap(),
            AuthChoice::ServiceAccountKey(sa)
        );
        let i = AuthInputs {
            adc_file: Some(user.clone()),
            ..base.clone()
        };
        assert_eq!(
            choose(&i, up).await.unwrap(),
            AuthChoice::MetadataServer("meta".into())
        );
        assert_eq!(
            choose(&i, down).await.unwrap(),
            AuthChoice::AuthorizedUser(user)
        );
        let i = AuthInputs {
            endpoint_set: true,
            ..base.clone()
        };
        assert_eq!(choose(&i, up).await.unwrap(), AuthChoice::None);
        let err = choose(&base, down).await.unwrap_err().to_string();
        assert!(err.contains("bigquery.credentials_path"), "{err}");
        let bad = write(dir.path(), "ext.json", "external_account");
        let i = AuthInputs {
            credentials_path: Some(bad),
            ..base
        };
        assert!(choose(&i, down)
            .await
            .unwrap_err()
            .to_string()
            .contains("external_account"));
    }
}
