//! The real S3 server behind the gateway in integration tests.
//!
//! `BUCKETGATE_TEST_UPSTREAM=s3s` (the default) starts s3s-fs 0.14.1 in this process, on a
//! temporary directory, with signature checking on; `BUCKETGATE_TEST_UPSTREAM=rgw` uses the Ceph
//! RGW that `tests/rgw.sh start` brought up. Both check SigV4, so a test that passes proves
//! bucketgate's signatures are accepted by a real server.
//!
//! The harness talks to the upstream directly (to seed and inspect buckets) with requests it
//! signs itself through `aws-sigv4`, never through bucketgate's code.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};

use super::client::{self, Response};
use super::sign::{self, Keys, UNSIGNED_PAYLOAD};
use super::{encode_key, encode_query_pairs, sha256_hex, Headers};

/// Which server [`Upstream::get`] gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKind {
    S3s,
    Rgw,
}

/// Env var choosing the upstream: `s3s` (default) or `rgw`.
pub const ENV_UPSTREAM: &str = "BUCKETGATE_TEST_UPSTREAM";
/// The defaults `tests/rgw.sh` uses.
pub const RGW_DEFAULT_ENDPOINT: &str = "127.0.0.1:7480";
pub const RGW_DEFAULT_ACCESS_KEY: &str = "0555b35654ad1656d804";
pub const RGW_DEFAULT_SECRET_KEY: &str = "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==";
pub const RGW_DEFAULT_CEPH_DIR: &str = "/tmp/bucketgate-ceph";

/// The upstream of this test binary. Created once, on first use, and shared by every test in
/// the binary; tests keep out of each other's way with [`super::unique_bucket`] names.
pub struct Upstream {
    kind: UpstreamKind,
    endpoint: String,
    access_key: String,
    secret_key: String,
    region: String,
    s3s: Option<S3sServer>,
}

/// The in-process s3s-fs server's state.
struct S3sServer {
    root: PathBuf,
    open_connections: Arc<AtomicUsize>,
    requests: Arc<AtomicU64>,
}

static UPSTREAM: OnceLock<Upstream> = OnceLock::new();

