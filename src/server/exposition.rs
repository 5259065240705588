//! The metrics endpoint: a small Pingora HTTP service on its own listener (`metrics.address`),
//! apart from the proxy listeners, so metrics are never reachable through the public port and
//! a scrape never competes with the proxy's routes.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Method, Response, StatusCode};
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use pingora_core::services::listening::Service;

use crate::gateway::live::Live;

/// Prometheus text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answers `GET <path>` with [`crate::observe::metrics::render`] of the gateway serving now.
pub struct MetricsApp {
    live: Arc<Live>,
    /// Fixed at start: like the address, a new path takes an upgrade or a restart.
    path: String,
}

/// The listening service for `address`, to add to the server.
pub fn service(live: Arc<Live>, address: &str, path: &str) -> Service<MetricsApp> {
    let app = MetricsApp {
        live,
        path: path.to_owned(),
    };
    let mut service = Service::new("metrics".into(), app);
    service.threads = Some(1);
    service.add_tcp(address);
    service
}

#[async_trait]
impl ServeHttp for MetricsApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        if req.uri.path() != self.path {
            return plain(StatusCode::NOT_FOUND, "not found\n", None);
        }
        let head = req.method == Method::HEAD;
        if req.method != Method::GET && !head {
            return plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "use GET\n",
                Some(("allow", "GET, HEAD")),
            );
        }
        let text = crate::observe::metrics::render(self.live.current().pools.health());
        let len = text.len();
        let body = if head { Vec::new() } else { text.into_bytes() };
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", CONTENT_TYPE)
            .header("content-length", len)
            .header("cache-control", "no-store")
            .body(body)
            .unwrap_or_else(|_| Response::new(Vec::new()))
    }
}

fn plain(status: StatusCode, text: &str, extra: Option<(&str, &str)>) -> Response<Vec<u8>> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("content-length", text.len());
    if let Some((k, v)) = extra {
        builder = builder.header(k, v);
    }
    builder
        .body(text.as_bytes().to_vec())
        .unwrap_or_else(|_| Response::new(Vec::new()))
}
