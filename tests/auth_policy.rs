//! Per-route policy end to end, through the real bucketgate binary: an authenticated caller may
//! do exactly what its grants allow, checked on the full decoded upstream key (route
//! `key_prefix` + key). With an HS256 token granting `read` on `a/`: reads of `a/` work; PUT
//! and DELETE there, and reads of `b/`, get 403 (and change nothing upstream); encoded-path
//! tricks to escape `a/` are refused and never reach the upstream (checked with a recording
//! upstream); a 403 body says nothing about why. Grants also come from claims (`users/{sub}/`
//! templates, a `grants_claim` array); a route's `health_key` is served without credentials;
//! public and authenticated routes live side by side in one config.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use common::client::{self, request, Response};
use common::fresh_bucket;
use common::gateway::{config_with_routes, Gateway};
use common::recorder::Recorder;
use common::upstream::Upstream;

const SECRET: &str = "auth-policy-test-secret-0123456789-abcdef";
const A_BODY: &[u8] = b"object a/x\n";
const B_BODY: &[u8] = b"object b/x: must never be served\n";

fn token(claims: Value) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = claims;
    let map = claims.as_object_mut().expect("claims are an object");
    map.entry("exp").or_insert(json!(t + 600));
    map.entry("iat").or_insert(json!(t));
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signing a test token")
}

