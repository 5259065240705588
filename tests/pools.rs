//! Upstream pools with the real binary: a backend killed under a request loop and restarted
//! (two s3s-fs over one directory, and two extra radosgw daemons on the Ceph cluster of
//! tests/rgw.sh), consistent hashing, passive ejection, retries on a reused connection (and
//! none once the response started), and the config checks of the pool settings.
//!
//! Each backend here counts the requests it serves, so the tests see where traffic goes.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::client::{self, request};
use common::gateway::{Gateway, PREAMBLE};
use common::s3::{xml_values, S3Client};
use common::upstream::{Upstream, ENV_UPSTREAM, RGW_DEFAULT_CEPH_DIR};
use common::{pattern, wait_until};

/// Generous bound for background events (health checks run every second in these tests).
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Backends

/// A backend that can be stopped and started again on the same port, and counts requests.
trait Node {
    fn addr(&self) -> String;
    fn stop(&mut self);
    fn restart(&mut self);
    fn requests(&self) -> u64;
}

/// s3s-fs on its own runtime; dropping the runtime closes the listener and every connection,
/// like a killed process.
struct S3sNode {
    port: u16,
    root: PathBuf,
    access_key: String,
    secret_key: String,
    requests: Arc<AtomicU64>,
    rt: Option<tokio::runtime::Runtime>,
}

impl S3sNode {
    fn start(root: &Path, access_key: &str, secret_key: &str) -> S3sNode {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut node = S3sNode {
            port,
            root: root.to_path_buf(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            requests: Arc::new(AtomicU64::new(0)),
            rt: None,
        };
        node.restart();
        node
    }
}

impl Node for S3sNode {
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }

    fn restart(&mut self) {
        self.stop();
        // The port was ours a moment ago; only lingering sockets can delay the bind.
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr()) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {e}; retrying", self.addr());
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot bind {} again: {e}", self.addr()),
            }
        };
        listener.set_nonblocking(true).unwrap();
        let fs = s3s_fs::FileSystem::new(&self.root).expect("s3s-fs over the shared root");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(
            self.access_key.clone(),
            self.secret_key.clone(),
        ));
        let service = builder.build();
        let requests = self.requests.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let http =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let _ = socket.set_nodelay(true);
                let service = service.clone();
                let requests = requests.clone();
                let counted = hyper::service::service_fn(move |req| {
                    requests.fetch_add(1, Ordering::SeqCst);
                    let service = service.clone();
                    async move { hyper::service::Service::call(&service, req).await }
                });
                let conn = http
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), counted)
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        self.rt = Some(rt);
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for S3sNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two s3s-fs nodes over one temporary directory (so both serve the same objects), with a
/// bucket directory.
struct S3sPair {
    _root: tempfile::TempDir,
    a: S3sNode,
    b: S3sNode,
    bucket: String,
    access_key: String,
    secret_key: String,
}

fn s3s_pair() -> S3sPair {
    let root = tempfile::Builder::new()
        .prefix("bucketgate-pools-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let bucket = common::unique_bucket("pool");
    std::fs::create_dir(root.path().join(&bucket)).unwrap();
    let access_key = format!("pool{}", common::unique_suffix());
    let secret_key = format!("secret/{}", common::unique_suffix());
    let a = S3sNode::start(root.path(), &access_key, &secret_key);
    let b = S3sNode::start(root.path(), &access_key, &secret_key);
    S3sPair {
        _root: root,
        a,
        b,
        bucket,
        access_key,
        secret_key,
    }
}

impl S3sPair {
    /// [`pool_config`] over `endpoints` with this pair's keys and bucket.
    fn config(&self, endpoints: &[String], extra: &str) -> String {
        pool_config(
            endpoints,
            (&self.access_key, &self.secret_key),
            extra,
            &self.bucket,
        )
    }
}

/// A config with one pool `pool` over `endpoints` (plus `extra` pool settings, each line
/// indented by four spaces) and a public files route `/files` → `bucket`.
fn pool_config(endpoints: &[String], keys: (&str, &str), extra: &str, bucket: &str) -> String {
    let server = PREAMBLE
        .split("upstreams:")
        .next()
        .expect("the preamble has an upstreams section");
    format!(
        "{server}upstreams:\n  pool:\n    endpoints: [{}]\n    credentials:\n      access_key_id: \"{}\"\n      secret_access_key: \"{}\"\n{extra}routes:\n  - name: files\n    path_prefix: /files\n    upstream: pool\n    bucket: {bucket}\n    methods: [GET, HEAD, PUT]\n    public: true\n",
        endpoints.join(", "),
        keys.0,
        keys.1,
    )
}

// ---------------------------------------------------------------------------------------------
// A GET loop

struct GetLoop {
    stop: Arc<AtomicBool>,
    /// Set once failures count: after the health check saw the backend go.
    judging: Arc<AtomicBool>,
    judged: Arc<AtomicU64>,
    handle: Option<JoinHandle<Vec<String>>>,
}

impl GetLoop {
    /// GETs `path` from `addr` in a loop, expecting `body`, until stopped (or 60 s / 100 000
    /// requests, whichever comes first).
    fn start(addr: &str, path: &str, body: Vec<u8>) -> GetLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let judging = Arc::new(AtomicBool::new(false));
        let judged = Arc::new(AtomicU64::new(0));
        let (addr, path) = (addr.to_string(), path.to_string());
        let (s, j, n) = (stop.clone(), judging.clone(), judged.clone());
        let handle = std::thread::spawn(move || {
            let mut failures = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            for i in 0..100_000 {
                if s.load(Ordering::SeqCst) || Instant::now() >= deadline {
                    break;
                }
                let counts = j.load(Ordering::SeqCst);
                let outcome = match client::try_request(&addr, "GET", &path, &[], None) {
                    Ok(r) if r.status == 200 && r.body == body => None,
                    Ok(r) => Some(format!("GET #{i}: {} {}", r.status, r.text())),
                    Err(e) => Some(format!("GET #{i}: {e}")),
                };
                if counts {
                    n.fetch_add(1, Ordering::SeqCst);
                    failures.extend(outcome);
                }
            }
            failures
        });
        GetLoop {
            stop,
            judging,
            judged,
            handle: Some(handle),
        }
    }

    fn judge_from_now(&self) {
        self.judging.store(true, Ordering::SeqCst);
    }

    fn judged(&self) -> u64 {
        self.judged.load(Ordering::SeqCst)
    }

    /// Stops the loop; the failures seen while judging.
    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .unwrap()
            .join()
            .expect("the GET loop panicked")
    }
}

