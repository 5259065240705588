//! Tests of the test harness itself (tests/common), against the real upstream chosen by
//! `BUCKETGATE_TEST_UPSTREAM` and against canned servers. If these fail, no other integration
//! test result means anything; none of them needs a working bucketgate.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::client;
use common::{fresh_bucket, pattern, pattern_fill, pattern_sha256, sha256_hex, Recorder, Upstream};

/// A key with non-ASCII, a space, a plus and a literal percent: every one of them must arrive
/// byte-exact.
const HOSTILE_KEY: &str = "dir/ünï cödé + plus/a b+c%20d ~!$&'()*,;=@.txt";

#[test]
fn object_roundtrip_is_byte_exact() {
    let up = Upstream::get();
    let bucket = fresh_bucket("roundtrip");
    up.create_bucket(&bucket); // idempotent
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    up.put_object(
        &bucket,
        HOSTILE_KEY,
        &body,
        &[
            ("Content-Type", "application/x-test"),
            ("x-amz-meta-origin", "selftest"),
        ],
    );

    let (got, headers) = up
        .get_object(&bucket, HOSTILE_KEY)
        .expect("object just stored");
    assert_eq!(got.len(), body.len());
    assert!(got == body, "stored body differs from the one sent");
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("application/x-test"));
    assert_eq!(header("x-amz-meta-origin"), Some("selftest"));

    let head = up.head_object(&bucket, HOSTILE_KEY).expect("HEAD finds it");
    let len = head
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.clone());
    assert_eq!(len.as_deref(), Some("70000"));

    assert_eq!(up.list_keys(&bucket, "dir/"), vec![HOSTILE_KEY.to_string()]);
    // A near-miss key is a different object.
    assert!(up
        .get_object(&bucket, "dir/ünï cödé   plus/a b c%20d ~!$&'()*,;=@.txt")
        .is_none());

    up.delete_object(&bucket, HOSTILE_KEY);
    assert!(up.get_object(&bucket, HOSTILE_KEY).is_none());
    assert!(up.head_object(&bucket, HOSTILE_KEY).is_none());
    up.delete_object(&bucket, HOSTILE_KEY); // absent is fine
}

#[test]
fn upstream_checks_signatures() {
    let up = Upstream::get();
    let bucket = fresh_bucket("sigcheck");

    let r = up
        .call("PUT", &bucket, Some("forged"))
        .keys(up.access_key(), "not-the-secret")
        .body(b"forged")
        .send();
    assert_eq!(
        r.status,
        403,
        "a wrong secret must be refused: {}",
        r.text()
    );
    assert!(
        up.get_object(&bucket, "forged").is_none(),
        "a forged PUT stored something"
    );

    let r = up
        .call("GET", &bucket, Some("forged"))
        .keys(up.access_key(), "not-the-secret")
        .send();
    assert_eq!(
        r.status,
        403,
        "a wrong secret must be refused on GET too: {}",
        r.text()
    );

    // A body that does not match its signed hash is refused (s3s-fs: 500, RGW: 400) and not stored.
    let r = up
        .call("PUT", &bucket, Some("tampered"))
        .payload_hash(&sha256_hex(b"something else"))
        .body(b"the real body")
        .send();
    assert!(
        r.status >= 400,
        "a payload-hash mismatch was accepted: {}",
        r.status
    );
    assert!(
        up.get_object(&bucket, "tampered").is_none(),
        "a tampered PUT stored something"
    );

    // UNSIGNED-PAYLOAD is accepted.
    let r = up
        .call("PUT", &bucket, Some("unsigned"))
        .unsigned_payload()
        .body(b"fine")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(up.get_object(&bucket, "unsigned").unwrap().0, b"fine");
}

#[test]
fn presigned_get_works() {
    let up = Upstream::get();
    let bucket = fresh_bucket("presign");
    up.put_object(&bucket, HOSTILE_KEY, b"presigned", &[]);
    let pq = up.presign("GET", &bucket, HOSTILE_KEY, Duration::from_secs(300));
    let r = client::request(&up.endpoint(), "GET", &pq, &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"presigned");
}

