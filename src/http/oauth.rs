//! OAuth 2 refresh-token exchange with a cached access token, refreshed a minute before it
//! expires or at once when an API answers 401. Platforms that rotate refresh tokens (Microsoft
//! replaces it on every use) answer with a new one: it is used from then on and, with a vault,
//! kept across restarts (encrypted in the run store) in preference to the configured one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use base64::Engine;
use tokio::sync::Mutex;

use crate::config::secret::Secret;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (Google, LinkedIn, Microsoft).
    Body,
    /// HTTP Basic with client id and secret (Reddit).
    Basic,
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The token endpoint refused the refresh token or client: someone must re-authorise.
    #[error("the token endpoint refused the credentials ({0}); re-authorise and update the refresh token")]
    Refused(String),
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
}

/// Somewhere to keep a rotated refresh token across restarts.
pub trait TokenVault: Send + Sync {
    /// The token stored under `name`, if any (and readable with this key).
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>, String>>;
    /// Stores `token` under `name`.
    fn save<'a>(&'a self, name: &'a str, token: &'a Secret) -> BoxFuture<'a, Result<(), String>>;
}

/// A refresh-token client with one cached access token.
pub struct OAuth {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Option<Secret>,
    /// The newest refresh token: the configured one until the platform rotates it.
    refresh_token: std::sync::Mutex<Secret>,
    auth: ClientAuth,
    scope: Option<String>,
    cached: Mutex<Option<(Secret, Instant)>>,
    fetches: AtomicU64,
    /// Where rotated refresh tokens are kept, and under which name.
    vault: Option<(Arc<dyn TokenVault>, String)>,
    vault_read: AtomicBool,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    /// A rotated refresh token (Microsoft sends one with every answer).
    #[serde(default)]
    refresh_token: Option<String>,
}

impl OAuth {
    pub fn new(
        http: reqwest::Client,
        token_url: &str,
        client_id: &str,
        client_secret: Option<Secret>,
        refresh_token: Secret,
        auth: ClientAuth,
    ) -> Self {
        Self {
            http,
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            client_secret,
            refresh_token: std::sync::Mutex::new(refresh_token),
            auth,
            scope: None,
            cached: Mutex::new(None),
            fetches: AtomicU64::new(0),
            vault: None,
            vault_read: AtomicBool::new(false),
        }
    }

    /// Keeps rotated refresh tokens in `vault` under `name`, and prefers a stored one.
    pub fn with_vault(mut self, vault: Arc<dyn TokenVault>, name: String) -> Self {
        self.vault = Some((vault, name));
        self
    }

    fn current_refresh(&self) -> Secret {
        self.refresh_token.lock().expect("refresh lock").clone()
    }

    /// Takes the stored refresh token, once, in preference to the configured one.
    async fn read_vault(&self) {
        let Some((vault, name)) = &self.vault else {
            return;
        };
        if self.vault_read.swap(true, Ordering::SeqCst) {
            return;
        }
        match vault.load(name).await {
            Ok(Some(t)) => {
                tracing::info!(client = %self.client_id, "using the refresh token stored after the last rotation");
                *self.refresh_token.lock().expect("refresh lock") = t;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(client = %self.client_id, error = %e, "cannot read the stored refresh token; using the configured one")
            }
        }
    }

    /// Adopts a rotated refresh token, and stores it when a vault is configured.
    async fn rotated(&self, new: String) {
        let new = Secret::new(new);
        if new == self.current_refresh() || new.is_empty() {
            return;
        }
        *self.refresh_token.lock().expect("refresh lock") = new.clone();
        match &self.vault {
            Some((vault, name)) => match vault.save(name, &new).await {
                Ok(()) => {
                    tracing::info!(client = %self.client_id, "the platform rotated the refresh token; stored the new one (encrypted)")
                }
                Err(e) => {
                    tracing::warn!(client = %self.client_id, error = %e, "the platform rotated the refresh token but it could not be stored; it is kept in memory")
                }
            },
            None => tracing::warn!(
                client = %self.client_id,
                "the platform rotated the refresh token; it is kept in memory only: set secrets.key_file (or ATTRSYNC__SECRETS__KEY) so it survives restarts"
            ),
        }
    }

    /// Asks for `scope` with every refresh (Microsoft requires it).
    pub fn with_scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.to_string());
        self
    }

    /// Tokens fetched so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid access token, from the cache while it has more than a minute left.
    pub async fn token(&self) -> Result<Secret, OAuthError> {
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = cached.as_ref() {
            if Instant::now() + Duration::from_secs(60) < *until {
                return Ok(t.clone());
            }
        }
        self.read_vault().await;
        let mut form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", self.current_refresh().expose().to_string()),
        ];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.clone()));
        }
        let mut req = self.http.post(&self.token_url);
        match self.auth {
            ClientAuth::Body => {
                form.push(("client_id", self.client_id.clone()));
                if let Some(s) = &self.client_secret {
                    form.push(("client_secret", s.expose().to_string()));
                }
            }
            ClientAuth::Basic => {
                let secret = self
                    .client_secret
                    .as_ref()
                    .map(|s| s.expose())
                    .unwrap_or("");
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{secret}", self.client_id));
                req = req.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
            }
        }
        let resp = req
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(OAuthError::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let what = v["error"]
                .as_str()
                .or(v["error_description"].as_str())
                .unwrap_or("no detail");
            let what = crate::redact::snippet(what.as_bytes(), 300);
            return Err(OAuthError::Refused(format!("HTTP {status}: {what}")));
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| OAuthError::Unavailable("the token response is not JSON".into()))?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = t.refresh_token {
            self.rotated(r).await;
        }
        let until = Instant::now() + Duration::from_secs(t.expires_in.unwrap_or(3600));
        let token = Secret::new(t.access_token);
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Forgets the cached token (after a 401), so the next call refreshes.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