impl Drop for GetLoop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// How often `needle` occurs in the gateway's log.
fn log_count(gw: &Gateway, needle: &str) -> usize {
    gw.log().matches(needle).count()
}

/// The log line of the health check flipping `node`.
fn health_line(node: &dyn Node, state: &str) -> String {
    format!("backend {0} ({0}) becomes {state}", node.addr())
}

/// The scenario of the issue: both backends serve; `victim` is stopped under a GET loop; once
/// the health check saw it go no GET fails; restarted on the same port it takes traffic again.
fn kill_and_rejoin(
    gw: &Gateway,
    survivor: &dyn Node,
    victim: &mut dyn Node,
    path: &str,
    body: &[u8],
) {
    for _ in 0..10 {
        let r = client::get(gw.addr(), path);
        r.assert_status(200);
        assert_eq!(r.body, body);
    }
    wait_until("both backends to serve GETs", EVENT_TIMEOUT, || {
        client::get(gw.addr(), path).status == 200
            && survivor.requests() > 0
            && victim.requests() > 0
    });

    let get_loop = GetLoop::start(gw.addr(), path, body.to_vec());
    victim.stop();
    gw.wait_for_log(&health_line(victim, "unhealthy"), EVENT_TIMEOUT);
    get_loop.judge_from_now();
    let at_stop = victim.requests();
    let served_before = survivor.requests();
    wait_until("50 GETs with one backend down", EVENT_TIMEOUT, || {
        get_loop.judged() >= 50
    });
    assert!(
        survivor.requests() >= served_before + 50,
        "the surviving backend served the loop"
    );

    let healthy_before = log_count(gw, &health_line(victim, "healthy"));
    victim.restart();
    wait_until(
        "the restarted backend to pass its health check",
        EVENT_TIMEOUT,
        || log_count(gw, &health_line(victim, "healthy")) > healthy_before,
    );
    wait_until("GETs to reach the restarted backend", EVENT_TIMEOUT, || {
        victim.requests() > at_stop
    });
    let judged = get_loop.judged();
    let failures = get_loop.finish();
    eprintln!(
        "kill_and_rejoin: {judged} GETs judged; requests: survivor {}, victim {at_stop} before the stop, {} after its restart",
        survivor.requests(),
        victim.requests()
    );
    assert!(
        failures.is_empty(),
        "{} of {judged} GETs failed after the health check saw the backend go:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn two_s3s_backends_one_killed_under_load_then_rejoins() {
    let mut pair = s3s_pair();
    let endpoints = [pair.a.addr(), pair.b.addr()];
    let yaml = pair.config(&endpoints, "    health_check_interval_seconds: 1\n");
    let gw = Gateway::start(&yaml);
    let body = pattern(61, 20_000);
    request(gw.addr(), "PUT", "/files/clip.bin", &[], Some(&body)).assert_status(200);
    kill_and_rejoin(&gw, &pair.a, &mut pair.b, "/files/clip.bin", &body);
}

#[test]
fn consistent_hashing_sends_one_key_to_one_backend() {
    let pair = s3s_pair();
    let endpoints = [pair.a.addr(), pair.b.addr()];
    let yaml = pair.config(&endpoints, "    balance: consistent_hash\n");
    let gw = Gateway::start(&yaml);
    for i in 0..32 {
        let path = format!("/files/k{i}");
        request(gw.addr(), "PUT", &path, &[], Some(path.as_bytes())).assert_status(200);
    }
    let counts = || (pair.a.requests(), pair.b.requests());
    for i in 0..4 {
        let path = format!("/files/k{i}");
        let (a0, b0) = counts();
        for _ in 0..20 {
            let r = client::get(gw.addr(), &path);
            r.assert_status(200);
            assert_eq!(r.body, path.as_bytes());
        }
        let (a1, b1) = counts();
        let deltas = (a1 - a0, b1 - b0);
        assert!(
            deltas == (20, 0) || deltas == (0, 20),
            "20 GETs of {path} went to both backends: {deltas:?}"
        );
    }
    let (a0, b0) = counts();
    for i in 0..32 {
        client::get(gw.addr(), &format!("/files/k{i}")).assert_status(200);
    }
    let (a1, b1) = counts();
    assert!(
        a1 > a0 && b1 > b0,
        "32 keys all hashed to one backend: a +{}, b +{}",
        a1 - a0,
        b1 - b0
    );
    assert_eq!(a1 - a0 + b1 - b0, 32);
}

#[test]
fn weights_share_round_robin() {
    let pair = s3s_pair();
    let endpoints = [
        format!("{{address: {}, weight: 3}}", pair.a.addr()),
        pair.b.addr(),
    ];
    let yaml = pair.config(&endpoints, "");
    let gw = Gateway::start(&yaml);
    request(gw.addr(), "PUT", "/files/w", &[], Some(b"w")).assert_status(200);
    let (a0, b0) = (pair.a.requests(), pair.b.requests());
    for _ in 0..40 {
        client::get(gw.addr(), "/files/w").assert_status(200);
    }
    let deltas = (pair.a.requests() - a0, pair.b.requests() - b0);
    assert_eq!(deltas, (30, 10), "weight 3 to 1 over 40 GETs");
}

#[test]
fn a_refusing_backend_is_retried_elsewhere_then_ejected() {
    let mut pair = s3s_pair();
    let endpoints = [pair.a.addr(), pair.b.addr()];
    // The one active check runs at start, while both are up: only requests see `b` go.
    let yaml = pair.config(&endpoints, "    health_check_interval_seconds: 3600\n    passive_ejection:\n      consecutive_failures: 2\n      cooldown_seconds: 600\n")
    .replacen("server:\n", "server:\n  upstream_log: {dir}/s3.log\n", 1);
    let gw = Gateway::start(&yaml);
    let body = pattern(62, 5_000);
    request(gw.addr(), "PUT", "/files/obj", &[], Some(&body)).assert_status(200);
    wait_until("both backends to serve", EVENT_TIMEOUT, || {
        client::get(gw.addr(), "/files/obj").status == 200
            && pair.a.requests() > 0
            && pair.b.requests() > 0
    });

    pair.b.stop();
    let ejected = format!("backend {} ejected", pair.b.addr());
    for i in 0..20 {
        let r = client::get(gw.addr(), "/files/obj");
        assert_eq!(
            r.status,
            200,
            "GET #{i} with a refusing backend: {}",
            r.text()
        );
        assert_eq!(r.body, body);
    }
    gw.wait_for_log(&ejected, EVENT_TIMEOUT);
    assert_eq!(
        log_count(&gw, &ejected),
        1,
        "ejected once for the cool-down"
    );
    // Once ejected, requests no longer try it: no more failed connects.
    let refused = pair.b.addr();
    let tries = || {
        gw.log()
            .lines()
            .filter(|l| l.contains("Fail to proxy") && l.contains(&refused))
            .count()
    };
    let before = tries();
    assert!(
        before > 0,
        "the refused connects were not logged, so nothing is measured"
    );
    for _ in 0..20 {
        client::get(gw.addr(), "/files/obj").assert_status(200);
    }
    assert_eq!(tries(), before, "an ejected backend was tried again");

    // The upstream log has a line for each failed attempt on the stopped backend (a refused
    // connect; or, when a kept-alive connection to it broke, the request it was sent on), each
    // followed by a retry elsewhere, then one for the request that was served.
    let log = std::fs::read_to_string(gw.dir().join("s3.log")).expect("the upstream log");
    let failed_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!(" peer={refused} ")) && l.contains(" error="))
        .collect();
    assert_eq!(
        failed_lines.len(),
        before,
        "one line per failed attempt:\n{log}"
    );
    for l in &failed_lines {
        assert!(l.contains("status=-") && l.contains(" retrying=yes"), "{l}");
        if l.contains(&format!(" GET http://{refused} ")) {
            assert!(
                l.contains("error=ConnectRefused"),
                "a connect that failed: {l}"
            );
        }
    }
    assert!(
        failed_lines
            .iter()
            .any(|l| l.contains("error=ConnectRefused")),
        "no refused connect logged:\n{log}"
    );
    let served = format!(" GET http://{}/", pair.a.addr());
    assert!(
        log.lines()
            .any(|l| l.contains(&served) && l.contains("status=200")),
        "the retried request has its own line:\n{log}"
    );
}

