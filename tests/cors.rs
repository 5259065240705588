//! CORS per route with the real binary: a web video player on another origin can preflight,
//! fetch a Range and read `Content-Range`/`ETag`; other origins, methods and headers are
//! refused; a route without `cors:` answers no CORS at all.

mod common;

use common::client::{request, Response};
use common::gateway::{config_with_routes, Gateway};
use common::upstream::Upstream;
use common::{fresh_bucket, pattern};

const PLAYER: &str = "https://player.example.com";

fn gateway(bucket: &str) -> Gateway {
    Gateway::start(&config_with_routes(&format!(
        "routes:
  - name: videos
    path_prefix: /videos
    upstream: s3
    bucket: {bucket}
    public: true
    cors:
      allow_origins: [\"{PLAYER}\"]
  - name: plain
    path_prefix: /plain
    upstream: s3
    bucket: {bucket}
    public: true
"
    )))
}

fn preflight(gw: &Gateway, path: &str, origin: &str, method: &str, headers: &str) -> Response {
    request(
        gw.addr(),
        "OPTIONS",
        path,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", headers),
        ],
        None,
    )
}

#[test]
fn a_player_on_another_origin_preflights_and_seeks() {
    let up = Upstream::get();
    let bucket = fresh_bucket("cors");
    let video = pattern(7, 100_000);
    up.put_object(
        &bucket,
        "film.mp4",
        &video,
        &[("content-type", "video/mp4")],
    );
    let gw = gateway(&bucket);

    // The preflight is answered by bucketgate, before anything goes upstream.
    let p = preflight(&gw, "/videos/film.mp4", PLAYER, "GET", "range");
    assert_eq!(p.status, 204, "{}", p.text());
    assert_eq!(p.header("access-control-allow-origin"), Some(PLAYER));
    assert_eq!(p.header("access-control-allow-methods"), Some("GET, HEAD"));
    assert_eq!(p.header("access-control-allow-headers"), Some("range"));
    assert_eq!(p.header("access-control-max-age"), Some("600"));
    assert_eq!(p.header("vary"), Some("Origin"));

    // The real request: a Range, whose headers the page may read.
    let r = request(
        gw.addr(),
        "GET",
        "/videos/film.mp4",
        &[("Origin", PLAYER), ("Range", "bytes=1000-1999")],
        None,
    );
    assert_eq!(r.status, 206, "{}", r.text());
    assert!(r.body == video[1000..2000]);
    assert_eq!(r.header("access-control-allow-origin"), Some(PLAYER));
    let exposed = r.header("access-control-expose-headers").unwrap_or("");
    for h in ["ETag", "Content-Range", "Accept-Ranges", "Content-Length"] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
    assert!(r.header_all("vary").iter().any(|v| v.contains("Origin")));

    // Refusals are readable too: bucketgate's own answers (405 for a method the route does not
    // take, 400 for a bad key) and a mapped upstream 404 carry the same CORS headers, so the
    // page sees the status instead of a network error.
    for (method, path, status) in [
        ("PUT", "/videos/film.mp4", 405),
        ("GET", "/videos/a/%2e%2e/b", 400),
        ("GET", "/videos/missing.mp4", 404),
    ] {
        let r = request(gw.addr(), method, path, &[("Origin", PLAYER)], None);
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some(PLAYER),
            "{method} {path}"
        );
        assert!(r.header_all("vary").iter().any(|v| v.contains("Origin")));
        let r = request(
            gw.addr(),
            method,
            path,
            &[("Origin", "https://evil.example")],
            None,
        );
        assert_eq!(r.status, status);
        assert_eq!(r.header("access-control-allow-origin"), None);
    }

    // Another origin: its preflight is refused and its responses carry no CORS headers.
    let evil = "https://evil.example";
    let p = preflight(&gw, "/videos/film.mp4", evil, "GET", "range");
    assert_eq!(p.status, 403, "{}", p.text());
    assert_eq!(p.header("access-control-allow-origin"), None);
    let r = request(
        gw.addr(),
        "GET",
        "/videos/film.mp4",
        &[("Origin", evil)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    // A method or header outside the policy is refused too.
    let p = preflight(&gw, "/videos/film.mp4", PLAYER, "DELETE", "");
    assert_eq!(p.status, 403, "{}", p.text());
    let p = preflight(&gw, "/videos/film.mp4", PLAYER, "GET", "x-secret-header");
    assert_eq!(p.status, 403, "{}", p.text());

    // Without an Origin, nothing changes.
    let r = request(gw.addr(), "GET", "/videos/film.mp4", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    // A route without `cors:` answers no CORS: the preflight is an OPTIONS it does not serve.
    let p = preflight(&gw, "/plain/film.mp4", PLAYER, "GET", "range");
    assert_ne!(p.status, 204);
    assert_eq!(p.header("access-control-allow-origin"), None);
    let r = request(
        gw.addr(),
        "GET",
        "/plain/film.mp4",
        &[("Origin", PLAYER)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}
