//! A job's lease: at most one runner per job at a time.

/// How long a claim keeps trying a lease that is held, and how often. A holder going away (a
/// lease dropped without `finish`, a runner that died) frees its lock a moment later — on
/// PostgreSQL once the server has seen the session end — and a claim made in that moment must
/// not call a free job held. A genuine holder keeps the lease through the window.
const LEASE_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);
const LEASE_RETRY: std::time::Duration = std::time::Duration::from_millis(25);

/// The window a claim keeps trying a held lease in (both backends' try-lock loops).
pub(crate) struct Settle(std::time::Instant);

impl Settle {
    pub(crate) fn start() -> Self {
        Self(std::time::Instant::now() + LEASE_SETTLE)
    }

    /// Waits before the next try; `false` once the window is over (the lease is held).
    pub(crate) async fn again(&self) -> bool {
        if std::time::Instant::now() >= self.0 {
            return false;
        }
        tokio::time::sleep(LEASE_RETRY).await;
        true
    }
}

/// Proof of holding a job's lease; released when the run finishes (or the process dies).
#[derive(Debug)]
pub struct Lease {
    pub job: String,
    pub(crate) inner: LeaseInner,
}

#[derive(Debug)]
pub(crate) enum LeaseInner {
    /// An exclusive lock on a file beside the SQLite database.
    File { _lock: Option<std::fs::File> },
    /// A session-level advisory lock held on a dedicated connection.
    Postgres(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>),
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A lease dropped without `finish` (an error path) must not leave its advisory lock on a
        // pooled connection: detach closes that connection, and PostgreSQL releases the lock.
        // A file lock is released when its handle closes.
        if let LeaseInner::Postgres(conn) = &mut self.inner {
            if let Some(c) = conn.take() {
                drop(c.detach());
            }
        }
    }
}