/// DeleteObjects is driven by bucketgate's internal S3 client (the `s3` frontend reads and
/// checks the body, then makes the call itself). With one of two backends down and the health
/// check not yet aware, every DeleteObjects still succeeds: the client retries on the other
/// backend, and the upstream log has a line for the refused attempt and for the served one.
#[test]
fn delete_objects_is_retried_on_a_second_backend_and_logged() {
    let mut pair = s3s_pair();
    let endpoints = [pair.a.addr(), pair.b.addr()];
    let yaml = format!(
        "{}  - name: s3\n    frontend: s3\n    path_prefix: /\n    upstream: pool\n    buckets:\n      - name: data\n        bucket: {}\naccess_keys:\n  static:\n    - access_key_id: AKIADELETER0001\n      secret_access_key: deletersecret\n      subject: deleter\n      grants:\n        - {{bucket: \"{}\", prefix: \"\", operations: [read, write, delete, list]}}\n",
        pair.config(&endpoints, "    health_check_interval_seconds: 3600\n"),
        pair.bucket,
        pair.bucket,
    )
    .replacen("server:\n", "server:\n  upstream_log: {dir}/s3.log\n", 1);
    let gw = Gateway::start(&yaml);
    let keys: Vec<String> = (0..4).map(|i| format!("d{i}.txt")).collect();
    for k in &keys {
        request(gw.addr(), "PUT", &format!("/files/{k}"), &[], Some(b"x")).assert_status(200);
    }
    pair.b.stop();
    let served_before = pair.a.requests();
    let s3 = S3Client::new(gw.addr(), "AKIADELETER0001", "deletersecret");
    // Round robin over two backends: at least one of these picks the stopped one first.
    for k in &keys {
        let r = s3.delete_objects("data", &[k.as_str()]);
        assert_eq!(r.status, 200, "DeleteObjects of {k}: {}", r.text());
        assert_eq!(
            xml_values(&r.text(), "Key"),
            vec![k.clone()],
            "{}",
            r.text()
        );
        client::get(gw.addr(), &format!("/files/{k}")).assert_status(404);
    }
    assert!(
        pair.a.requests() > served_before,
        "the live backend served them"
    );

    let log = std::fs::read_to_string(gw.dir().join("s3.log")).expect("the upstream log");
    let refused = pair.b.addr();
    let failed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!(" POST http://{refused}")))
        .collect();
    assert!(
        !failed.is_empty(),
        "no attempt on the stopped backend:\n{log}"
    );
    for l in &failed {
        assert!(
            l.contains("error=ConnectRefused") && l.contains(" retrying=yes"),
            "{l}"
        );
        assert!(l.contains(" route=s3"), "{l}");
    }
    let served: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(&format!(
                " POST http://{}/{}?delete",
                pair.a.addr(),
                pair.bucket
            )) && l.contains("status=200")
        })
        .collect();
    assert_eq!(
        served.len(),
        keys.len(),
        "one served line per DeleteObjects:\n{log}"
    );
}

