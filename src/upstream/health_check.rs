//! The active health check of a pool, run by its load balancer's background loop: a TCP
//! connect, or an HTTP request whose status must be one of `expected_statuses`, with rise and
//! fall counts (consecutive results needed to flip a backend's health).
//!
//! The HTTP check is ours rather than Pingora's `HttpHealthCheck` because that one sends one
//! fixed `Host` to every backend, while each endpoint of a pool may have its own host name.
//! S3 answers an unsigned request with 403, so the default expected statuses are everything
//! below 500: a backend that answers HTTP at all and is not failing.

use std::time::Duration;

use async_trait::async_trait;
use pingora_core::connectors::http::Connector;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorType, Result};
use pingora_http::RequestHeader;
use pingora_load_balancing::health_check::{HealthCheck, TcpHealthCheck};
use pingora_load_balancing::Backend;

use crate::config::model::{Endpoint, HealthCheckConfig, HealthCheckKind, StatusMatch, Upstream};

/// A pool's health check.
pub struct PoolCheck {
    pool: String,
    rise: usize,
    fall: usize,
    probe: Probe,
}

enum Probe {
    Tcp(Box<TcpHealthCheck>),
    Http(Box<HttpProbe>),
}

struct HttpProbe {
    method: String,
    path: String,
    host: Option<String>,
    statuses: Vec<StatusMatch>,
    tls: bool,
    /// The pool's `tls` settings (CA bundle, client certificate), for `https` checks.
    peer_tls: Option<crate::tls::upstream::PeerTls>,
    timeout: Duration,
    connector: Connector,
}

impl PoolCheck {
    pub fn new(pool: &str, cfg: &Upstream, tls: bool) -> PoolCheck {
        let hc: &HealthCheckConfig = &cfg.health_check;
        let timeout = Duration::from_millis(hc.timeout_ms.unwrap_or(cfg.connect_timeout_ms));
        let probe = match hc.kind {
            HealthCheckKind::Tcp => {
                let mut tcp = TcpHealthCheck::new();
                tcp.peer_template.options.connection_timeout = Some(timeout);
                Probe::Tcp(tcp)
            }
            HealthCheckKind::Http => Probe::Http(Box::new(HttpProbe {
                method: hc.method.to_ascii_uppercase(),
                path: hc.path.clone(),
                host: hc.host.clone(),
                statuses: hc.expected_statuses.clone(),
                tls,
                peer_tls: tls
                    .then(|| crate::tls::upstream::for_pool(pool, cfg.tls.as_ref()))
                    .flatten(),
                timeout,
                connector: Connector::new(None),
            })),
        };
        PoolCheck {
            pool: pool.to_string(),
            rise: hc.rise.max(1),
            fall: hc.fall.max(1),
            probe,
        }
    }
}

/// The endpoint a backend was resolved from.
fn endpoint_of(backend: &Backend) -> Option<&Endpoint> {
    backend.ext.get::<Endpoint>()
}

/// `host` or `host:port` (the port only when it is not the scheme's default).
pub fn host_header(ep: &Endpoint, tls: bool) -> String {
    let default_port = if tls { 443 } else { 80 };
    if ep.port == default_port {
        if ep.host.contains(':') {
            format!("[{}]", ep.host)
        } else {
            ep.host.clone()
        }
    } else {
        ep.to_string()
    }
}

/// Whether `status` is one of `expected`.
pub fn status_expected(expected: &[StatusMatch], status: u16) -> bool {
    expected.iter().any(|m| m.matches(status))
}

impl HttpProbe {
    /// One check, all of it (connect, request, response head) within `timeout`: a backend
    /// that dribbles bytes must not hold up the pool's whole check pass.
    async fn check(&self, target: &Backend) -> Result<()> {
        match tokio::time::timeout(self.timeout, self.probe(target)).await {
            Ok(result) => result,
            Err(_) => Error::e_explain(
                ErrorType::ReadTimedout,
                format!(
                    "{} {} got no full answer within {:?}",
                    self.method, self.path, self.timeout
                ),
            ),
        }
    }

