//! What reaches the upstream, and what never does: client credentials, hostile paths, bodies
//! without a length. Most checks use a recording upstream (a plain listener that stores what it
//! receives), which is the only way to prove a negative; each also has a positive control that
//! shows the recorder would have seen the request.

mod common;

use std::time::Duration;

use common::client::{self, request, send_raw};
use common::fresh_bucket;
use common::gateway::{Gateway, PREAMBLE};
use common::recorder::Recorder;
use common::upstream::Upstream;

const ROUTE: &str = "routes:
  - name: files
    path_prefix: /files
    upstream: s3
    bucket: data
    key_prefix: 'pre/'
    methods: [GET, HEAD, PUT, DELETE]
    public: true
";

/// A gateway whose only upstream is `recorder`.
fn gateway_on(recorder: &Recorder) -> Gateway {
    let yaml = format!("{PREAMBLE}{ROUTE}").replace("{upstream}", &recorder.endpoint());
    Gateway::start(&yaml)
}

#[test]
fn client_credentials_never_reach_the_upstream() {
    let rec = Recorder::start();
    let gw = gateway_on(&rec);
    let secrets = [
        ("authorization", "Bearer client-secret-token"),
        ("cookie", "session=client-secret-cookie; other=1"),
        ("proxy-authorization", "Basic Y2xpZW50LXNlY3JldA=="),
        ("x-amz-security-token", "client-secret-session"),
        ("x-amz-date", "20000101T000000Z"),
        ("x-amz-content-sha256", "client-secret-hash"),
        ("x-forwarded-for", "10.9.9.9"),
        ("range", "bytes=1-2"),
        ("if-none-match", "\"abc\""),
        ("if-modified-since", "Tue, 24 Nov 2026 00:00:00 GMT"),
        ("if-range", "\"abc\""),
        ("if-match", "\"def\""),
    ];
    request(gw.addr(), "GET", "/files/k.txt", &secrets, None).assert_status(200);
    request(
        gw.addr(),
        "PUT",
        "/files/k.txt",
        &[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=CLIENTKEY/x, Signature=client",
            ),
            ("cookie", "session=client-secret-cookie"),
            ("x-amz-meta-color", "blue"),
            ("content-type", "text/plain"),
        ],
        Some(b"body"),
    )
    .assert_status(200);

    let seen = rec.wait_for_requests(2, Duration::from_secs(5));
    assert_eq!(seen.len(), 2);
    for r in &seen {
        for (name, value) in &r.headers {
            for needle in [
                "client-secret",
                "CLIENTKEY",
                "Y2xpZW50LXNlY3JldA",
                "10.9.9.9",
            ] {
                assert!(
                    !value.contains(needle),
                    "client credential reached the upstream in {name}: {value}"
                );
            }
        }
        for h in [
            "cookie",
            "proxy-authorization",
            "x-amz-security-token",
            "x-forwarded-for",
        ] {
            assert!(
                !r.has_header(h),
                "{h} reached the upstream: {:?}",
                r.headers
            );
        }
        let auth = r.header("authorization").expect("our signature");
        assert!(
            auth.starts_with(&format!(
                "AWS4-HMAC-SHA256 Credential={}/",
                Upstream::get().access_key()
            )),
            "upstream saw {auth}"
        );
        assert_eq!(r.header("x-amz-content-sha256"), Some("UNSIGNED-PAYLOAD"));
    }
    let get = &seen[0];
    assert_eq!(get.target, "/data/pre/k.txt");
    for (name, value) in &secrets[7..] {
        assert_eq!(get.header(name), Some(*value), "{name} must pass verbatim");
    }
    let put = &seen[1];
    assert_eq!(put.header("x-amz-meta-color"), Some("blue"));
    assert_eq!(put.header("content-type"), Some("text/plain"));
    assert_eq!(put.body, b"body");
}

