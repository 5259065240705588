//! When the upstream fails or the client leaves: wrong credentials, an unreachable or busy
//! upstream, and clients that hang up mid-body (ffmpeg and samtools do it on every seek).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::client::{self, request};
use common::gateway::{config_with_routes, Gateway, PREAMBLE};
use common::recorder::Recorder;
use common::s3::{assert_s3_error, xml_value, S3Client};
use common::upstream::Upstream;
use common::{fresh_bucket, pattern, wait_until};

fn route(bucket: &str) -> String {
    format!(
        "routes:\n  - name: files\n    path_prefix: /files\n    upstream: s3\n    bucket: {bucket}\n    methods: [GET, HEAD, PUT]\n    public: true\n"
    )
}

#[test]
fn wrong_upstream_secret_is_a_502_logged_once() {
    let up = Upstream::get();
    let bucket = fresh_bucket("wrongsecret");
    up.put_object(&bucket, "k.txt", b"v", &[]);
    let yaml = config_with_routes(&route(&bucket)).replace("{secret_key}", "\"not-the-secret\"");
    let gw = Gateway::start(&yaml);
    for _ in 0..3 {
        let r = client::get(gw.addr(), "/files/k.txt");
        r.assert_status(502);
        assert_eq!(r.json()["error"], "upstream_misconfigured");
        assert!(
            !r.text().contains("Signature"),
            "upstream detail leaked: {}",
            r.text()
        );
    }
    let r = request(gw.addr(), "PUT", "/files/new.txt", &[], Some(b"data"));
    r.assert_status(502);
    assert!(
        up.get_object(&bucket, "new.txt").is_none(),
        "a wrongly signed PUT was stored"
    );

    let log = gw.wait_for_log("SignatureDoesNotMatch", Duration::from_secs(5));
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("SignatureDoesNotMatch"))
        .collect();
    assert_eq!(
        loud.len(),
        1,
        "logged once per cause, got:\n{}",
        loud.join("\n")
    );
    assert!(
        loud[0].contains("secret access key"),
        "with a hint: {}",
        loud[0]
    );
    assert!(
        !log.contains("not-the-secret"),
        "the secret appeared in the log"
    );
}

#[test]
fn unreachable_upstream_is_502_and_not_ready() {
    // A port that was free a moment ago: nothing listens there.
    let dead = common::gateway::free_addr();
    let yaml = config_with_routes(&route("bucket")).replace("{upstream}", &dead);
    let gw = Gateway::start(&yaml);
    let r = client::get(gw.addr(), "/files/k.txt");
    assert!(
        matches!(r.status, 502 | 504),
        "got {}: {}",
        r.status,
        r.text()
    );
    assert_eq!(r.json()["error"], "upstream_unreachable");
    wait_until(
        "/readyz to report the dead pool",
        Duration::from_secs(15),
        || {
            let r = client::get(gw.addr(), "/readyz");
            r.status == 503 && r.text().contains("\"s3\"")
        },
    );
    // Once the health check marked it down, requests still get a clean 502.
    let r = client::get(gw.addr(), "/files/k.txt");
    r.assert_status(502);
    assert_eq!(client::get(gw.addr(), "/healthz").status, 200);
}

/// With no healthy backend in the pool, each frontend answers in its own format: an S3 client
/// gets S3 XML (`503 ServiceUnavailable`, with its request id, so every SDK backs off and
/// retries), a `files` client gets the JSON 502.
#[test]
fn no_healthy_backend_is_s3_xml_on_s3_routes_and_json_on_files_routes() {
    let dead = common::gateway::free_addr();
    let routes = format!(
        "{}  - name: s3\n    frontend: s3\n    path_prefix: /\n    upstream: s3\n    buckets:\n      - name: data\n        bucket: data\naccess_keys:\n  static:\n    - access_key_id: AKIANOBACKEND01\n      secret_access_key: nobackendsecret\n      subject: alice\n      grants:\n        - {{bucket: data, prefix: \"\", operations: [read, write, delete, list]}}\n",
        route("data")
    );
    let yaml = config_with_routes(&routes).replace("{upstream}", &dead);
    let gw = Gateway::start(&yaml);
    wait_until(
        "/readyz to report the dead pool",
        Duration::from_secs(15),
        || client::get(gw.addr(), "/readyz").status == 503,
    );
    let s3 = S3Client::new(gw.addr(), "AKIANOBACKEND01", "nobackendsecret");
    let r = s3.get("/data/k.txt");
    assert_s3_error(&r, 503, "ServiceUnavailable");
    let id = r.header("x-amz-request-id").expect("an S3 request id");
    assert_eq!(xml_value(&r.text(), "RequestId").as_deref(), Some(id));
    assert_eq!(
        xml_value(&r.text(), "Resource").as_deref(),
        Some("/data/k.txt")
    );
    let r = s3.delete_objects("data", &["k.txt"]);
    assert_s3_error(&r, 503, "ServiceUnavailable");

    let r = client::get(gw.addr(), "/files/k.txt");
    r.assert_status(502);
    assert_eq!(r.json()["error"], "upstream_unreachable");
    assert!(!r.text().contains("<Error>"), "{}", r.text());
}