/// Pingora starts every backend healthy; bucketgate health-checks a pool `fall` times before it
/// takes traffic, at start and when a reload adds or changes it, so a backend that is already
/// down never sees a request (no failed connect, nothing for passive ejection to learn from).
#[test]
fn backends_are_checked_before_the_first_request_at_start_and_on_reload() {
    let mut pair = s3s_pair();
    pair.b.stop();
    let (live, dead) = (pair.a.addr(), pair.b.addr());
    // Two failed checks mark a backend down, and the pool's own loop checks once an hour:
    // only the checks before serving can have marked `dead` down in time.
    let settings = "    health_check_interval_seconds: 3600\n    health_check: {fall: 2}\n";
    let yaml = pair.config(&[live.clone(), dead.clone()], settings);
    let mut gw = Gateway::start(&yaml);
    let body = pattern(63, 1_000);
    request(gw.addr(), "PUT", "/files/obj", &[], Some(&body)).assert_status(200);
    // Ten GETs, all served, none of them by a connect to `dead`.
    let ten_gets_avoid_dead = |gw: &Gateway, when: &str| {
        for _ in 0..10 {
            client::get(gw.addr(), "/files/obj").assert_status(200);
        }
        let log = gw.log();
        let tried = log
            .lines()
            .filter(|l| l.contains("Fail to proxy") && l.contains(&dead))
            .count();
        assert_eq!(
            tried, 0,
            "a request went to the dead backend {when}:\n{log}"
        );
    };
    ten_gets_avoid_dead(&gw, "at start");

    // A reload that changes the pool (a new setting) builds it anew: checked again first.
    let rendered = std::fs::read_to_string(gw.config_path()).unwrap();
    std::fs::write(
        gw.config_path(),
        rendered.replace(
            "    health_check: {fall: 2}\n",
            "    health_check: {fall: 2}\n    idle_timeout_seconds: 7\n",
        ),
    )
    .unwrap();
    gw.signal("HUP");
    let log = gw.wait_for_log("reload: now serving", EVENT_TIMEOUT);
    assert!(
        log.contains("upstream pool: new or changed"),
        "the pool was rebuilt:\n{log}"
    );
    ten_gets_avoid_dead(&gw, "after the reload");
    assert!(
        gw.log().contains(&health_line(&pair.b, "unhealthy")),
        "the dead backend was judged by a health check:\n{}",
        gw.log()
    );
}

