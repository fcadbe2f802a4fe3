//! A fake of the European Central Bank's reference-rate files, serving its own format
//! (`eurofxref-hist-90d.xml` / `eurofxref-hist.xml`: a `gesmes:Envelope` of
//! `<Cube time='…'>` days holding `<Cube currency='USD' rate='1.0823'/>`, units per euro, newest
//! day first, single-quoted attributes as the ECB writes them; see the ECB's "Euro foreign
//! exchange reference rates" page). It counts requests per path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// day → (currency, units per euro).
pub type Days = BTreeMap<String, Vec<(String, f64)>>;

struct Inner {
    days: Mutex<Days>,
    requests: Mutex<Vec<String>>,
}

/// The running fake.
pub struct FakeEcb {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

fn envelope(days: &Days) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\">\n\t<gesmes:subject>Reference rates</gesmes:subject>\n\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n\t<Cube>\n",
    );
    for (day, rates) in days.iter().rev() {
        x.push_str(&format!("\t\t<Cube time='{day}'>\n"));
        for (c, r) in rates {
            x.push_str(&format!("\t\t\t<Cube currency='{c}' rate='{r}'/>\n"));
        }
        x.push_str("\t\t</Cube>\n");
    }
    x.push_str("\t</Cube>\n</gesmes:Envelope>");
    x
}

async fn file(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    inner.requests.lock().unwrap().push(name.clone());
    match name.as_str() {
        "eurofxref-hist-90d.xml" | "eurofxref-hist.xml" => (
            [("content-type", "text/xml")],
            envelope(&inner.days.lock().unwrap()),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

impl FakeEcb {
    pub async fn start(days: Days) -> Self {
        let inner = Arc::new(Inner {
            days: Mutex::new(days),
            requests: Mutex::default(),
        });
        let app = Router::new()
            .route("/stats/eurofxref/{name}", get(file))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    /// `ATTRSYNC__FX__…` settings pointing at this fake.
    pub fn urls(&self) -> (String, String) {
        (
            format!(
                "http://{}/stats/eurofxref/eurofxref-hist-90d.xml",
                self.addr
            ),
            format!("http://{}/stats/eurofxref/eurofxref-hist.xml", self.addr),
        )
    }

    /// The files asked for, in order.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.lock().unwrap().clone()
    }
}
