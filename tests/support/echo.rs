//! A server that refuses every request and echoes it back — every header, the query and the
//! body — in its error body, as misconfigured proxies and some APIs' debug modes do. Secrets a
//! client sent must still never reach attrsync's output.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut text = format!("{method} {uri}\n");
    for (k, v) in &headers {
        text.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("?")));
    }
    text.push_str(&String::from_utf8_lossy(&body));
    let status = if uri.path().ends_with("/token") || uri.path().contains("access_token") {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::FORBIDDEN
    };
    let json = serde_json::json!({"error": text, "error_description": text, "message": text, "detail": text,
                                  "code": 999, "Errors": [{"Code": 999, "Message": text}]});
    (status, axum::Json(json)).into_response()
}

/// Serves the echo on a local port.
pub async fn start() -> SocketAddr {
    let app = Router::new().fallback(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}