#[test]
fn streamed_upload_and_sink_download() {
    let up = Upstream::get();
    let bucket = fresh_bucket("stream");
    let len: u64 = 9 * 1024 * 1024 + 17;
    let seed = 7;
    let path = format!("/{bucket}/big%20one.bin");
    let host = up.endpoint();
    let keys = common::sign::Keys {
        access_key: up.access_key(),
        secret_key: up.secret_key(),
        region: up.region(),
    };
    let signed = common::sign::sign_headers(
        &keys,
        "PUT",
        &host,
        &path,
        &[],
        common::sign::UNSIGNED_PAYLOAD,
        std::time::SystemTime::now(),
    );
    let headers: Vec<(&str, &str)> = signed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = client::request_streaming_body(&host, "PUT", &path, &headers, len, |off, buf| {
        pattern_fill(seed, off, buf)
    });
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body_bytes_sent, len);

    let get = up.presign("GET", &bucket, "big one.bin", Duration::from_secs(300));
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    let mut n = 0u64;
    let r = client::try_request_to_sink(&host, "GET", &get, &[], |piece| {
        n += piece.len() as u64;
        sha2::Digest::update(&mut hasher, piece);
    })
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(n, len);
    assert_eq!(
        hex::encode(sha2::Digest::finalize(hasher)),
        pattern_sha256(seed, len)
    );
}

#[test]
fn connection_and_request_counters_follow_the_upstream() {
    let up = Upstream::get();
    let bucket = fresh_bucket("counters");
    up.put_object(&bucket, "four-mib", &pattern(3, 4 << 20), &[]);

    let before = up.requests_seen();
    assert!(up.get_object(&bucket, "four-mib").is_some());
    common::wait_until(
        "requests_seen() to count a GET",
        Duration::from_secs(10),
        || up.requests_seen() > before,
    );

    // An idle connection is counted while open...
    let idle = client::connect(&up.endpoint()).unwrap();
    common::wait_until(
        "open_connections() >= 1 with a connection open",
        Duration::from_secs(10),
        || up.open_connections() >= 1,
    );
    drop(idle);
    // ...and a download abandoned mid-body is let go. Other tests in this binary make short
    // connections too, so wait for zero rather than for an exact count.
    let pq = up.presign("GET", &bucket, "four-mib", Duration::from_secs(300));
    let r = client::start_get_and_hang_up(&up.endpoint(), &pq, &[], 1000);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("4194304"));
    assert_eq!(r.body.len(), 1000);
    assert_eq!(r.body, pattern(3, 1000));
    common::wait_until(
        "open_connections() back to 0 after hanging up",
        Duration::from_secs(20),
        || up.open_connections() == 0,
    );
}

/// Serves each canned response to one connection, in order, after reading a request head.
fn canned_server(responses: Vec<Vec<u8>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for resp in responses {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(&resp).unwrap();
            // Dropping closes: the read-to-EOF case relies on it.
        }
    });
    addr
}

#[test]
fn raw_client_parses_every_framing() {
    let addr = canned_server(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: A\r\nx-test: b\r\n\r\nhelloEXTRA".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n".to_vec(),
        b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
    ]);
    let r = client::get(&addr, "/cl");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(r.header("X-TEST"), Some("A"));
    assert_eq!(r.header_all("x-test"), vec!["A", "b"]);
    assert_eq!(r.reason, "OK");

    let r = client::get(&addr, "/chunked");
    assert_eq!(r.text(), "hello, world");
    assert_eq!(r.trailers, vec![("x-trailer".to_string(), "t".to_string())]);

    let r = client::get(&addr, "/eof");
    assert_eq!(r.text(), "until the end");

    let r = client::request(&addr, "HEAD", "/head", &[], None);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("content-length"), Some("12"));

    let r = client::get(&addr, "/204");
    assert_eq!((r.status, r.body.len()), (204, 0));

    let r = client::request(&addr, "PUT", "/interim", &[], Some(b"xy"));
    assert_eq!((r.status, r.text().as_str()), (201, "ok"));
    assert!(r.saw_100_continue);

    let e = client::try_request(&addr, "GET", "/truncated", &[], None).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
}