impl Upstream {
    /// The upstream chosen by `BUCKETGATE_TEST_UPSTREAM`, started (s3s) or checked reachable
    /// (rgw) on first use. Panics with instructions if it cannot be had.
    pub fn get() -> &'static Upstream {
        UPSTREAM.get_or_init(|| {
            let choice = std::env::var(ENV_UPSTREAM).unwrap_or_else(|_| "s3s".into());
            let up = match choice.trim().to_ascii_lowercase().as_str() {
                "" | "s3s" | "s3s-fs" => start_s3s(),
                "rgw" | "ceph" => connect_rgw(),
                other => panic!("{ENV_UPSTREAM}={other:?}: expected `s3s` or `rgw`"),
            };
            up.wait_ready(Duration::from_secs(15));
            up
        })
    }

    pub fn kind(&self) -> UpstreamKind {
        self.kind
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    pub fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("endpoint has a port")
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Always `us-east-1` (RGW accepts it as its default zonegroup's region).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether `If-Match` / `If-None-Match` are honoured (RGW yes, s3s-fs ignores them).
    pub fn supports_conditionals(&self) -> bool {
        self.kind == UpstreamKind::Rgw
    }

    /// Where s3s-fs keeps objects (bucket = directory); None for RGW.
    pub fn s3s_root(&self) -> Option<&Path> {
        self.s3s.as_ref().map(|s| s.root.as_path())
    }

    /// Established TCP connections to the upstream right now. s3s: connections its server
    /// accepted and has not finished; rgw: ESTABLISHED sockets on this host whose remote port
    /// is RGW's (from /proc/net/tcp and tcp6).
    pub fn open_connections(&self) -> usize {
        match &self.s3s {
            Some(s) => s.open_connections.load(Ordering::SeqCst),
            None => established_to_port(self.port()),
        }
    }

    /// Requests received so far. s3s: counted by the server. rgw: counted from radosgw's log
    /// (`$CEPH_DIR/log/ceph-client.rgw.gw.log`), which Ceph writes asynchronously, so it can lag
    /// by a moment: poll with [`super::wait_until`] rather than reading once.
    pub fn requests_seen(&self) -> u64 {
        match &self.s3s {
            Some(s) => s.requests.load(Ordering::SeqCst),
            None => {
                let dir = std::env::var("CEPH_DIR").unwrap_or_else(|_| RGW_DEFAULT_CEPH_DIR.into());
                let log = Path::new(&dir).join("log/ceph-client.rgw.gw.log");
                let text = std::fs::read(&log).unwrap_or_else(|e| {
                    panic!(
                        "requests_seen() under rgw reads {}: {e} (set CEPH_DIR to tests/rgw.sh's state dir)",
                        log.display()
                    )
                });
                let needle: &[u8] = b"====== starting new request";
                text.windows(needle.len()).filter(|w| *w == needle).count() as u64
            }
        }
    }

    fn keys(&self) -> Keys<'_> {
        Keys {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            region: &self.region,
        }
    }

    /// A signed request to the upstream, to be completed with the builder's methods.
    /// `key: None` addresses the bucket itself; an empty bucket the service (ListBuckets).
    pub fn call<'a>(
        &'a self,
        method: &'a str,
        bucket: &'a str,
        key: Option<&'a str>,
    ) -> S3Call<'a> {
        S3Call {
            up: self,
            method,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            payload: None,
            access_key: None,
            secret_key: None,
        }
    }

    /// Creates a bucket; an existing bucket of ours is fine.
    #[track_caller]
    pub fn create_bucket(&self, bucket: &str) {
        let r = self.call("PUT", bucket, None).send();
        let ok = (200..300).contains(&r.status)
            || (r.status == 409 && r.text().contains("BucketAlready"));
        assert!(
            ok,
            "creating bucket {bucket} at {} failed: {} {}",
            self.endpoint,
            r.status,
            r.text()
        );
    }

    /// Stores an object (payload signed with its real SHA-256). Panics unless 2xx.
    #[track_caller]
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Response {
        let r = self
            .call("PUT", bucket, Some(key))
            .headers(headers)
            .body(body)
            .send();
        assert!(
            (200..300).contains(&r.status),
            "PUT {bucket}/{key:?} at {} failed: {} {}",
            self.endpoint,
            r.status,
            r.text()
        );
        r
    }

    /// Fetches an object: None on 404, panics on anything else but 200.
    #[track_caller]
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<(Vec<u8>, Headers)> {
        let r = self.call("GET", bucket, Some(key)).send();
        match r.status {
            200 => Some((r.body, r.headers)),
            404 => None,
            s => panic!(
                "GET {bucket}/{key:?} at {} failed: {s} {}",
                self.endpoint,
                r.text()
            ),
        }
    }

    /// HEAD of an object: its headers, or None on 404.
    #[track_caller]
    pub fn head_object(&self, bucket: &str, key: &str) -> Option<Headers> {
        let r = self.call("HEAD", bucket, Some(key)).send();
        match r.status {
            200 => Some(r.headers),
            404 => None,
            s => panic!("HEAD {bucket}/{key:?} at {} failed: {s}", self.endpoint),
        }
    }

    /// Deletes an object (absent is fine).
    #[track_caller]
    pub fn delete_object(&self, bucket: &str, key: &str) {
        let r = self.call("DELETE", bucket, Some(key)).send();
        assert!(
            (200..300).contains(&r.status) || r.status == 404,
            "DELETE {bucket}/{key:?} at {} failed: {} {}",
            self.endpoint,
            r.status,
            r.text()
        );
    }

    /// Keys in a bucket under `prefix` (first 1000), decoded.
    #[track_caller]
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let r = self
            .call("GET", bucket, None)
            .query("list-type", "2")
            .query("prefix", prefix)
            .send();
        assert_eq!(
            r.status,
            200,
            "listing {bucket} at {} failed: {}",
            self.endpoint,
            r.text()
        );
        let xml = r.text();
        xml.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(xml_unescape)
            .collect()
    }

    /// A presigned GET/PUT/... `path?query` for `bucket/key`, valid for `expires`.
    pub fn presign(&self, method: &str, bucket: &str, key: &str, expires: Duration) -> String {
        let path = format!("/{bucket}/{}", encode_key(key));
        sign::presign(&self.keys(), method, &self.endpoint, &path, "", expires)
    }

    fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            match self.call("GET", "", None).try_send() {
                Ok(r) if r.status == 200 => return,
                Ok(r) => last = format!("ListBuckets answered {} {}", r.status, r.text()),
                Err(e) => last = format!("{e}"),
            }
            if Instant::now() >= deadline {
                let hint = match self.kind {
                    UpstreamKind::Rgw => format!(
                        "; start it with `bash tests/rgw.sh start` (or set RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY; or unset {ENV_UPSTREAM} to use s3s-fs)"
                    ),
                    UpstreamKind::S3s => String::new(),
                };
                panic!(
                    "{:?} upstream at {} not ready within {timeout:?}: {last}{hint}",
                    self.kind, self.endpoint
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One signed request to the upstream, built up step by step.
pub struct S3Call<'a> {
    up: &'a Upstream,
    method: &'a str,
    bucket: &'a str,
    key: Option<&'a str>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<&'a [u8]>,
    payload: Option<String>,
    access_key: Option<&'a str>,
    secret_key: Option<&'a str>,
}

impl<'a> S3Call<'a> {
    /// Adds a query parameter (encoded here; give it decoded). `value` "" gives `name=`.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn headers(mut self, headers: &[(&str, &str)]) -> Self {
        self.headers
            .extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// The body; signed with its SHA-256 unless [`S3Call::unsigned_payload`] is used.
    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }

    /// Signs `UNSIGNED-PAYLOAD` instead of the body's hash.
    pub fn unsigned_payload(mut self) -> Self {
        self.payload = Some(UNSIGNED_PAYLOAD.into());
        self
    }

    /// Signs this value as the payload hash, whatever the body is (to provoke mismatches).
    pub fn payload_hash(mut self, hash: &str) -> Self {
        self.payload = Some(hash.into());
        self
    }

    /// Signs with other keys (a wrong secret, say).
    pub fn keys(mut self, access_key: &'a str, secret_key: &'a str) -> Self {
        self.access_key = Some(access_key);
        self.secret_key = Some(secret_key);
        self
    }

    /// The encoded `path?query` this call goes to.
    pub fn path_and_query(&self) -> String {
        let mut p = String::from("/");
        if !self.bucket.is_empty() {
            p.push_str(self.bucket);
            if let Some(k) = self.key {
                p.push('/');
                p.push_str(&encode_key(k));
            }
        }
        if !self.query.is_empty() {
            // Sorted, so what we send is already in canonical order.
            let mut q = encode_query_pairs(&self.query);
            q.sort();
            p.push('?');
            p.push_str(&q.join("&"));
        }
        p
    }

    pub fn try_send(self) -> std::io::Result<Response> {
        let host = self.up.endpoint.clone();
        let pq = self.path_and_query();
        let payload = match (&self.payload, self.body) {
            (Some(p), _) => p.clone(),
            (None, Some(b)) => sha256_hex(b),
            (None, None) => UNSIGNED_PAYLOAD.into(),
        };
        let keys = Keys {
            access_key: self.access_key.unwrap_or(&self.up.access_key),
            secret_key: self.secret_key.unwrap_or(&self.up.secret_key),
            region: &self.up.region,
        };
        let given: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = sign::sign_headers(
            &keys,
            self.method,
            &host,
            &pq,
            &given,
            &payload,
            SystemTime::now(),
        );
        let mut all: Vec<(&str, &str)> = vec![("Host", host.as_str())];
        all.extend(
            given
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("host")),
        );
        all.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = match (self.body, self.method) {
            (Some(b), _) => Some(b),
            (None, "PUT" | "POST") => Some(&b""[..]),
            (None, _) => None,
        };
        client::try_request(&host, self.method, &pq, &all, body)
    }

    /// Sends it; panics on I/O errors (a status is not an error here).
    #[track_caller]
    pub fn send(self) -> Response {
        let what = format!("{} {}", self.method, self.path_and_query());
        let endpoint = self.up.endpoint.clone();
        self.try_send()
            .unwrap_or_else(|e| panic!("direct upstream call {what} to {endpoint} failed: {e}"))
    }
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") => u32::from_str_radix(&ent[2..], 16)
                .ok()
                .and_then(char::from_u32),
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// ESTABLISHED TCP sockets on this host (this network namespace) whose remote port is `port`,
/// from /proc/net/tcp and /proc/net/tcp6: the client ends of connections to a local server.
pub fn established_to_port(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    cols.len() > 3
                        && cols[3] == "01"
                        && cols[2]
                            .rsplit(':')
                            .next()
                            .and_then(|p| u16::from_str_radix(p, 16).ok())
                            == Some(port)
                })
                .count()
        })
        .sum()
}

