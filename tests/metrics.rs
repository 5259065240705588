//! Observability end to end, on the real binary: the Prometheus endpoint on its own listener
//! (counters that move by exactly the traffic sent, backend health, in-flight requests), the
//! JSON access log, and the upstream request log that never shows a signature.
//!
//! Each test has its own gateway process, so the counters it reads move only with its own
//! traffic; values are compared before and after, never timed.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime};

use common::client::{self, request};
use common::gateway::{free_addr, Gateway, PREAMBLE};
use common::s3::S3Client;
use common::upstream::Upstream;
use common::{fresh_bucket, pattern, wait_until};

const WAIT: Duration = Duration::from_secs(20);
const ALICE_ID: &str = "AKIAMETRICSALICE01";
const ALICE_SECRET: &str = "metrics-alice-secret";

/// One scrape: every sample line as `series → value`.
struct Scrape {
    text: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    /// The value of `series` (`name{labels}` exactly as exposed), 0 when absent.
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }
}

fn scrape(addr: &str) -> Scrape {
    let r = client::get(addr, "/metrics");
    r.assert_status(200);
    let text = r.text();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {l:?}"));
            (series.to_owned(), value)
        })
        .collect();
    Scrape { text, samples }
}

/// The metrics endpoint's first answer (its listener may open a moment after `/healthz`).
fn first_scrape(addr: &str) -> Scrape {
    wait_until("the metrics listener", WAIT, || {
        client::try_request(addr, "GET", "/metrics", &[], None).is_ok_and(|r| r.status == 200)
    });
    scrape(addr)
}

/// [`PREAMBLE`] with extra `server` keys and top-level sections.
fn preamble(server_extra: &str, top_extra: &str) -> String {
    let marker = "  log_level: info\n";
    assert!(PREAMBLE.contains(marker));
    let mut p = PREAMBLE.replace(marker, &format!("{marker}{server_extra}"));
    p.push_str(top_extra);
    p
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_result(password, 4)
        .expect("bcrypt")
        .format_for_version(bcrypt::Version::TwoY)
}