#[test]
fn http_health_checks_send_the_configured_request_and_judge_the_status() {
    // A 403 (what S3 answers an unsigned request) is healthy by default.
    let s3_like = common::Recorder::start_with_response(403, &[], b"AccessDenied");
    let settings = "    health_check_interval_seconds: 1\n    health_check:\n      type: http\n      path: /probe?x=1\n      host: rgw.internal\n";
    let yaml = pool_config(&[s3_like.endpoint()], ("k", "s"), settings, "bkt");
    let gw = Gateway::start(&yaml);
    let probes = s3_like.wait_for_requests(2, EVENT_TIMEOUT);
    for p in &probes {
        assert_eq!(p.method, "HEAD");
        assert_eq!(p.target, "/probe?x=1");
        assert_eq!(p.header("host"), Some("rgw.internal"));
        assert!(!p.has_header("authorization"), "health checks are unsigned");
    }
    assert_eq!(client::get(gw.addr(), "/readyz").status, 200);
    assert!(!gw.log().contains("becomes unhealthy"), "{}", gw.log());

    // The same answer with `expected_statuses: [200]`: the pool goes down and /readyz says so.
    let strict = common::Recorder::start_with_response(403, &[], b"AccessDenied");
    let settings = "    health_check_interval_seconds: 1\n    health_check:\n      type: http\n      method: GET\n      expected_statuses: [200]\n";
    let yaml = pool_config(&[strict.endpoint()], ("k", "s"), settings, "bkt");
    let gw = Gateway::start(&yaml);
    gw.wait_for_log("becomes unhealthy", EVENT_TIMEOUT);
    let probe = &strict.wait_for_requests(1, EVENT_TIMEOUT)[0];
    assert_eq!(probe.method, "GET");
    assert_eq!(probe.target, "/");
    assert_eq!(probe.header("host"), Some(strict.endpoint().as_str()));
    let r = client::get(gw.addr(), "/readyz");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("pool"), "{}", r.text());
}

/// What a [`Flaky`] upstream does with the second request on a connection.
#[derive(Clone, Copy)]
enum Second {
    /// Closes the connection without answering (a keep-alive race).
    Close,
    /// Sends the head and part of the body, then closes.
    Truncate,
}

/// A raw HTTP upstream: answers the first request of each connection with `hello`, and
/// misbehaves on the second.
struct Flaky {
    addr: String,
    requests: Arc<AtomicU64>,
    misbehaved: Arc<AtomicU64>,
}

impl Flaky {
    fn start(second: Second) -> Flaky {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(AtomicU64::new(0));
        let misbehaved = Arc::new(AtomicU64::new(0));
        let (r, m) = (requests.clone(), misbehaved.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (r, m) = (r.clone(), m.clone());
                std::thread::spawn(move || serve_flaky(conn, second, &r, &m));
            }
        });
        Flaky {
            addr,
            requests,
            misbehaved,
        }
    }
}

fn serve_flaky(mut conn: TcpStream, second: Second, requests: &AtomicU64, misbehaved: &AtomicU64) {
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut buf = Vec::new();
    for n in 0.. {
        // Bodiless requests: the head ends the request.
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buf.drain(..end);
        requests.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            let ok =
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
            if conn.write_all(ok).is_err() {
                return;
            }
            continue;
        }
        misbehaved.fetch_add(1, Ordering::SeqCst);
        if let Second::Truncate = second {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhel");
            let _ = conn.flush();
        }
        return;
    }
}

