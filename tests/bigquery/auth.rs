use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use attrsync::bigquery::auth::MetadataAuthenticator;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use gcp_bigquery_client::auth::Authenticator;
use serde_json::json;

/// A fake metadata server handing out tokens that expire after `expires_in` seconds.
async fn metadata(expires_in: u64) -> (String, Arc<AtomicU64>) {
    let fetched = Arc::new(AtomicU64::new(0));
    let f = fetched.clone();
    let app = Router::new()
        .route(
            "/computeMetadata/v1/instance/service-accounts/default/token",
            get(move |State(n): State<Arc<AtomicU64>>, headers: HeaderMap| async move {
                if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
                    return (StatusCode::FORBIDDEN, Json(json!({})));
                }
                let k = n.fetch_add(1, Ordering::SeqCst);
                (StatusCode::OK, Json(json!({"access_token": format!("token-{k}"), "expires_in": expires_in, "token_type": "Bearer"})))
            }),
        )
        .with_state(f);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr.to_string(), fetched)
}

#[tokio::test]
async fn metadata_tokens_are_cached_until_shortly_before_expiry() {
    let (host, fetched) = metadata(3600).await;
    let a = MetadataAuthenticator::new(reqwest::Client::new(), &host);
    for _ in 0..5 {
        assert_eq!(a.access_token().await.unwrap(), "token-0");
    }
    assert_eq!(
        fetched.load(Ordering::SeqCst),
        1,
        "one fetch serves many calls"
    );

    // A token with less than the refresh margin (5 minutes) left is refreshed on every use.
    let (host, fetched) = metadata(120).await;
    let a = MetadataAuthenticator::new(reqwest::Client::new(), &host);
    assert_eq!(a.access_token().await.unwrap(), "token-0");
    assert_eq!(a.access_token().await.unwrap(), "token-1");
    assert_eq!(fetched.load(Ordering::SeqCst), 2);
    assert_eq!(a.fetches(), 2);
}
