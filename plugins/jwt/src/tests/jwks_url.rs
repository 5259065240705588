//! `jwks_url`: the keys are fetched from a tiny HTTP server in the test, at start and again
//! early when a token names an unknown `kid`; a key the provider drops stops working even for
//! a token already cached; an unreachable URL does not stop the plugin.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bucketgate_plugin::Verdict;
use jsonwebtoken::Algorithm as A;

use super::support::*;

/// Serves `bodies` as 200 JSON responses, one per connection, then stops. Returns the URL and
/// a channel that receives each request's path.
fn serve(bodies: Vec<String>) -> (String, mpsc::Receiver<String>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        for body in bodies {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line
                .split(' ')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            stream.flush().unwrap();
            let _ = tx.send(path);
        }
    });
    (url, rx, handle)
}

fn jwks_text() -> String {
    String::from_utf8(read("jwks.json")).unwrap()
}

#[test]
fn keys_are_fetched_at_start() {
    let (url, requests, server) = serve(vec![jwks_text()]);
    let p = plugin(&format!("keys: [{{jwks_url: \"{url}\"}}]"));
    assert_eq!(
        requests.recv_timeout(Duration::from_secs(5)).unwrap(),
        "/.well-known/jwks.json"
    );
    server.join().unwrap();
    accepted(&p, &sign(A::RS256, &rsa_key(), Some("rsa1"), &claims()));
    accepted(&p, &sign(A::ES256, &ec256_key(), Some("ec1"), &claims()));
    accepted(&p, &sign(A::EdDSA, &ed_key(), Some("ed1"), &claims()));
    rejected(
        &p,
        &sign(A::ES384, &ec384_key(), None, &claims()),
        "no key for alg ES384",
    );
}

#[test]
fn unknown_kid_triggers_an_early_refresh() {
    // First the set without the RSA key, then (after a rotation) the full set.
    let full: serde_json::Value = serde_json::from_str(&jwks_text()).unwrap();
    let without_rsa = serde_json::json!({"keys": [full["keys"][1], full["keys"][2]]});
    let (url, requests, server) = serve(vec![without_rsa.to_string(), full.to_string()]);
    let p = plugin_fast(&format!(
        "keys: [{{jwks_url: \"{url}\", refresh_seconds: 3600}}]"
    ));
    requests.recv_timeout(Duration::from_secs(5)).unwrap();
    accepted(&p, &sign(A::ES256, &ec256_key(), Some("ec1"), &claims()));

    let token = sign(A::RS256, &rsa_key(), Some("rsa1"), &claims());
    rejected(&p, &token, "no key for kid \"rsa1\" / alg RS256");
    // The rejection asked for a refresh, in the background.
    requests.recv_timeout(Duration::from_secs(5)).unwrap();
    server.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match authenticate(&p, &bearer(&token)) {
            Verdict::Authenticated(id) => {
                assert_eq!(id.subject, "alice");
                break;
            }
            other => assert!(Instant::now() < deadline, "still {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_key_removed_at_the_provider_stops_working_despite_the_cache() {
    // First the full set, then (after a rotation) the set without the RSA key.
    let full: serde_json::Value = serde_json::from_str(&jwks_text()).unwrap();
    let without_rsa = serde_json::json!({"keys": [full["keys"][1], full["keys"][2]]});
    let (url, requests, server) = serve(vec![full.to_string(), without_rsa.to_string()]);
    let p = plugin_fast(&format!(
        "keys: [{{jwks_url: \"{url}\", refresh_seconds: 3600}}]\ncache_seconds: 3600"
    ));
    requests.recv_timeout(Duration::from_secs(5)).unwrap();
    let token = sign(A::RS256, &rsa_key(), Some("rsa1"), &claims());
    accepted(&p, &token);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 1, "the token is cached");
    // An unknown kid asks for an early refresh, which drops rsa1.
    rejected(
        &p,
        &sign(A::ES256, &ec256_key(), Some("rotated"), &claims()),
        "no key for kid",
    );
    requests.recv_timeout(Duration::from_secs(5)).unwrap();
    server.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match authenticate(&p, &bearer(&token)) {
            Verdict::Reject(r) => {
                assert!(r.log_reason.contains("no key for kid \"rsa1\""), "{r:?}");
                break;
            }
            other => assert!(Instant::now() < deadline, "still {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The keys still published still work.
    accepted(&p, &sign(A::ES256, &ec256_key(), Some("ec1"), &claims()));
}

#[test]
fn unreachable_url_starts_without_its_keys() {
    // A port that was free a moment ago: connection refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let p = plugin(&format!(
        "keys:
           - {{jwks_url: \"http://127.0.0.1:{port}/jwks.json\"}}
           - {{algorithm: ES256, pem_file: TD/ec256_public.pem}}"
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
    rejected(
        &p,
        &sign(A::RS256, &rsa_key(), Some("rsa1"), &claims()),
        "no key for kid",
    );
    accepted(&p, &sign(A::ES256, &ec256_key(), None, &claims()));
}

#[test]
fn dropping_the_plugin_stops_the_refresher() {
    let (url, requests, server) = serve(vec![jwks_text()]);
    let p = plugin_fast(&format!("keys: [{{jwks_url: \"{url}\"}}]"));
    requests.recv_timeout(Duration::from_secs(5)).unwrap();
    server.join().unwrap();
    let set = std::sync::Arc::downgrade(&p.remote[0]);
    drop(p);
    // The thread holds the set until it notices its plugin is gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while set.upgrade().is_some() {
        assert!(Instant::now() < deadline, "refresher thread still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}