/// Two pools on flaky upstreams: `retry` (default `max_retries`) and `once` (`max_retries: 0`),
/// routes `/retry` and `/once`.
fn flaky_gateway(retry: &Flaky, once: &Flaky) -> Gateway {
    let server = PREAMBLE.split("upstreams:").next().unwrap().replacen(
        "server:\n",
        "server:\n  upstream_log: {dir}/s3.log\n",
        1,
    );
    let pool = |name: &str, addr: &str, extra: &str| {
        format!("  {name}:\n    endpoints: [{addr}]\n    credentials:\n      access_key_id: k\n      secret_access_key: s\n{extra}")
    };
    let route = |name: &str| {
        format!("  - name: {name}\n    path_prefix: /{name}\n    upstream: {name}\n    bucket: bkt\n    public: true\n")
    };
    Gateway::start(&format!(
        "{server}upstreams:\n{}{}routes:\n{}{}",
        pool("retry", &retry.addr, ""),
        pool("once", &once.addr, "    max_retries: 0\n"),
        route("retry"),
        route("once"),
    ))
}

#[test]
fn a_reused_connection_closed_by_the_upstream_is_retried_within_max_retries() {
    let retry = Flaky::start(Second::Close);
    let once = Flaky::start(Second::Close);
    let gw = flaky_gateway(&retry, &once);
    for i in 0..20 {
        let r = client::get(gw.addr(), "/retry/k");
        assert_eq!(r.status, 200, "GET #{i}: {}", r.text());
        assert_eq!(r.body, b"hello");
        // Lets the gateway put the connection back in its pool, so the next GET reuses it.
        std::thread::sleep(Duration::from_millis(30));
    }
    let closed = retry.misbehaved.load(Ordering::SeqCst);
    assert!(
        closed >= 1,
        "no GET met a closed reused connection, so nothing was tested"
    );
    // The upstream log has a line for each request sent on a connection that broke (retried),
    // besides the line of each request served.
    let log = std::fs::read_to_string(gw.dir().join("s3.log")).expect("the upstream log");
    let broken: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" retrying=yes"))
        .collect();
    assert_eq!(
        broken.len() as u64,
        closed,
        "one line per broken attempt:\n{log}"
    );
    for l in &broken {
        assert!(
            l.contains(" GET http://") && l.contains("/bkt/k ") && l.contains("status=-"),
            "the request that was sent, without an answer: {l}"
        );
        assert!(l.contains(" error="), "{l}");
    }
    assert_eq!(
        log.lines().filter(|l| l.contains("status=200")).count(),
        20,
        "{log}"
    );
    // With max_retries: 0 the same failure reaches the client.
    let mut failed = None;
    for i in 0..20 {
        let r = client::get(gw.addr(), "/once/k");
        if r.status != 200 {
            failed = Some((i, r.status));
            break;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    let (_, status) = failed.expect("max_retries: 0 still retried every closed connection");
    assert_eq!(status, 502);
    assert_eq!(once.misbehaved.load(Ordering::SeqCst), 1);
}

#[test]
fn no_retry_once_the_response_started() {
    let truncating = Flaky::start(Second::Truncate);
    let unused = Flaky::start(Second::Close);
    let gw = flaky_gateway(&truncating, &unused);
    let mut sent = 0;
    let mut cut = 0;
    for _ in 0..10 {
        sent += 1;
        match client::try_request(gw.addr(), "GET", "/retry/k", &[], None) {
            Ok(r) if r.status == 200 && r.body == b"hello" => {}
            _ => cut += 1,
        }
        std::thread::sleep(Duration::from_millis(30));
        if cut > 0 {
            break;
        }
    }
    assert_eq!(cut, 1, "no response was cut short, so nothing was tested");
    assert_eq!(
        truncating.requests.load(Ordering::SeqCst),
        sent,
        "a request whose response had started was sent again"
    );
}

// ---------------------------------------------------------------------------------------------
// RGW: two extra radosgw daemons on the running cluster

/// One more radosgw of the tests/rgw.sh cluster (`rgw.sh gateway NAME PORT`).
struct RgwNode {
    name: String,
    port: u16,
    ceph_dir: String,
    child: Option<Child>,
}

impl RgwNode {
    fn start(name: &str, ceph_dir: &str) -> RgwNode {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut node = RgwNode {
            name: name.into(),
            port,
            ceph_dir: ceph_dir.into(),
            child: None,
        };
        node.restart();
        node
    }

    fn log_path(&self) -> PathBuf {
        Path::new(&self.ceph_dir).join(format!("log/ceph-client.rgw.{}.log", self.name))
    }
}

impl Node for RgwNode {
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        use std::os::unix::process::CommandExt;
        self.stop();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rgw.sh");
        let mut cmd = Command::new("bash");
        cmd.args([script, "gateway", &self.name, &self.port.to_string()])
            .env("CEPH_DIR", &self.ceph_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // SAFETY: prctl between fork and exec, no allocation: the daemon dies with the test.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().expect("starting radosgw through tests/rgw.sh"));
        let addr = self.addr();
        wait_until(
            &format!("radosgw {} on {addr}", self.name),
            Duration::from_secs(60),
            || client::try_request(&addr, "GET", "/", &[], None).is_ok_and(|r| r.status == 200),
        );
    }

    /// Requests in its log (radosgw writes it asynchronously: poll).
    fn requests(&self) -> u64 {
        let text = std::fs::read(self.log_path()).unwrap_or_default();
        let needle: &[u8] = b"====== starting new request";
        text.windows(needle.len()).filter(|w| *w == needle).count() as u64
    }
}

impl Drop for RgwNode {
    /// Stops the daemon and removes what it left in the cluster's directory.
    fn drop(&mut self) {
        self.stop();
        let dir = Path::new(&self.ceph_dir);
        let _ = std::fs::remove_file(self.log_path());
        let _ = std::fs::remove_dir_all(dir.join(format!("rgw-{}", self.name)));
        for ext in ["asok", "pid"] {
            let _ =
                std::fs::remove_file(dir.join(format!("run/ceph-client.rgw.{}.{ext}", self.name)));
        }
    }
}

#[test]
fn two_radosgw_daemons_one_killed_under_load_then_rejoins() {
    let choice = std::env::var(ENV_UPSTREAM).unwrap_or_default();
    if !matches!(choice.trim().to_ascii_lowercase().as_str(), "rgw" | "ceph") {
        eprintln!("SKIPPED: two radosgw daemons need the Ceph cluster ({ENV_UPSTREAM}=rgw)");
        return;
    }
    let up = Upstream::get();
    let ceph_dir = std::env::var("CEPH_DIR").unwrap_or_else(|_| RGW_DEFAULT_CEPH_DIR.into());
    let suffix = common::unique_suffix();
    let a = RgwNode::start(&format!("poola{suffix}"), &ceph_dir);
    let mut b = RgwNode::start(&format!("poolb{suffix}"), &ceph_dir);
    let bucket = common::fresh_bucket("rgwpool");
    let body = pattern(63, 30_000);
    up.put_object(&bucket, "clip.bin", &body, &[]);
    let yaml = pool_config(
        &[a.addr(), b.addr()],
        (up.access_key(), up.secret_key()),
        "    kind: rgw\n    health_check_interval_seconds: 1\n",
        &bucket,
    );
    let gw = Gateway::start(&yaml);
    kill_and_rejoin(&gw, &a, &mut b, "/files/clip.bin", &body);
}

// ---------------------------------------------------------------------------------------------
// Config checks

/// `bucketgate check` on a config whose one pool has `settings`; (exit code, stderr, file).
fn check_pool(settings: &str) -> (Option<i32>, String, String) {
    let text = format!(
        "listeners:\n  - address: 127.0.0.1:8080\nupstreams:\n  pool:\n    endpoints: [127.0.0.1:9000]\n    credentials:\n      access_key_id: k\n      secret_access_key: s\n{settings}routes:\n  - upstream: pool\n    bucket: bkt\n    public: true\n"
    );
    let mut f = tempfile::NamedTempFile::with_suffix(".yaml").unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let file = f.path().display().to_string();
    let out = Command::new(Gateway::bin())
        .args(["check", "-c", &file])
        .output()
        .expect("running bucketgate check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file,
    )
}

/// Asserts the check fails with a problem at `line` (the first setting is line 9) whose
/// message has every fragment.
#[track_caller]
fn expect_problem(settings: &str, line: usize, fragments: &[&str]) {
    let (code, stderr, file) = check_pool(settings);
    assert_eq!(
        code,
        Some(1),
        "check should fail for {settings:?}; stderr:\n{stderr}"
    );
    let place = format!("{file}:{line}:");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&place) && fragments.iter().all(|f| l.contains(f))),
        "no line at {place} with {fragments:?}; stderr:\n{stderr}"
    );
}