#[test]
fn real_upstream_accepts_our_signature_despite_client_auth_headers() {
    let up = Upstream::get();
    let bucket = fresh_bucket("clientauth");
    up.put_object(&bucket, "k", b"v", &[]);
    let gw = Gateway::start(&common::gateway::config_with_routes(&format!(
        "routes:\n  - path_prefix: /\n    upstream: s3\n    bucket: {bucket}\n    public: true\n"
    )));
    let r = request(
        gw.addr(),
        "GET",
        "/k",
        &[
            ("authorization", "AWS4-HMAC-SHA256 Credential=BOGUS/20000101/x/s3/aws4_request, SignedHeaders=host, Signature=00"),
            ("x-amz-date", "20000101T000000Z"),
            ("x-amz-security-token", "bogus"),
            ("cookie", "a=b"),
        ],
        None,
    );
    r.assert_status(200);
    assert_eq!(r.body, b"v");
}

#[test]
fn query_is_limited_to_response_overrides() {
    let rec = Recorder::start();
    let gw = gateway_on(&rec);
    client::get(
        gw.addr(),
        "/files/k?acl&tagging&versionId=1&uploads&response-content-type=text%2Fplain&x-id=Evil",
    )
    .assert_status(200);
    let seen = rec.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(
        seen[0].target, "/data/pre/k?response-content-type=text%2Fplain",
        "only response-* overrides are forwarded"
    );
}

#[test]
fn hostile_paths_get_400_and_never_reach_the_upstream() {
    let rec = Recorder::start();
    let gw = gateway_on(&rec);
    let lines: Vec<&str> = include_str!("data/hostile_paths.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(lines.len() >= 50, "only {} hostile paths", lines.len());
    for line in &lines {
        for method in ["GET", "PUT", "DELETE"] {
            let raw = format!(
                "{method} /files/{line} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
                gw.addr()
            );
            let r = send_raw(gw.addr(), raw.as_bytes());
            assert_eq!(
                r.status,
                400,
                "{method} /files/{line} gave {}: {}",
                r.status,
                r.text()
            );
            if !r.body.is_empty() {
                assert_eq!(r.json()["error"], "invalid_key", "{line}");
            }
        }
    }
    // The positive control: a plain key does reach the recorder.
    client::get(gw.addr(), "/files/fine.txt").assert_status(200);
    let seen = rec.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(
        seen.len(),
        1,
        "hostile requests reached the upstream: {:?}",
        seen.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    assert_eq!(seen[0].target, "/data/pre/fine.txt");
}

#[test]
fn chunked_put_gets_411_and_stores_nothing() {
    let up = Upstream::get();
    let bucket = fresh_bucket("chunked");
    let gw = Gateway::start(&common::gateway::config_with_routes(&format!(
        "routes:\n  - path_prefix: /files\n    upstream: s3\n    bucket: {bucket}\n    methods: [GET, PUT]\n    public: true\n"
    )));
    let raw = format!(
        "PUT /files/c.bin HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}",
        gw.addr(),
        String::from_utf8(client::chunked_body(&[b"hello ", b"world"], &[])).unwrap()
    );
    let r = send_raw(gw.addr(), raw.as_bytes());
    r.assert_status(411);
    assert_eq!(r.json()["error"], "length_required");
    assert!(r.text().contains("Content-Length"), "{}", r.text());
    assert!(
        up.get_object(&bucket, "c.bin").is_none(),
        "a chunked PUT stored an object"
    );

    let raw = format!(
        "PUT /files/d.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        gw.addr()
    );
    send_raw(gw.addr(), raw.as_bytes()).assert_status(411);
}

#[test]
fn virtual_addressing_puts_the_bucket_in_the_host() {
    let rec = Recorder::start();
    let port = rec.endpoint().rsplit(':').next().unwrap().to_string();
    let yaml = format!("{PREAMBLE}{ROUTE}")
        .replace(
            "endpoints: [{upstream}]",
            &format!("endpoints: [localhost:{port}]"),
        )
        .replace(
            "    region: us-east-1\n",
            "    region: us-east-1\n    addressing: virtual\n",
        );
    let gw = Gateway::start(&yaml);
    client::get(gw.addr(), "/files/k%20x.txt").assert_status(200);
    let seen = rec.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(seen[0].target, "/pre/k%20x.txt");
    assert_eq!(
        seen[0].header("host"),
        Some(format!("data.localhost:{port}").as_str())
    );
    let auth = seen[0].header("authorization").unwrap_or_default();
    assert!(
        auth.contains("SignedHeaders=host;"),
        "host is signed: {auth}"
    );
}