#[test]
fn counters_move_by_exactly_the_traffic_and_only_the_metrics_port_serves_them() {
    let up = Upstream::get();
    let bucket = fresh_bucket("metrics");
    let data = pattern(3, 5000);
    up.put_object(&bucket, "doc.bin", &data, &[]);
    let metrics = free_addr();
    let gw = Gateway::start(&format!(
        "{}routes:
  - name: files
    path_prefix: /files
    upstream: s3
    bucket: {bucket}
    methods: [GET, HEAD, PUT]
    public: true
  - name: private
    path_prefix: /private
    upstream: s3
    bucket: {bucket}
    methods: [GET]
    auth:
      - basic:
          users:
            - name: alice
              password_hash: '{hash}'
              grants: [{{bucket: \"{bucket}\", prefix: \"\", operations: [read]}}]
",
        preamble(
            "",
            &format!("metrics:\n  address: {metrics}\n  path: /metrics\n")
        ),
        hash = bcrypt_hash("right-password"),
    ));

    let before = first_scrape(&metrics);
    let r = client::get(&metrics, "/metrics");
    let content_type = r.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content-type {content_type:?}"
    );
    for family in [
        "bucketgate_requests_total counter",
        "bucketgate_request_duration_seconds histogram",
        "bucketgate_upstream_duration_seconds histogram",
        "bucketgate_received_bytes_total counter",
        "bucketgate_sent_bytes_total counter",
        "bucketgate_auth_total counter",
        "bucketgate_rate_limited_total counter",
        "bucketgate_backend_healthy gauge",
        "bucketgate_requests_in_flight gauge",
    ] {
        assert!(
            before.text.contains(&format!("# TYPE {family}\n")),
            "{family} missing:\n{}",
            before.text
        );
    }
    // Other paths on the metrics port are not the metrics.
    client::get(&metrics, "/other").assert_status(404);

    // Traffic: 3 × 200, 2 × 404, one wrong password, one without credentials.
    let mut bytes_out = 0;
    for _ in 0..3 {
        let r = client::get(gw.addr(), "/files/doc.bin");
        r.assert_status(200);
        assert_eq!(r.body, data);
        bytes_out += r.body.len();
    }
    for _ in 0..2 {
        let r = client::get(gw.addr(), "/files/missing.bin");
        r.assert_status(404);
        bytes_out += r.body.len();
    }
    let wrong = request(
        gw.addr(),
        "GET",
        "/private/doc.bin",
        &[("authorization", "Basic YWxpY2U6d3Jvbmc=")], // alice:wrong
        None,
    );
    wrong.assert_status(401);
    request(gw.addr(), "GET", "/private/doc.bin", &[], None).assert_status(401);

    // The proxy listener does not serve the metrics.
    let on_proxy = client::get(gw.addr(), "/metrics");
    assert_ne!(on_proxy.status, 200);
    assert!(!on_proxy.text().contains("bucketgate_requests_total"));

    // Counted in the logging phase, just after the response: wait for the last one.
    let series = |name: &str, labels: &str| format!("{name}{{{labels}}}");
    let ok = series(
        "bucketgate_requests_total",
        "route=\"files\",method=\"GET\",status=\"2xx\"",
    );
    let not_found = series(
        "bucketgate_requests_total",
        "route=\"files\",method=\"GET\",status=\"4xx\"",
    );
    let private_401 = series(
        "bucketgate_requests_total",
        "route=\"private\",method=\"GET\",status=\"4xx\"",
    );
    let no_route = series(
        "bucketgate_requests_total",
        "route=\"-\",method=\"GET\",status=\"4xx\"",
    );
    let mut after = scrape(&metrics);
    wait_until("all requests counted", WAIT, || {
        after = scrape(&metrics);
        after.get(&no_route) >= before.get(&no_route) + 1.0
            && after.get(&private_401) >= before.get(&private_401) + 2.0
            && after.get(&not_found) >= before.get(&not_found) + 2.0
            && after.get(&ok) >= before.get(&ok) + 3.0
    });
    let delta = |s: &str| after.get(s) - before.get(s);
    assert_eq!(delta(&ok), 3.0, "{}", after.text);
    assert_eq!(delta(&not_found), 2.0, "{}", after.text);
    assert_eq!(delta(&private_401), 2.0, "{}", after.text);
    assert_eq!(delta(&no_route), 1.0, "{}", after.text);
    assert_eq!(
        delta(&series("bucketgate_sent_bytes_total", "route=\"files\"")),
        bytes_out as f64
    );
    assert_eq!(
        delta(&series(
            "bucketgate_received_bytes_total",
            "route=\"files\""
        )),
        0.0
    );
    for histogram in [
        "bucketgate_request_duration_seconds",
        "bucketgate_upstream_duration_seconds",
    ] {
        // Every files request went upstream (the 404s too), and each is in +Inf.
        assert_eq!(
            delta(&format!("{histogram}_count{{route=\"files\"}}")),
            5.0,
            "{histogram}"
        );
        assert_eq!(
            delta(&format!(
                "{histogram}_bucket{{route=\"files\",le=\"+Inf\"}}"
            )),
            5.0,
            "{histogram}"
        );
    }
    // Refused before going upstream: no upstream time.
    assert_eq!(
        delta("bucketgate_upstream_duration_seconds_count{route=\"private\"}"),
        0.0
    );
    assert_eq!(
        delta("bucketgate_auth_total{plugin=\"basic\",outcome=\"rejected\"}"),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(
        delta("bucketgate_auth_total{plugin=\"-\",outcome=\"no_credentials\"}"),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(
        delta("bucketgate_auth_total{plugin=\"basic\",outcome=\"authenticated\"}"),
        0.0
    );
    // No key, client address or raw path in any label.
    for leak in ["doc.bin", "missing.bin", "127.0.0.1:", "/files"] {
        let leaked: Vec<&str> = after
            .text
            .lines()
            .filter(|l| l.starts_with("bucketgate_requests") && l.contains(leak))
            .collect();
        assert!(leaked.is_empty(), "{leak} in labels: {leaked:?}");
    }

    // In flight: an upload whose body is still coming counts until the client leaves.
    let idle = scrape(&metrics).get("bucketgate_requests_in_flight");
    let mut conn = client::connect(gw.addr()).expect("connecting to the gateway");
    conn.write_all(
        b"PUT /files/slow.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .unwrap();
    wait_until("the upload counted in flight", WAIT, || {
        scrape(&metrics).get("bucketgate_requests_in_flight") == idle + 1.0
    });
    drop(conn);
    wait_until("the upload no longer in flight", WAIT, || {
        scrape(&metrics).get("bucketgate_requests_in_flight") == idle
    });
}

#[test]
fn backend_health_is_one_for_a_live_upstream_and_zero_for_a_dead_one() {
    let metrics = free_addr();
    // Nobody listens there: the port was free a moment ago and nothing binds it again.
    let dead = free_addr();
    let gw = Gateway::start(&format!(
        "{}  dead:
    endpoints: [{dead}]
    health_check_interval_seconds: 1
    credentials: {{access_key_id: x, secret_access_key: y}}
routes:
  - name: live
    path_prefix: /live
    upstream: s3
    bucket: nothing-here
    public: true
  - name: dead
    path_prefix: /dead
    upstream: dead
    bucket: nothing-here
    public: true
",
        preamble("", "").replace(
            "listeners:",
            &format!("metrics:\n  address: {metrics}\nlisteners:"),
        )
    ));
    let dead_series = format!("bucketgate_backend_healthy{{pool=\"dead\",backend=\"{dead}\"}}");
    first_scrape(&metrics);
    let mut last = String::new();
    wait_until("the dead backend reported down", WAIT, || {
        let s = scrape(&metrics);
        last = s.text.clone();
        s.samples.get(&dead_series) == Some(&0.0)
    });
    let live: Vec<(&str, f64)> = last
        .lines()
        .filter(|l| l.starts_with("bucketgate_backend_healthy{pool=\"s3\","))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(s, v)| (s, v.parse().unwrap()))
        .collect();
    assert!(
        live.iter().any(|(_, v)| *v == 1.0),
        "no healthy backend in pool s3:\n{last}"
    );
    // The dead pool really is dead for requests too.
    assert_eq!(client::get(gw.addr(), "/dead/x").status, 502);
}

#[test]
fn json_access_log_and_upstream_log_without_secrets() {
    let up = Upstream::get();
    let bucket = fresh_bucket("obslog");
    let data = pattern(5, 777);
    up.put_object(&bucket, "users/alice/p.bin", &data, &[]);
    let gw = Gateway::start(&format!(
        "{}access_keys:
  static:
    - access_key_id: {ALICE_ID}
      secret_access_key: {ALICE_SECRET}
      subject: alice
      grants:
        - {{bucket: \"{bucket}\", prefix: \"users/alice/\", operations: [read]}}
routes:
  - name: files
    path_prefix: /files
    upstream: s3
    bucket: {bucket}
    public: true
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: s3
    buckets:
      - name: data
        bucket: \"{bucket}\"
",
        preamble(
            "  access_log_format: json\n  upstream_log: {dir}/upstream.log\n",
            ""
        ),
    ));
    let upstream_log = gw.dir().join("upstream.log");

    // 1. Through the files route: a 200 and an upstream 404.
    let r = client::get(gw.addr(), "/files/users/alice/p.bin");
    r.assert_status(200);
    client::get(gw.addr(), "/files/users/alice/none.bin").assert_status(404);

    // 2. A presigned GET on the S3 route: its signature and credential are in the client's URL.
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    let url = alice.presign("GET", "/data/users/alice/p.bin", 300, SystemTime::now());
    let signature = url
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Signature="))
        .expect("a presigned URL has a signature")
        .to_owned();
    let r = alice.send_presigned("GET", &url, None);
    r.assert_status(200);
    assert_eq!(r.body, data);

    // The JSON access lines: one object per line, with the text line's fields.
    let log = gw.wait_for_log("\"route\":\"s3\"", WAIT);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let find = |route: &str, status: u64| {
        lines
            .iter()
            .find(|v| v["route"] == route && v["status"] == status)
            .unwrap_or_else(|| panic!("no {route} {status} line in:\n{log}"))
    };
    let ok = find("files", 200);
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["key"], "users/alice/p.bin");
    assert_eq!(ok["bytes_out"], data.len());
    assert_eq!(ok["bytes_in"], 0);
    assert!(ok["total_ms"].is_u64() && ok["time"].is_string());
    assert_eq!(find("files", 404)["method"], "GET");
    let s3 = find("s3", 200);
    assert_eq!(s3["user"], "alice");
    assert_eq!(s3["bytes_out"], data.len());
    for v in &lines {
        let text = v.to_string();
        assert!(
            !text.contains(&signature),
            "signature in the access log: {text}"
        );
    }

    // The upstream log: one line per upstream request, the upstream status, no secret.
    let mut text = String::new();
    wait_until("three upstream log lines", WAIT, || {
        text = std::fs::read_to_string(&upstream_log).unwrap_or_default();
        text.lines().count() >= 3
    });
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let path = format!("/{bucket}/users/alice/p.bin");
    let hits: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains(" GET http://") && l.contains(&path))
        .collect();
    assert_eq!(hits.len(), 2, "{text}");
    assert!(hits.iter().all(|l| l.contains(" status=200 ")), "{text}");
    assert!(
        hits.iter()
            .all(|l| l.contains(&format!(" received={} ", data.len()))),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/users/alice/none.bin") && l.contains(" status=404 ")),
        "{text}"
    );
    for secret in [
        signature.as_str(),
        ALICE_ID,
        ALICE_SECRET,
        up.secret_key(),
        "X-Amz-Signature",
        "X-Amz-Credential",
        "Signature=",
        "Credential=",
        "uthorization",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} in the upstream log:\n{text}"
        );
    }
}

#[test]
fn bad_observability_settings_are_reported_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    std::fs::write(
        &config,
        "server:
  access_log_format: xml
  upstream_log: /nonexistent-bucketgate-dir/s3.log
listeners:
  - address: 0.0.0.0:8080
metrics:
  address: 127.0.0.1:8080
  path: metrics
upstreams:
  s3:
    endpoints: [127.0.0.1:9000]
    credentials: {access_key_id: a, secret_access_key: bbbbbbbb}
routes:
  - path_prefix: /v
    upstream: s3
    bucket: videos
    public: true
",
    )
    .unwrap();
    let out = std::process::Command::new(Gateway::bin())
        .arg("check")
        .arg("-c")
        .arg(&config)
        .output()
        .expect("running bucketgate check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let at = config.display();
    for expected in [
        format!("{at}:2:3: server.access_log_format: unknown variant `xml`"),
        format!("{at}:3:3: server.upstream_log: the directory /nonexistent-bucketgate-dir"),
        format!("{at}:7:3: metrics.address: 127.0.0.1:8080 is already a proxy listener (line 5)"),
        format!("{at}:8:3: metrics.path: \"metrics\" must start with `/`"),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}