#[test]
fn pool_settings_are_checked_with_their_line() {
    let good = "    balance: consistent_hash\n    health_check:\n      type: http\n      method: GET\n      path: /health\n      host: rgw.internal:7480\n      expected_statuses: [200, \"4xx\"]\n      rise: 2\n      fall: 3\n    passive_ejection: {consecutive_failures: 5, cooldown_seconds: 30}\n    max_retries: 1\n    idle_timeout_seconds: 10\n    resolve_interval_seconds: 5\n";
    let (code, stderr, _) = check_pool(good);
    assert_eq!(code, Some(0), "a good pool failed the check:\n{stderr}");

    expect_problem(
        "    balance: least_conn\n",
        9,
        &["balance", "round_robin", "consistent_hash"],
    );
    expect_problem(
        "    health_check:\n      type: udp\n",
        10,
        &["type", "tcp", "http"],
    );
    expect_problem(
        "    health_check:\n      type: http\n      method: POST\n",
        11,
        &["method", "HEAD or GET"],
    );
    expect_problem(
        "    health_check:\n      type: http\n      path: health\n",
        11,
        &["path", "must start with `/`"],
    );
    expect_problem(
        "    health_check:\n      type: http\n      expected_statuses: [200, 600]\n",
        11,
        &["expected_statuses[1]", "not an HTTP status"],
    );
    expect_problem(
        "    health_check:\n      type: http\n      expected_statuses: [\"abc\"]\n",
        11,
        &["invalid status", "4xx"],
    );
    expect_problem(
        "    health_check:\n      type: http\n      expected_statuses: []\n",
        11,
        &["expected_statuses", "at least one"],
    );
    expect_problem(
        "    health_check:\n      rise: 0\n",
        10,
        &["rise", "between 1 and"],
    );
    expect_problem(
        "    passive_ejection:\n      cooldown_seconds: 0\n",
        10,
        &["cooldown_seconds", "greater than 0"],
    );
    expect_problem("    max_retries: 99\n", 9, &["max_retries", "at most 15"]);
    expect_problem(
        "    idle_timeout_seconds: 86401\n",
        9,
        &["idle_timeout_seconds", "at most 86400"],
    );
    expect_problem("    resolve_interval_seconds: 0\n", 9, &["greater than 0"]);
    // Values that would overflow time arithmetic (and panic) are refused.
    expect_problem(
        "    passive_ejection:\n      cooldown_seconds: 18446744073709551615\n",
        10,
        &["cooldown_seconds", "at most 86400"],
    );
    expect_problem(
        "    health_check_interval_seconds: 86401\n",
        9,
        &["health_check_interval_seconds", "at most 86400"],
    );
    expect_problem(
        "    resolve_interval_seconds: 9999999999999\n",
        9,
        &["resolve_interval_seconds", "at most 86400"],
    );
    let (code, stderr, _) = check_pool(
        "    health_check_interval_seconds: 86400\n    resolve_interval_seconds: 86400\n    passive_ejection: {cooldown_seconds: 86400}\n",
    );
    assert_eq!(code, Some(0), "one day is allowed:\n{stderr}");
}

