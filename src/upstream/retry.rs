//! When a failed upstream attempt is tried again on another backend, and the record of one
//! request's attempts that those decisions (and backend selection) need.
//!
//! - A failed **connect** sent nothing: it is retried while the pool's `max_retries` allows
//!   and a healthy backend this request has not failed on exists; the retry goes there, never
//!   back to a backend that already failed for this request.
//! - A failure **while proxying** is retried only if the request is idempotent, nothing of the
//!   response has reached the client (nor even its head from the upstream), and the body can be
//!   replayed: Pingora keeps the first 64 KiB of a request body, so larger PUTs are never
//!   retried, and S3-route bodies pass through a stateful filter (aws-chunked decoding,
//!   checksums) that must not see them twice, so S3 routes retry only bodiless methods.
//!   Pingora itself then retries only errors marked retryable, such as a reused pooled
//!   connection the upstream had closed (`RetryType::ReusedOnly`).

use std::time::Instant;

use pingora_core::protocols::l4::socket::SocketAddr;

use super::Pool;

/// The upstream attempts of one request.
#[derive(Debug, Default)]
pub struct Attempts {
    /// Backends chosen so far (each `upstream_peer` call is one attempt).
    pub count: usize,
    /// Backends that failed for this request, to be avoided by the next pick.
    pub failed: Vec<SocketAddr>,
}

impl Attempts {
    /// Records that `addr` failed for this request.
    pub fn failed(&mut self, addr: &SocketAddr) {
        if !self.failed.contains(addr) {
            self.failed.push(addr.clone());
        }
    }

    /// Whether another attempt is within `max_retries` (the first attempt is not a retry).
    pub fn may_retry(&self, max_retries: usize) -> bool {
        self.count <= max_retries
    }
}

/// After a failed connect: whether to try again; `untried_healthy` says whether a healthy
/// backend this request has not failed on exists (the only place a retry may go).
pub fn retry_connect(attempts: &Attempts, max_retries: usize, untried_healthy: bool) -> bool {
    attempts.may_retry(max_retries) && untried_healthy
}

/// A connect to `addr` of `pool` failed: counts it towards passive ejection, remembers it for
/// this request, and says whether to retry on another backend.
pub fn connect_failed(pool: &Pool, attempts: &mut Attempts, addr: &SocketAddr) -> bool {
    if pool.ejection.record_failure(addr, Instant::now()) {
        log::warn!(
            "upstream {}: backend {addr} ejected after consecutive connect failures",
            pool.name
        );
    }
    attempts.failed(addr);
    retry_connect(
        attempts,
        pool.max_retries,
        pool.has_untried_healthy(&attempts.failed),
    )
}

/// What a failure while proxying is judged on.
pub struct ProxyFailure<'a> {
    pub method: &'a http::Method,
    /// The body passes through a filter with state (aws-chunked decoding on `s3` routes).
    pub filtered_body: bool,
    /// Pingora's retry buffer could not hold the whole body.
    pub body_truncated: bool,
    /// The upstream's response head arrived, or something was written to the client.
    pub response_started: bool,
}

/// After a failure while proxying: whether the request may be sent again (Pingora then
/// retries it only if the error itself is retryable).
pub fn retry_allowed(f: &ProxyFailure, attempts: &Attempts, max_retries: usize) -> bool {
    use http::Method;
    if f.response_started || f.body_truncated || !attempts.may_retry(max_retries) {
        return false;
    }
    let m = f.method;
    if *m == Method::GET || *m == Method::HEAD || *m == Method::DELETE || *m == Method::OPTIONS {
        return true;
    }
    *m == Method::PUT && !f.filtered_body
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn attempts(count: usize, failed: usize) -> Attempts {
        let mut a = Attempts {
            count,
            ..Attempts::default()
        };
        for i in 0..failed {
            a.failed(&SocketAddr::Inet(
                format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
            ));
        }
        a
    }

    fn failure(method: &Method) -> ProxyFailure<'_> {
        ProxyFailure {
            method,
            filtered_body: false,
            body_truncated: false,
            response_started: false,
        }
    }

    #[test]
    fn connect_failures_retry_on_untried_backends_within_the_limit() {
        assert!(retry_connect(&attempts(1, 1), 2, true));
        assert!(
            !retry_connect(&attempts(1, 1), 2, false),
            "no healthy backend left untried"
        );
        assert!(
            !retry_connect(&attempts(3, 1), 2, true),
            "max_retries reached"
        );
        assert!(!retry_connect(&attempts(1, 1), 0, true), "retries off");
    }

    #[test]
    fn only_replayable_idempotent_requests_retry_before_the_response() {
        let a = attempts(1, 0);
        for m in [Method::GET, Method::HEAD, Method::DELETE, Method::PUT] {
            assert!(retry_allowed(&failure(&m), &a, 2), "{m}");
        }
        assert!(!retry_allowed(&failure(&Method::POST), &a, 2));
        let put = Method::PUT;
        let big = ProxyFailure {
            body_truncated: true,
            ..failure(&put)
        };
        assert!(!retry_allowed(&big, &a, 2), "a body past the retry buffer");
        let s3 = ProxyFailure {
            filtered_body: true,
            ..failure(&put)
        };
        assert!(!retry_allowed(&s3, &a, 2), "an S3 upload body is filtered");
        let get = Method::GET;
        let s3_get = ProxyFailure {
            filtered_body: true,
            ..failure(&get)
        };
        assert!(retry_allowed(&s3_get, &a, 2));
        let started = ProxyFailure {
            response_started: true,
            ..failure(&get)
        };
        assert!(!retry_allowed(&started, &a, 2), "bytes went to the client");
        assert!(!retry_allowed(&failure(&get), &attempts(3, 0), 2));
    }
}