fn send(gw: &Gateway, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> Response {
    let auth = format!("Bearer {token}");
    request(gw.addr(), method, path, &[("Authorization", &auth)], body)
}

/// A route on `bucket` with an HS256 `jwt` section; `jwt_extra` goes inside the section
/// (grants, grants_claim), `route_extra` into the route.
fn route(name: &str, prefix: &str, bucket: &str, jwt_extra: &str, route_extra: &str) -> String {
    format!(
        "  - name: {name}
    path_prefix: {prefix}
    upstream: s3
    bucket: {bucket}
    methods: [GET, HEAD, PUT, DELETE]
{route_extra}    auth:
      - jwt:
          keys:
            - {{algorithm: HS256, secret: \"{SECRET}\"}}
{jwt_extra}"
    )
}

/// `grants:` with one read grant on `prefix` of `bucket`.
fn read_grant(bucket: &str, prefix: &str) -> String {
    format!(
        "          grants:\n            - {{bucket: \"{bucket}\", prefix: \"{prefix}\", operations: [read]}}\n"
    )
}

/// Panics unless `r` is the plain 403 of a policy denial, with nothing about the reason.
#[track_caller]
fn assert_forbidden(r: &Response, what: &str, bucket: &str) {
    assert_eq!(
        r.status,
        403,
        "{what}: want 403; headers {:?}, body {}",
        r.headers,
        r.text()
    );
    assert_eq!(r.json()["error"], "forbidden", "{what}: {}", r.text());
    let text = r.text();
    for word in [
        "grant", "prefix", "a/", "b/", "users/", "shared/", "alice", bucket,
    ] {
        assert!(
            !text.contains(word),
            "{what}: the 403 body tells {word:?}: {text}"
        );
    }
    assert!(
        r.header("www-authenticate").is_none(),
        "{what}: a 403 is not a challenge"
    );
}

#[test]
fn read_grant_on_a_prefix_allows_reads_there_only() {
    let up = Upstream::get();
    let bucket = fresh_bucket("pol");
    up.put_object(&bucket, "a/x", A_BODY, &[]);
    up.put_object(&bucket, "b/x", B_BODY, &[]);
    let grants = read_grant(&bucket, "a/");
    let gw = Gateway::start(&config_with_routes(&format!(
        "routes:\n{}{}{}",
        route("files", "/files", &bucket, &grants, ""),
        // Grants see the upstream key: `/in-a/x` is `a/x`, `/in-b/x` is `b/x`.
        route("in-a", "/in-a", &bucket, &grants, "    key_prefix: a/\n"),
        route("in-b", "/in-b", &bucket, &grants, "    key_prefix: b/\n"),
    )));
    let t = token(json!({"sub": "alice"}));

    let r = send(&gw, "GET", "/files/a/x", &t, None);
    r.assert_status(200);
    assert_eq!(r.body, A_BODY);
    send(&gw, "HEAD", "/files/a/x", &t, None).assert_status(200);
    let r = send(&gw, "GET", "/in-a/x", &t, None);
    r.assert_status(200);
    assert_eq!(r.body, A_BODY);

    assert_forbidden(
        &send(&gw, "GET", "/files/b/x", &t, None),
        "GET b/x",
        &bucket,
    );
    let head = send(&gw, "HEAD", "/files/b/x", &t, None);
    assert_eq!(head.status, 403, "HEAD b/x: {:?}", head.headers);
    assert_forbidden(
        &send(&gw, "GET", "/in-b/x", &t, None),
        "GET /in-b/x (b/x upstream)",
        &bucket,
    );
    // `a/` is a prefix of keys, not of names: `a` and `ab/x` are outside it.
    assert_forbidden(
        &send(&gw, "GET", "/files/ab/x", &t, None),
        "GET ab/x",
        &bucket,
    );

    let put = send(&gw, "PUT", "/files/a/x", &t, Some(b"overwritten"));
    assert_forbidden(&put, "PUT a/x", &bucket);
    let put_new = send(&gw, "PUT", "/files/a/new", &t, Some(b"new"));
    assert_forbidden(&put_new, "PUT a/new", &bucket);
    let del = send(&gw, "DELETE", "/files/a/x", &t, None);
    assert_forbidden(&del, "DELETE a/x", &bucket);

    let (stored, _) = up
        .get_object(&bucket, "a/x")
        .expect("a/x survived the DELETE");
    assert_eq!(stored, A_BODY, "a/x was overwritten by a forbidden PUT");
    assert!(
        up.get_object(&bucket, "a/new").is_none(),
        "a forbidden PUT stored a/new"
    );

    // The denials are logged, for the operator, with the reason.
    let log = gw.wait_for_log("forbidden:", Duration::from_secs(5));
    assert!(log.contains("no grant"), "log lacks the reason:\n{log}");
    assert!(!log.contains(&t), "the token is in the log");
}

/// Paths that try to leave `a/` through encodings. The key rules refuse them (400) before
/// policy; a 403 would be fine too. Either way b/x must never be read.
const ESCAPES: &[&str] = &[
    "/files/a/../b/x",
    "/files/a/%2e%2e/b/x",
    "/files/a/%2E%2E/b/x",
    "/files/a/.%2e/b/x",
    "/files/a%2f..%2fb/x",
    "/files/a%2F..%2Fb/x",
    "/files/a/..%2fb/x",
    "/files/a/..%252fb/x",
    "/files/a/%252e%252e/b/x",
    "/files/a/%252e%252e%252fb/x",
    "/files/a/..%5cb/x",
    "/files/a/..\\b/x",
    "/files/a/%2e%2e%5cb/x",
    "/files/a/./../b/x",
    "/files/a/%00/../b/x",
];

#[test]
fn encoded_escapes_from_the_granted_prefix_are_refused_against_s3() {
    let up = Upstream::get();
    let bucket = fresh_bucket("polesc");
    up.put_object(&bucket, "a/x", A_BODY, &[]);
    up.put_object(&bucket, "b/x", B_BODY, &[]);
    let grants = read_grant(&bucket, "a/");
    let gw = Gateway::start(&config_with_routes(&format!(
        "routes:\n{}{}",
        route("files", "/files", &bucket, &grants, ""),
        route(
            "slash",
            "/slash",
            &bucket,
            &grants,
            "    allow_encoded_slash: true\n"
        ),
    )));
    let t = token(json!({"sub": "alice"}));
    let mut failures = Vec::new();
    for path in ESCAPES
        .iter()
        .map(|p| p.to_string())
        .chain(ESCAPES.iter().map(|p| p.replacen("/files/", "/slash/", 1)))
    {
        let r = send(&gw, "GET", &path, &t, None);
        let served_b = r.body.windows(B_BODY.len()).any(|w| w == B_BODY);
        if !(r.status == 400 || r.status == 403) || served_b {
            failures.push(format!("{path}: {} {}", r.status, r.text()));
        }
    }
    assert!(
        failures.is_empty(),
        "escapes not refused:\n{}",
        failures.join("\n")
    );
    // The same routes serve a/x to this token, so the refusals were about the paths. Policy
    // sees the decoded key: an encoded `a` or `/` is still a/x, an encoded `b` still b/x.
    for path in ["/slash/a/x", "/slash/a%2Fx", "/files/%61/x", "/files/a%2Fx"] {
        let r = send(&gw, "GET", path, &t, None);
        if path == "/files/a%2Fx" {
            // `%2F` inside a segment without allow_encoded_slash: refused as a key.
            assert_eq!(r.status, 400, "{path}: {}", r.text());
            continue;
        }
        r.assert_status(200);
        assert_eq!(r.body, A_BODY, "{path}");
    }
    for path in ["/slash/b%2Fx", "/files/%62/x"] {
        assert_forbidden(&send(&gw, "GET", path, &t, None), path, &bucket);
    }
}

#[test]
fn encoded_escapes_never_reach_the_upstream() {
    let rec = Recorder::start();
    let bucket = "recorded";
    let grants = read_grant(bucket, "a/");
    // A second upstream, the recorder, continues the preamble's `upstreams:` map.
    let yaml = config_with_routes(&format!(
        "  rec:
    endpoints: [{rec}]
    credentials:
      access_key_id: recorder
      secret_access_key: recorder-secret
routes:
{}{}",
        route("files", "/files", bucket, &grants, "").replace("upstream: s3", "upstream: rec"),
        route(
            "slash",
            "/slash",
            bucket,
            &grants,
            "    allow_encoded_slash: true\n"
        )
        .replace("upstream: s3", "upstream: rec"),
        rec = rec.endpoint(),
    ));
    let gw = Gateway::start(&yaml);
    let t = token(json!({"sub": "alice"}));
    for path in ESCAPES
        .iter()
        .map(|p| p.to_string())
        .chain(ESCAPES.iter().map(|p| p.replacen("/files/", "/slash/", 1)))
    {
        let r = send(&gw, "GET", &path, &t, None);
        assert!(
            r.status == 400 || r.status == 403,
            "{path}: {} {}",
            r.status,
            r.text()
        );
    }
    let b = send(&gw, "GET", "/files/b/x", &t, None);
    assert_eq!(b.status, 403, "{}", b.text());
    // One allowed request last: once it arrived, anything sent before it would have too.
    send(&gw, "GET", "/files/a/x", &t, None).assert_status(200);
    let seen = rec.wait_for_requests(1, Duration::from_secs(5));
    let targets: Vec<&str> = seen.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [format!("/{bucket}/a/x")],
        "only the allowed request may reach the upstream"
    );
}

#[test]
fn grants_from_claims() {
    let up = Upstream::get();
    let bucket = fresh_bucket("polclaims");
    for key in ["users/alice/f", "users/bob/f", "shared/x", "a/x"] {
        up.put_object(&bucket, key, format!("content of {key}").as_bytes(), &[]);
    }
    let template = format!(
        "          grants:\n            - {{bucket: \"{bucket}\", prefix: \"users/{{sub}}/\", operations: [read, write]}}\n"
    );
    let gw = Gateway::start(&config_with_routes(&format!(
        "routes:\n{}{}",
        route("home", "/home", &bucket, &template, ""),
        route(
            "claims",
            "/claims",
            &bucket,
            "          grants_claim: storage\n",
            ""
        ),
    )));
    let alice = token(json!({"sub": "alice"}));
    let bob = token(json!({"sub": "bob"}));

    let r = send(&gw, "GET", "/home/users/alice/f", &alice, None);
    r.assert_status(200);
    assert_eq!(r.body, b"content of users/alice/f");
    assert_forbidden(
        &send(&gw, "GET", "/home/users/bob/f", &alice, None),
        "alice reads users/bob/",
        &bucket,
    );
    send(&gw, "GET", "/home/users/bob/f", &bob, None).assert_status(200);
    let put = send(&gw, "PUT", "/home/users/alice/new", &alice, Some(b"mine"));
    put.assert_status(200);
    assert_eq!(
        up.get_object(&bucket, "users/alice/new").map(|(b, _)| b),
        Some(b"mine".to_vec())
    );
    assert_forbidden(
        &send(&gw, "PUT", "/home/users/bob/new", &alice, Some(b"x")),
        "alice writes users/bob/",
        &bucket,
    );
    assert!(up.get_object(&bucket, "users/bob/new").is_none());
    // A subject that would widen the template fills nothing: no grant at all.
    for sub in ["alice/../bob", "..", "*"] {
        let sneaky = token(json!({"sub": sub}));
        let r = send(&gw, "GET", "/home/users/bob/f", &sneaky, None);
        assert_eq!(r.status, 403, "sub {sub:?}: {}", r.text());
    }

    let storage = |b: &str| {
        token(json!({
            "sub": "carol",
            "storage": [{"bucket": b, "prefix": "shared/", "operations": ["read"]}],
        }))
    };
    let carol = storage(&bucket);
    let r = send(&gw, "GET", "/claims/shared/x", &carol, None);
    r.assert_status(200);
    assert_eq!(r.body, b"content of shared/x");
    assert_forbidden(
        &send(&gw, "GET", "/claims/a/x", &carol, None),
        "claim grant outside shared/",
        &bucket,
    );
    assert_forbidden(
        &send(&gw, "PUT", "/claims/shared/y", &carol, Some(b"y")),
        "claim grant is read-only",
        &bucket,
    );
    assert_forbidden(
        &send(
            &gw,
            "GET",
            "/claims/shared/x",
            &storage("another-bucket"),
            None,
        ),
        "claim grant on another bucket",
        &bucket,
    );
    assert_forbidden(
        &send(&gw, "GET", "/claims/shared/x", &alice, None),
        "no storage claim",
        &bucket,
    );
}

#[test]
fn health_key_is_served_without_credentials() {
    let up = Upstream::get();
    let bucket = fresh_bucket("polhealth");
    up.put_object(&bucket, "health.txt", b"ok\n", &[]);
    up.put_object(&bucket, "a/x", A_BODY, &[]);
    let gw = Gateway::start(&config_with_routes(&format!(
        "routes:\n{}",
        route(
            "files",
            "/files",
            &bucket,
            &read_grant(&bucket, "a/"),
            "    health_key: health.txt\n"
        ),
    )));
    let r = client::get(gw.addr(), "/files/health.txt");
    r.assert_status(200);
    assert_eq!(r.body, b"ok\n");
    request(gw.addr(), "HEAD", "/files/health.txt", &[], None).assert_status(200);
    // Only the health key, and only for reads.
    let other = client::get(gw.addr(), "/files/a/x");
    assert_eq!(other.status, 401, "{}", other.text());
    let put = request(gw.addr(), "PUT", "/files/health.txt", &[], Some(b"x"));
    assert_eq!(put.status, 401, "{}", put.text());
    let del = request(gw.addr(), "DELETE", "/files/health.txt", &[], None);
    assert_eq!(del.status, 401, "{}", del.text());
    assert_eq!(
        up.get_object(&bucket, "health.txt").map(|(b, _)| b),
        Some(b"ok\n".to_vec())
    );
}

#[test]
fn public_and_authenticated_routes_side_by_side() {
    let up = Upstream::get();
    let bucket = fresh_bucket("polmix");
    up.put_object(&bucket, "pub/x", b"public\n", &[]);
    up.put_object(&bucket, "a/x", A_BODY, &[]);
    let gw = Gateway::start(&config_with_routes(&format!(
        "routes:
  - name: open
    path_prefix: /pub
    upstream: s3
    bucket: {bucket}
    key_prefix: pub/
    public: true
{}",
        route("private", "/priv", &bucket, &read_grant(&bucket, "a/"), ""),
    )));
    let t = token(json!({"sub": "alice"}));

    let r = client::get(gw.addr(), "/pub/x");
    r.assert_status(200);
    assert_eq!(r.body, b"public\n");
    // A token on the public route changes nothing.
    let r = send(&gw, "GET", "/pub/x", &t, None);
    r.assert_status(200);
    assert_eq!(r.body, b"public\n");

    let anon = client::get(gw.addr(), "/priv/x");
    assert_eq!(anon.status, 401, "{}", anon.text());
    assert!(!anon.text().contains("public"), "{}", anon.text());
    let r = send(&gw, "GET", "/priv/a/x", &t, None);
    r.assert_status(200);
    assert_eq!(r.body, A_BODY);
    // The public route's default methods stay [GET, HEAD].
    let put = request(gw.addr(), "PUT", "/pub/x", &[], Some(b"x"));
    assert_eq!(put.status, 405, "{}", put.text());
}
