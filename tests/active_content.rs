//! Stored objects are never rendered as active content on the gateway's origin (issue 17,
//! item 1, first layer): an object answer carries `X-Content-Type-Options: nosniff` and a
//! sandboxing `Content-Security-Policy`, and `Content-Disposition: attachment` when its type is
//! one a browser runs scripts in (HTML, SVG, XML), whatever the client asked with
//! `response-content-type` or `response-content-disposition`. A route with
//! `active_content: true` serves them inline. Listings are not objects and keep their heads.
//!
//! The attack this stops: upload `evil.html`, send a victim a presigned URL with
//! `response-content-type=text/html` on the host that also signs in, and the page's script
//! runs with the victim's session cookie.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::SystemTime;

use common::client::{self, Response};
use common::fresh_bucket;
use common::gateway::{preamble_for_upstream, Gateway};
use common::s3::S3Client;
use common::upstream::Upstream;

const KEY_ID: &str = "AKIAACTIVE0001";
const SECRET: &str = "activesecret123";
const PAGE: &[u8] = b"<html><script>fetch('/data/?auth=json')</script></html>";
const SVG: &[u8] =
    b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.domain)</script></svg>";

/// Routes on one bucket, objects under `a/`: `/files` and `/inline` (`files`, public; the
/// second with `active_content: true`), the `s3` route on any host (`data`), and an `s3`
/// route with `active_content: true` on host `active.localhost`.
fn config(bucket: &str) -> String {
    format!(
        "{preamble}access_keys:
  static:
    - access_key_id: {KEY_ID}
      secret_access_key: {SECRET}
      subject: reader
      grants:
        - {{bucket: \"{bucket}\", prefix: \"a/\", operations: [read, list]}}
routes:
  - name: files
    path_prefix: /files
    upstream: s3
    bucket: \"{bucket}\"
    key_prefix: 'a/'
    public: true
  - name: inline
    path_prefix: /inline
    upstream: s3
    bucket: \"{bucket}\"
    key_prefix: 'a/'
    public: true
    active_content: true
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: s3
    buckets: [{{name: data, bucket: \"{bucket}\"}}]
  - name: s3-active
    host: active.localhost
    frontend: s3
    path_prefix: /
    upstream: s3
    buckets: [{{name: data, bucket: \"{bucket}\"}}]
    active_content: true
",
        preamble = preamble_for_upstream()
    )
}

/// The gateway, after storing the test objects upstream.
fn start() -> Gateway {
    let bucket = fresh_bucket("active");
    let up = Upstream::get();
    for (key, body, ctype) in [
        ("a/evil.html", PAGE, "text/html"),
        ("a/x.svg", SVG, "image/svg+xml"),
        ("a/note.txt", b"plain words" as &[u8], "text/plain"),
        ("a/pic.png", b"\x89PNG\r\n\x1a\nnot really", "image/png"),
        ("a/clip.mp4", b"....ftypisom not really", "video/mp4"),
    ] {
        up.put_object(&bucket, key, body, &[("content-type", ctype)]);
    }
    Gateway::start(&config(&bucket))
}

/// nosniff always; the sandbox and (`attachment`) a download unless `active`.
#[track_caller]
fn assert_object_head(r: &Response, active: bool, attachment: bool) {
    assert!(
        r.status == 200 || r.status == 206,
        "status {}: {}",
        r.status,
        r.text()
    );
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{:?}",
        r.headers
    );
    let csp = r.header("content-security-policy");
    let disposition = r.header("content-disposition");
    if active {
        assert_eq!(csp, None, "{:?}", r.headers);
        assert_eq!(disposition, None, "{:?}", r.headers);
        return;
    }
    let csp = csp.unwrap_or_else(|| panic!("no Content-Security-Policy: {:?}", r.headers));
    assert!(
        csp.starts_with("sandbox;") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("allow-"),
        "the sandbox lets something run: {csp}"
    );
    if attachment {
        let d = disposition.unwrap_or_else(|| panic!("not a download: {:?}", r.headers));
        assert!(d.starts_with("attachment"), "{d}");
    } else {
        assert_eq!(disposition, None, "{:?}", r.headers);
    }
}

#[test]
fn files_routes_serve_active_types_as_sandboxed_downloads() {
    let gw = start();
    let get = |path: &str| client::get(gw.addr(), path);

    let r = get("/files/evil.html");
    assert_object_head(&r, false, true);
    assert_eq!(r.body, PAGE, "the object itself is unchanged");
    assert_eq!(r.header("content-type"), Some("text/html"));
    let r = client::request(gw.addr(), "HEAD", "/files/evil.html", &[], None);
    assert_object_head(&r, false, true);
    assert_object_head(&get("/files/x.svg"), false, true);

    // The client's overrides cannot turn a harmless object into a page, or a download inline.
    let r = get("/files/note.txt?response-content-type=text%2Fhtml");
    assert_eq!(
        r.header("content-type"),
        Some("text/html"),
        "override ignored"
    );
    assert_object_head(&r, false, true);
    let r = get("/files/evil.html?response-content-disposition=inline");
    assert_object_head(&r, false, true);
    let r = get("/files/note.txt?response-content-type=image%2Fsvg%2Bxml&response-content-disposition=inline%3B%20filename%3Dn.svg");
    assert_object_head(&r, false, true);
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=n.svg")
    );

    // Images, video and text stay viewable: sandboxed, not forced to download.
    assert_object_head(&get("/files/pic.png"), false, false);
    assert_object_head(&get("/files/note.txt"), false, false);
    let r = client::request(
        gw.addr(),
        "GET",
        "/files/clip.mp4",
        &[("range", "bytes=0-3")],
        None,
    );
    assert_eq!(r.status, 206);
    assert_object_head(&r, false, false);
}

#[test]
fn s3_routes_serve_active_types_as_sandboxed_downloads() {
    let gw = start();
    let c = S3Client::new(gw.addr(), KEY_ID, SECRET);
    let presigned = |path: &str| {
        let url = c.presign("GET", path, 300, SystemTime::now());
        c.send_presigned("GET", &url, None)
    };

    // The attack's own URL: a presigned GET that asks for text/html.
    let r = presigned("/data/a/evil.html?response-content-type=text%2Fhtml");
    assert_object_head(&r, false, true);
    assert_eq!(r.body, PAGE);
    let r = presigned("/data/a/note.txt?response-content-type=text%2Fhtml");
    assert_eq!(
        r.header("content-type"),
        Some("text/html"),
        "override ignored"
    );
    assert_object_head(&r, false, true);
    assert_object_head(&presigned("/data/a/x.svg"), false, true);
    assert_object_head(&c.head("/data/a/evil.html"), false, true);
    assert_object_head(&c.get("/data/a/pic.png"), false, false);
    assert_object_head(&presigned("/data/a/clip.mp4"), false, false);

    // A listing is the API's answer, not an object: its head is left alone.
    let r = c.get("/data?list-type=2&prefix=a%2F");
    r.assert_status(200);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_eq!(r.header("content-disposition"), None);
    assert_eq!(r.header("content-security-policy"), None);
    // So is an error.
    let r = c.get("/data/a/missing.html");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-disposition"), None);
}

#[test]
fn routes_that_opt_in_serve_pages_inline() {
    let gw = start();
    let r = client::get(gw.addr(), "/inline/evil.html");
    assert_object_head(&r, true, false);
    assert_eq!(r.header("content-type"), Some("text/html"));
    let r = client::get(
        gw.addr(),
        "/inline/note.txt?response-content-type=text%2Fhtml",
    );
    assert_object_head(&r, true, false);

    let port = gw.addr().rsplit(':').next().unwrap();
    let c = S3Client::new(gw.addr(), KEY_ID, SECRET).with_host(&format!("active.localhost:{port}"));
    let url = c.presign(
        "GET",
        "/data/a/evil.html?response-content-type=text%2Fhtml",
        300,
        SystemTime::now(),
    );
    let r = c.send_presigned("GET", &url, None);
    assert_object_head(&r, true, false);
    assert_eq!(r.body, PAGE);
}

/// `bucketgate check` on a config whose `{active}` route is `active_content: true` beside a
/// route on `home_host` that signs in with oidc, its callback on `login.example.com`.
fn check(home_host: &str, active: &str) -> (Option<i32>, String) {
    let text = format!(
        r#"listeners:
  - address: 127.0.0.1:8080
upstreams:
  storage:
    endpoints: [127.0.0.1:9000]
    region: us-east-1
    credentials: {{access_key_id: AKIAEXAMPLE, secret_access_key: s3cr3ts3cr3t}}
routes:
  - name: home
    host: {home_host}
    path_prefix: /home
    bucket: data
    upstream: storage
    auth:
      - oidc:
          issuer: https://login.example.com
          client_id: bucketgate
          client_secret: s3cr3t
          redirect_url: https://login.example.com/_bucketgate/oidc/callback
  - name: pages
    path_prefix: /pages
    bucket: data
    upstream: storage
    public: true
    active_content: true
{active}
"#
    );
    let mut f = tempfile::NamedTempFile::with_suffix(".yaml").expect("temp file");
    f.write_all(text.as_bytes()).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_bucketgate"))
        .args(["check", "-c", &f.path().display().to_string()])
        .output()
        .expect("run bucketgate check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_refuses_active_content_where_browsers_sign_in() {
    // On its own host: fine.
    let (code, stderr) = check("login.example.com", "    host: pages.example.com");
    assert_eq!(code, Some(0), "{stderr}");
    // On any host (so also the sign-in host), or on the sign-in host itself: refused.
    for (home, active) in [
        ("login.example.com", ""),
        ("login.example.com", "    host: login.example.com"),
        ("login.example.com", "    host: '*.example.com'"),
        // The sign-in route serves another host, but its session cookie lives on the
        // callback's host, which the active route serves.
        ("files.example.com", "    host: login.example.com"),
    ] {
        let (code, stderr) = check(home, active);
        assert_eq!(code, Some(1), "{home} {active:?}: {stderr}");
        assert!(
            stderr.contains("active_content") && stderr.contains("signs browsers in"),
            "{stderr}"
        );
    }
}