#[test]
fn slow_down_is_503_with_retry_after_and_no_xml() {
    let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>REQ123</RequestId><HostId>HOST456</HostId></Error>";
    let rec = Recorder::start_with_response(
        503,
        &[
            ("content-type", "application/xml"),
            ("x-amz-request-id", "REQ123"),
        ],
        xml,
    );
    let yaml = format!("{PREAMBLE}{}", route("data")).replace("{upstream}", &rec.endpoint());
    let gw = Gateway::start(&yaml);
    let r = client::get(gw.addr(), "/files/k");
    r.assert_status(503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"], "slow_down");
    assert!(r.header("x-amz-request-id").is_none());
    for leak in ["REQ123", "HOST456", "<Error>"] {
        assert!(!r.text().contains(leak), "{leak} leaked: {}", r.text());
    }
    let h = request(gw.addr(), "HEAD", "/files/k", &[], None);
    h.assert_status(503);
    assert!(h.body.is_empty());
}

#[test]
fn upstream_500_is_502() {
    let rec = Recorder::start_with_response(500, &[], b"<Error><Code>InternalError</Code></Error>");
    let yaml = format!("{PREAMBLE}{}", route("data")).replace("{upstream}", &rec.endpoint());
    let gw = Gateway::start(&yaml);
    let r = client::get(gw.addr(), "/files/k");
    r.assert_status(502);
    assert_eq!(r.json()["error"], "upstream_error");
}

/// Socket inodes held by process `pid`.
fn socket_inodes(pid: u32) -> HashSet<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect()
}

/// ESTABLISHED connections from process `pid` to local port `port`.
fn connections_to(pid: u32, port: u16) -> usize {
    let mine = socket_inodes(pid);
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .filter(|line| {
            let c: Vec<&str> = line.split_whitespace().collect();
            c.len() > 9
                && c[3] == "01"
                && mine.contains(c[9])
                && c[2]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                    == Some(port)
        })
        .count()
}

#[test]
fn client_hang_up_mid_body_releases_the_upstream_connection() {
    const LEN: usize = 32 << 20;
    let up = Upstream::get();
    let bucket = fresh_bucket("hangup");
    up.put_object(&bucket, "movie.mp4", &pattern(5, LEN), &[]);
    let gw = Gateway::start(&config_with_routes(&route(&bucket)));

    // Control: while a download is held open, its upstream connection is visible.
    {
        use std::io::{Read, Write};
        let mut held = client::connect(gw.addr()).expect("connect");
        held.write_all(&client::build_head(
            gw.addr(),
            "GET",
            "/files/movie.mp4",
            &[],
            None,
        ))
        .unwrap();
        let mut first = [0u8; 1024];
        held.read_exact(&mut first).unwrap();
        wait_until(
            "the held download's upstream connection",
            Duration::from_secs(5),
            || connections_to(gw.pid(), up.port()) >= 1,
        );
    }

    for i in 0..8 {
        // An ffmpeg-style open-ended range, abandoned after the first 64 KiB.
        let range = format!("bytes={}-", i * 1_000_000);
        let r = client::start_get_and_hang_up(
            gw.addr(),
            "/files/movie.mp4",
            &[("range", range.as_str())],
            64 * 1024,
        );
        assert_eq!(r.status, 206);
    }
    // None of those eight upstream reads can be reused mid-body, so each must be closed.
    wait_until(
        "the gateway to close the upstream connections of abandoned downloads",
        Duration::from_secs(20),
        || connections_to(gw.pid(), up.port()) <= 1,
    );
    wait_until("access log lines", Duration::from_secs(5), || {
        gw.log().matches("aborted=client").count() >= 8
    });
    let log = gw.log();
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "a client hang-up was logged as an error:\n{log}"
    );
    // And the gateway still serves.
    let r = request(
        gw.addr(),
        "GET",
        "/files/movie.mp4",
        &[("range", "bytes=0-9")],
        None,
    );
    r.assert_status(206);
    assert_eq!(r.body, &pattern(5, 10)[..]);
}
