//! The shared reqwest client: timeouts, user agent, compression, rustls.

use std::time::Duration;

/// `attrsync/<version> (+https://github.com/attrsync/attrsync)`.
pub fn user_agent() -> String {
    format!(
        "attrsync/{} (+https://github.com/attrsync/attrsync)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Builds a client with a whole-request timeout and a shorter connect timeout.
pub fn build_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(user_agent())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(60))
        .gzip(true)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))
}