    async fn probe(&self, target: &Backend) -> Result<()> {
        let ep = endpoint_of(target);
        let sni = ep.map(|e| e.host.clone()).unwrap_or_default();
        let host = match (&self.host, ep) {
            (Some(h), _) => h.clone(),
            (None, Some(ep)) => host_header(ep, self.tls),
            (None, None) => target.addr.to_string(),
        };
        let mut peer = HttpPeer::new(target.addr.clone(), self.tls, sni);
        peer.options.connection_timeout = Some(self.timeout);
        peer.options.read_timeout = Some(self.timeout);
        peer.options.write_timeout = Some(self.timeout);
        if let Some(t) = &self.peer_tls {
            t.apply(&mut peer);
        }
        let (mut session, _) = self.connector.get_http_session(&peer).await?;
        let mut req = RequestHeader::build(self.method.as_str(), self.path.as_bytes(), Some(3))?;
        req.insert_header("host", host)?;
        req.insert_header("user-agent", "bucketgate-health-check")?;
        req.insert_header("connection", "close")?;
        session.set_write_timeout(Some(self.timeout));
        session.set_read_timeout(Some(self.timeout));
        session.write_request_header(Box::new(req)).await?;
        session.finish_request_body().await?;
        session.read_response_header().await?;
        let status = session.response_header().map_or(0, |h| h.status.as_u16());
        if !status_expected(&self.statuses, status) {
            return Error::e_explain(
                ErrorType::CustomCode("unexpected health check status", status),
                format!("{} {} answered {status}", self.method, self.path),
            );
        }
        // The status decides; the body is not read (the request asked for `connection: close`,
        // so the connection is dropped, not reused).
        Ok(())
    }
}

#[async_trait]
impl HealthCheck for PoolCheck {
    async fn check(&self, target: &Backend) -> Result<()> {
        match &self.probe {
            Probe::Tcp(tcp) => tcp.check(target).await,
            Probe::Http(http) => http.check(target).await,
        }
    }

    fn backend_summary(&self, target: &Backend) -> String {
        match endpoint_of(target) {
            Some(ep) => format!("upstream {} backend {} ({ep})", self.pool, target.addr),
            None => format!("upstream {} backend {}", self.pool, target.addr),
        }
    }

    fn health_threshold(&self, success: bool) -> usize {
        if success {
            self.rise
        } else {
            self.fall
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_statuses_take_an_s3_403_but_not_a_5xx() {
        let d = HealthCheckConfig::default().expected_statuses;
        for ok in [200, 204, 301, 403, 404] {
            assert!(status_expected(&d, ok), "{ok}");
        }
        for bad in [500, 502, 503, 0] {
            assert!(!status_expected(&d, bad), "{bad}");
        }
        let exact = [StatusMatch::Code(200)];
        assert!(status_expected(&exact, 200));
        assert!(!status_expected(&exact, 403));
    }

    #[test]
    fn rise_and_fall_are_the_flip_thresholds() {
        let cfg: Upstream = serde_yaml::from_str(
            "endpoints: [127.0.0.1:9000]\nhealth_check: {type: http, rise: 2, fall: 3}\n",
        )
        .unwrap();
        let check = PoolCheck::new("p", &cfg, false);
        assert_eq!(check.health_threshold(true), 2);
        assert_eq!(check.health_threshold(false), 3);
    }

    #[test]
    fn the_host_header_names_the_port_unless_it_is_the_default() {
        let ep = Endpoint::parse("rgw1.example.com:7480").unwrap();
        assert_eq!(host_header(&ep, false), "rgw1.example.com:7480");
        let ep = Endpoint::parse("s3.example.com:443").unwrap();
        assert_eq!(host_header(&ep, true), "s3.example.com");
        let ep = Endpoint::parse("[::1]:80").unwrap();
        assert_eq!(host_header(&ep, false), "[::1]");
    }
}

#[cfg(test)]
mod dribble_tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The HTTP check (with the extra `health_check` settings `settings`) of a pool whose one
    /// endpoint is `addr`, and that endpoint's backend.
    fn http_check_of(addr: std::net::SocketAddr, settings: &str) -> (PoolCheck, Backend) {
        let cfg: Upstream = serde_yaml::from_str(&format!(
            "endpoints: [{addr}]\nhealth_check: {{type: http, {settings}}}\n"
        ))
        .unwrap();
        let check = PoolCheck::new("p", &cfg, false);
        let mut backend = Backend::new(&addr.to_string()).unwrap();
        backend.ext.insert(cfg.endpoints[0].clone());
        (check, backend)
    }

    #[tokio::test]
    async fn a_backend_dribbling_its_answer_fails_the_check_within_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Sends a response head one byte at a time, each well within the read timeout,
        // and never finishes it.
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nx-slow: ").await;
            loop {
                if conn.write_all(b"a").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let (check, backend) = http_check_of(addr, "timeout_ms: 400");
        // The outer limit only keeps a broken check from hanging the test.
        let result = tokio::time::timeout(Duration::from_secs(30), check.check(&backend))
            .await
            .expect("the check did not end: the timeout applies per read, not to the check");
        assert!(result.is_err(), "a head that never ends passed the check");
    }

    #[tokio::test]
    async fn a_prompt_answer_passes_without_its_body_being_read() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            // A body announced but never sent: only the head matters.
            let _ = conn
                .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 100000\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let (check, backend) = http_check_of(addr, "method: GET, timeout_ms: 5000");
        let result = check.check(&backend).await;
        assert!(result.is_ok(), "{result:?}");
    }
}