#[test]
fn expect_continue_sends_the_body_after_silence() {
    // The server never sends 100 and only answers once the body is in: the helper must stop
    // waiting after `wait` and send the body anyway.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"BODY") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes")
            .unwrap();
    });
    let out = client::request_expect_continue(
        &addr,
        "PUT",
        "/x",
        &[],
        b"BODY",
        Duration::from_millis(300),
    );
    assert!(!out.saw_100);
    assert!(out.body_sent);
    assert_eq!(out.response.text(), "yes");
}

#[test]
fn recorder_records_what_arrives() {
    let rec = Recorder::start();
    let addr = rec.endpoint();
    let r = client::request(
        &addr,
        "GET",
        "/b/k%2Fx?a=1&b=%2B",
        &[("Authorization", "Bearer secret"), ("Cookie", "session=1")],
        None,
    );
    assert_eq!((r.status, r.text().as_str()), (200, "recorded\n"));

    // A chunked request body, written by hand.
    let mut raw = format!("PUT /chunked HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .into_bytes();
    raw.extend_from_slice(&client::chunked_body(&[b"abc", b"", b"defg"], &[]));
    let r = client::send_raw(&addr, &raw);
    assert_eq!(r.status, 200);

    // Expect: 100-continue gets its 100.
    let out = client::request_expect_continue(
        &addr,
        "PUT",
        "/expect",
        &[],
        b"payload",
        Duration::from_secs(5),
    );
    assert!(out.saw_100 && out.body_sent);
    assert_eq!(out.response.status, 200);

    let reqs = rec.wait_for_requests(3, Duration::from_secs(5));
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].target, "/b/k%2Fx?a=1&b=%2B");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer secret"));
    assert_eq!(reqs[0].header("COOKIE"), Some("session=1"));
    assert_eq!(reqs[0].header("host"), Some(addr.as_str()));
    assert_eq!(reqs[1].target, "/chunked");
    assert_eq!(reqs[1].body, b"abcdefg");
    assert_eq!(reqs[2].body, b"payload");
    assert!(!reqs[2].has_header("authorization"));
}

#[test]
fn recorder_keeps_connections_alive() {
    let rec = Recorder::start();
    let mut s = client::connect(&rec.endpoint()).unwrap();
    let mut conn_bytes = Vec::new();
    for i in 0..3 {
        write!(
            s,
            "GET /{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n{i}"
        )
        .unwrap();
        // Read exactly one response: head plus the 9-byte body.
        let mut buf = [0u8; 1024];
        loop {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "recorder closed a keep-alive connection");
            conn_bytes.extend_from_slice(&buf[..n]);
            if conn_bytes.ends_with(b"recorded\n") {
                break;
            }
        }
        conn_bytes.clear();
    }
    drop(s);
    // The same through Conn::send.
    let mut c = client::Conn::connect(&rec.endpoint()).unwrap();
    for i in 3..5 {
        let r = c.send("PUT", &format!("/{i}"), &[], Some(b"x")).unwrap();
        assert_eq!(r.text(), "recorded\n");
    }
    let reqs = rec.requests();
    assert_eq!(
        reqs.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(),
        ["/0", "/1", "/2", "/3", "/4"]
    );
    assert_eq!(reqs[2].body, b"2");
}

#[test]
fn helpers_are_consistent() {
    assert_eq!(common::encode_key("a b/ü+~%"), "a%20b/%C3%BC%2B~%25");
    assert_eq!(common::encode_query_component("a b/+="), "a%20b%2F%2B%3D");
    let whole = pattern(11, 1000);
    let mut piece = vec![0u8; 333];
    pattern_fill(11, 123, &mut piece);
    assert_eq!(piece, whole[123..456]);
    assert_eq!(pattern_sha256(11, 1000), sha256_hex(&whole));
    assert_ne!(pattern(11, 64), pattern(12, 64));
    let a = common::unique_bucket("Some_Test.Name");
    let b = common::unique_bucket("Some_Test.Name");
    assert_ne!(a, b);
    assert!(a.len() <= 63 && a.starts_with("bg-some-test-name-"), "{a}");
    assert!(a
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'));
    let long = common::unique_bucket(&"x".repeat(100));
    assert!(long.len() <= 63, "{long}");
}