fn connect_rgw() -> Upstream {
    let env = |k: &str, d: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| d.into())
    };
    Upstream {
        kind: UpstreamKind::Rgw,
        endpoint: env("RGW_ENDPOINT", RGW_DEFAULT_ENDPOINT),
        access_key: env("RGW_ACCESS_KEY", RGW_DEFAULT_ACCESS_KEY),
        secret_key: env("RGW_SECRET_KEY", RGW_DEFAULT_SECRET_KEY),
        region: "us-east-1".into(),
        s3s: None,
    }
}

/// Counts requests on their way into s3s.
#[derive(Clone)]
struct Counting {
    inner: S3Service,
    requests: Arc<AtomicU64>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for Counting {
    type Response =
        <S3Service as hyper::service::Service<http::Request<hyper::body::Incoming>>>::Response;
    type Error =
        <S3Service as hyper::service::Service<http::Request<hyper::body::Incoming>>>::Error;
    type Future =
        <S3Service as hyper::service::Service<http::Request<hyper::body::Incoming>>>::Future;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        self.requests.fetch_add(1, Ordering::SeqCst);
        hyper::service::Service::call(&self.inner, req)
    }
}

/// Decrements the open-connection count when a connection task ends, however it ends.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Starts s3s-fs on 127.0.0.1:0 in a background thread with its own runtime. The data lives
/// under the target's tmp dir; directories left by earlier, finished test processes are
/// removed here, since a static is never dropped.
fn start_s3s() -> Upstream {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("s3s-fs");
    std::fs::create_dir_all(&base).expect("creating the s3s-fs base dir");
    remove_stale_roots(&base);
    let root = base.join(format!(
        "pid{}-{}",
        std::process::id(),
        super::unique_suffix()
    ));
    std::fs::create_dir_all(&root).expect("creating the s3s-fs root");

    let access_key = format!("bgtest{}", super::unique_suffix());
    let secret_key = format!(
        "secret/{}+{}",
        super::unique_suffix(),
        sha256_hex(root.to_string_lossy().as_bytes())
    );

    let listener = StdListener::bind("127.0.0.1:0").expect("binding s3s-fs on 127.0.0.1:0");
    listener.set_nonblocking(true).unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let open = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicU64::new(0));

    let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs over the temp root");
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(
        access_key.clone(),
        secret_key.clone(),
    ));
    // Virtual-hosted requests (`bucket.localhost:PORT`) as RGW takes them with
    // `rgw dns name = localhost`; `127.0.0.1:PORT` and `localhost:PORT` stay path-style.
    let port = listener.local_addr().unwrap().port();
    builder.set_host(
        s3s::host::MultiDomain::new([format!("localhost:{port}"), format!("127.0.0.1:{port}")])
            .expect("valid s3s base domains"),
    );
    let service = Counting {
        inner: builder.build(),
        requests: requests.clone(),
    };
    let open2 = open.clone();
    std::thread::Builder::new()
        .name("s3s-fs".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("s3s-fs tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = socket.set_nodelay(true);
                    open2.fetch_add(1, Ordering::SeqCst);
                    let guard = OpenGuard(open2.clone());
                    let conn = http
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _guard = guard;
                        let _ = conn.await;
                    });
                }
            });
        })
        .expect("spawning the s3s-fs thread");

    // Statics are never dropped: remove the data when the test process exits normally (a
    // killed one leaves it to `remove_stale_roots` of the next run).
    extern "C" fn remove_s3s_root() {
        if let Some(root) = UPSTREAM.get().and_then(|u| u.s3s_root()) {
            let _ = std::fs::remove_dir_all(root);
        }
    }
    // SAFETY: registers a plain function with no captured state.
    unsafe {
        libc::atexit(remove_s3s_root);
    }

    Upstream {
        kind: UpstreamKind::S3s,
        endpoint,
        access_key,
        secret_key,
        region: "us-east-1".into(),
        s3s: Some(S3sServer {
            root,
            open_connections: open,
            requests,
        }),
    }
}

/// Removes `pid<N>-*` roots whose process is gone.
fn remove_stale_roots(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("pid")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
