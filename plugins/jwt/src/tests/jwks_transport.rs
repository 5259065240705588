//! Where `jwks_url` keys may come from: `https://`, or `http://` to a loopback host only, and
//! never through a redirect. A redirect is tried against two real local servers: the first
//! answers 302 to the second, which serves a real key set; the plugin must not ask the second,
//! must not load its keys, and must say why in its log.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use jsonwebtoken::Algorithm as A;

use super::support::*;

/// The plugin's log lines (not its HTTP client's), for assertions on what it logged.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if !record.target().starts_with("bucketgate_plugin_jwt") {
            return;
        }
        let line = format!("{} {}", record.level(), record.args());
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
    fn flush(&self) {}
}

/// Installs the capturing logger (once per test binary) and returns it.
fn captured() -> &'static Capture {
    static LOGGER: OnceLock<&'static Capture> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let logger: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        // Another test binary's logger cannot be here: this crate's tests install none else.
        let _ = log::set_logger(logger);
        log::set_max_level(log::LevelFilter::Trace);
        logger
    })
}

/// Answers one connection with a 302 to `location`, then stops.
fn redirect_once(location: String) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
        }
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        stream.flush().unwrap();
    });
    (url, handle)
}

#[test]
fn a_redirect_is_not_followed() {
    let logs = captured();
    // The redirect's target: a listener that would take the connection if one came.
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_url = format!("http://{}/real-jwks.json", target.local_addr().unwrap());
    let (url, server) = redirect_once(target_url.clone());
    let p = plugin(&format!(
        "keys:
           - {{jwks_url: \"{url}\"}}
           - {{algorithm: ES256, pem_file: TD/ec256_public.pem}}"
    ));
    server.join().unwrap();
    target.set_nonblocking(true).unwrap();
    match target.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok(_) => panic!("the redirect was followed to {target_url}"),
        Err(e) => panic!("accept: {e}"),
    }
    // No key of the set was loaded; the static key still works.
    rejected(
        &p,
        &sign(A::RS256, &rsa_key(), Some("rsa1"), &claims()),
        "no key for kid",
    );
    accepted(&p, &sign(A::ES256, &ec256_key(), None, &claims()));
    let lines = logs.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let line = lines
        .iter()
        .find(|l| l.contains(&url))
        .unwrap_or_else(|| panic!("no log line names {url}: {lines:#?}"));
    assert!(line.starts_with("WARN"), "{line}");
    for part in ["302", "redirect", "not followed", &target_url] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
}

#[test]
fn the_error_of_a_redirected_fetch_names_its_target_without_credentials() {
    let (url, server) = redirect_once("https://user:secret@keys.example.net/jwks.json".into());
    let cache = std::sync::Arc::new(crate::cache::TokenCache::new(60));
    let set = crate::remote::RemoteSet::new(url, None, std::time::Duration::from_secs(60), cache);
    let err = set
        .fetch(std::time::Duration::from_secs(5))
        .expect_err("a 302 is a failed fetch");
    server.join().unwrap();
    assert!(err.contains("keys.example.net/jwks.json"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    assert!(set.keys().is_empty());
}

#[test]
fn plain_http_is_refused_unless_the_host_is_loopback() {
    for url in [
        "http://idp.example.com/jwks.json",
        "http://10.0.0.5:8080/jwks.json",
        "HTTP://idp.example.com/jwks.json",
        "http://127.0.0.1.example.com/jwks.json",
        "http://user:pw@idp.example.com/jwks.json",
    ] {
        let found = config(&format!("keys: [{{jwks_url: \"{url}\"}}]")).validate();
        assert_eq!(found.len(), 1, "{url}: {found:#?}");
        assert_eq!(found[0].path, "keys[0].jwks_url");
        let message = &found[0].message;
        assert!(
            message.contains("must be https") && message.contains("only for a loopback host"),
            "{url}: {message}"
        );
    }
    for url in [
        "https://idp.example.com/jwks.json",
        "http://127.0.0.1:9/jwks.json",
        "http://127.8.9.10:9/jwks.json",
        "http://localhost:9/jwks.json",
        "http://[::1]:9/jwks.json",
    ] {
        let found = config(&format!("keys: [{{jwks_url: \"{url}\"}}]")).validate();
        assert!(found.is_empty(), "{url}: {found:#?}");
    }
    for url in [
        "ftp://idp/jwks",
        "https://",
        "https:///jwks.json",
        "jwks.json",
    ] {
        let found = config(&format!("keys: [{{jwks_url: \"{url}\"}}]")).validate();
        assert_eq!(found.len(), 1, "{url}: {found:#?}");
        assert!(found[0].message.contains("https://"), "{url}: {found:#?}");
    }
}
