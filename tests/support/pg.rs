//! A fresh PostgreSQL database per test, created from `DATABASE_URL` and dropped afterwards.

use sqlx::Connection;

/// The admin connection string (trust auth on this machine's PostgreSQL by default).
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_at = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let root = path_at.map_or(base, |i| &base[..i]);
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// A database that exists for the life of the value.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("attrsync_test_{:016x}", rand_u64());
        let mut admin = sqlx::PgConnection::connect(&admin_url())
            .await
            .expect("PostgreSQL must answer at DATABASE_URL (scripts/test starts it)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.ok();
        let url = with_db(&admin_url(), &name);
        Self { name, url }
    }

    /// This database's URL through `addr` (a proxy) instead of the server's own address.
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("scheme");
        let (userinfo, hostpath) = rest.rsplit_once('@').map_or(("", rest), |(u, h)| (u, h));
        let path = &hostpath[hostpath.find('/').unwrap_or(hostpath.len())..];
        let at = if userinfo.is_empty() {
            String::new()
        } else {
            format!("{userinfo}@")
        };
        format!("{scheme}://{at}{addr}{path}")
    }

    /// The server's own address, from `DATABASE_URL`.
    pub fn server_addr() -> std::net::SocketAddr {
        let url = admin_url();
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let hostpath = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let host_port = hostpath
            .split(['/', '?'])
            .next()
            .unwrap_or("127.0.0.1:5432");
        let host_port = if host_port.contains(':') {
            host_port.to_string()
        } else {
            format!("{host_port}:5432")
        };
        std::net::ToSocketAddrs::to_socket_addrs(&host_port)
            .expect("DATABASE_URL host resolves")
            .next()
            .unwrap()
    }

    /// A plain connection for assertions.
    pub async fn conn(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropping needs async I/O; do it on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}