#[test]
fn the_pools_example_passes_the_check() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/pools.yaml");
    let out = Command::new(Gateway::bin())
        .args(["check", "-c", example])
        .env("RGW_ACCESS_KEY", "AKIAEXAMPLE")
        .env("RGW_SECRET_KEY", "example-secret-not-printed")
        .output()
        .expect("running bucketgate check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "conf/pools.yaml:\n{stderr}");
    assert!(stderr.contains("test is successful"), "{stderr}");
    assert!(!stderr.contains("example-secret-not-printed"));
}

#[test]
fn endpoint_weights_are_checked() {
    // The endpoints list is line 5; replace it with the map form.
    let text_with = |endpoints: &str| {
        format!(
            "listeners:\n  - address: 127.0.0.1:8080\nupstreams:\n  pool:\n{endpoints}    credentials:\n      access_key_id: k\n      secret_access_key: s\nroutes:\n  - upstream: pool\n    bucket: bkt\n    public: true\n"
        )
    };
    let run = |text: String| {
        let mut f = tempfile::NamedTempFile::with_suffix(".yaml").unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let file = f.path().display().to_string();
        let out = Command::new(Gateway::bin())
            .args(["check", "-c", &file])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            file,
        )
    };
    let (code, stderr, _) = run(text_with(
        "    endpoints:\n      - 127.0.0.1:9000\n      - {address: 127.0.0.1:9001, weight: 3}\n",
    ));
    assert_eq!(
        code,
        Some(0),
        "string and map endpoints together:\n{stderr}"
    );

    let (code, stderr, file) = run(text_with(
        "    endpoints:\n      - 127.0.0.1:9000\n      - address: 127.0.0.1:9001\n        weight: 0\n",
    ));
    assert_eq!(code, Some(1), "weight 0 passed:\n{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!("{file}:8:"))
            && l.contains("endpoints[1].weight")
            && l.contains("between 1 and 1000")),
        "stderr:\n{stderr}"
    );

    let (code, stderr, file) = run(text_with(
        "    endpoints:\n      - {address: 127.0.0.1:9001, wieght: 2}\n",
    ));
    assert_eq!(code, Some(1), "a misspelt key passed:\n{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{file}:6:")) && l.contains("wieght")),
        "stderr:\n{stderr}"
    );
}
