//! OpenID Connect single sign-on end to end (issue 5): the real bucketgate binary with an `oidc`
//! auth entry, in front of a real S3 server (s3s-fs in-process, or Ceph RGW with
//! `BUCKETGATE_TEST_UPSTREAM=rgw`), signing in at a real OpenID provider (npm `oidc-provider@8`,
//! `tests/oidc/provider.mjs`) with a scripted browser (a cookie jar and form posts,
//! tests/common/oidc.rs), sessions in memory or in a real `redis-server`.
//!
//! What is shown, each by its own test:
//! - sign-in, then the file: the redirect to the provider (code flow, PKCE S256, state, nonce),
//!   the callback's session cookie (`HttpOnly`, `SameSite=Lax`, `Path=/`) and the return to the
//!   original URL; grants from claims (`users/{sub}/`); `allow` (email domain) refusing bob;
//!   non-browser requests getting 401 instead of a redirect;
//! - Range requests (a video player seeking) on the session cookie;
//! - one session served by two instances through Redis, encrypted at rest, and not by an
//!   instance with its own memory store; Redis down gives 503, not a crash;
//! - logout, locally and at the provider (end_session), leaving the old cookie worthless; a GET
//!   (also a cross-site one) only shows the confirmation, and a POST signs out only same-origin
//!   with the session's CSRF token (issue 17, item 9);
//! - a replayed, forged, foreign (login CSRF) or expired `state`, and a provider error, giving
//!   the friendly "sign-in expired" page with a retry link, never a bare 400;
//! - tampered cookies sending the browser back to the login; a new session id at every login
//!   (no fixation);
//! - no open redirect through `rd`, the return URL or the logout;
//! - a revoked user losing access within the re-check interval (by refresh and by userinfo),
//!   while another user keeps it;
//! - `/<bucket>/?auth` (path and virtual-host style) offering a key: no GET (plain or
//!   cross-site, `?auth` or `?auth=json`) mints, nor a POST that is cross-site, a script's, or
//!   without the session's CSRF token; the page's button and a script's POST mint a sealed key
//!   that a SigV4 request and awscli then use, and that cannot reach beyond the claims' grants
//!   (issue 17, item 1);
//! - issue 17's other sign-in items: `allow` checked per route on every request, sessions bound
//!   to their routes, also across cookie names in Redis (item 2); thousands of anonymous
//!   sign-ins storing nothing, sessions and new sign-ins unaffected (item 5); `email_domains`
//!   needing `email_verified: true` unless the provider opts out (item 6); `bucketgate check`
//!   warning when objects and sign-in share a host (item 1);
//! - no cookie, code, state or token ever reaching the upstream (a recording upstream).
//!
//! Needs `node` with `tests/oidc/node_modules` (`npm ci` there; run here when missing),
//! `/usr/bin/redis-server` and `aws` (awscli) for some tests: locally a missing one is a loud
//! SKIPPED, under `CI=true` a failure.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

use bucketgate::s3::sealed::generate_sealing_key;

use common::client::{self, Response};
use common::gateway::{preamble_for_upstream, Gateway, PREAMBLE};
use common::oidc::{
    query_param, start_with_provider, Browser, ClientSpec, Page, Provider, Url, CLIENT_ID,
};
use common::recorder::Recorder;
use common::redis::Redis;
use common::upstream::Upstream;
use common::{encode_query_component, encode_query_pairs, fresh_bucket, pattern, unique_suffix};

const CALLBACK: &str = "/_bucketgate/oidc/callback";
const LOGIN: &str = "/_bucketgate/oidc/login";
const LOGOUT: &str = "/_bucketgate/oidc/logout";
const COOKIE: &str = "bucketgate_session";
/// Where logout ends (a public route of the test configs).
const BYE: &str = "/public/bye.txt";
const BYE_BODY: &[u8] = b"signed out\n";
/// alice's file (grant `users/{sub}/`).
const REPORT: &str = "users/alice/report.pdf";
/// bob's file: no grant of alice's reaches it.
const BOBS: &str = "users/bob/secret.txt";

// ---------------------------------------------------------------------------------------------
// The harness itself: provider and browser, no bucketgate.

/// The provider and the browser work on their own, so a failure of the SSO tests below is
/// bucketgate's: discovery, the login and consent forms over plain HTTP, the code coming back
/// to the registered redirect URI, the token exchange with PKCE, the ID token's claims,
/// userinfo, refresh, an unknown user refused at the form, PKCE enforced, the test-only revoke
/// endpoint, and RP-initiated logout. A recorder stands in for the relying party's callback.
#[test]
fn provider_and_browser_work_without_bucketgate() {
    let rp = Recorder::start();
    let cb = format!("http://{}/cb", rp.endpoint());
    let bye = format!("http://{}/bye", rp.endpoint());
    let Some((p, ())) = start_with_provider(|_| {
        let mut spec = ClientSpec::new();
        spec.redirect_uris = vec![cb.clone()];
        spec.post_logout_redirect_uris = vec![bye.clone()];
        ((), spec)
    }) else {
        return;
    };

    let d = p.discovery();
    assert_eq!(d["issuer"], p.issuer());
    for (field, path) in [
        ("authorization_endpoint", "/auth"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/me"),
        ("end_session_endpoint", "/session/end"),
        ("jwks_uri", "/jwks"),
    ] {
        assert_eq!(d[field], format!("{}{path}", p.issuer()), "{field}");
    }
    assert_eq!(d["code_challenge_methods_supported"][0], "S256");

    // The authorization request a relying party makes.
    let verifier = format!("verifier-{}-{}", unique_suffix(), "x".repeat(43));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = format!("state-{}", unique_suffix());
    let nonce = format!("nonce-{}", unique_suffix());
    let authorize = |challenge: Option<&str>| {
        let mut q = vec![
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", cb.as_str()),
            ("scope", "openid email profile"),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
        ];
        if let Some(c) = challenge {
            q.push(("code_challenge", c));
            q.push(("code_challenge_method", "S256"));
        }
        format!("{}/auth?{}", p.issuer(), encode_query_pairs(&q).join("&"))
    };

    let mut b = Browser::new();
    let page = b.sign_in(&p, &authorize(Some(&challenge)), "alice");
    page.assert_status(200);
    assert!(
        page.url.starts_with(&format!("{cb}?")),
        "the code came back to the redirect URI:\n{}",
        page.describe()
    );
    assert_eq!(query_param(&page.url, "state").as_deref(), Some(&*state));
    let code = query_param(&page.url, "code").expect("a code");
    assert!(
        page.trail.iter().any(|s| s.method == "POST"),
        "the login form was filled:\n{}",
        page.describe()
    );
    let seen = rp.wait_for_requests(1, Duration::from_secs(5));
    assert!(seen[0].target.starts_with("/cb?code="), "{:?}", seen[0]);

    // Token exchange (client_secret_basic + PKCE verifier).
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{}", p.client_secret()))
    );
    let token_call = |body: &[(&str, &str)]| {
        client::request(
            p.addr(),
            "POST",
            "/token",
            &[
                ("Authorization", &basic),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(encode_query_pairs(body).join("&").as_bytes()),
        )
    };
    let t = token_call(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &cb),
        ("code_verifier", &verifier),
    ]);
    t.assert_status(200);
    let tokens = t.json();
    let claims = jwt_payload(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["groups"], serde_json::json!(["staff"]));
    assert_eq!(claims["nonce"], nonce.as_str());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["iss"], p.issuer());
    let access = tokens["access_token"].as_str().expect("access_token");
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    assert!(tokens["expires_in"].as_u64().unwrap() >= 60);
    let userinfo = |token: &str| {
        client::request(
            p.addr(),
            "GET",
            "/me",
            &[("Authorization", &format!("Bearer {token}"))],
            None,
        )
    };
    let me = userinfo(access);
    me.assert_status(200);
    assert_eq!(me.json()["email"], "alice@example.com");
    let refreshed = token_call(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]);
    refreshed.assert_status(200);
    let access2 = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh2 = refreshed.json()["refresh_token"]
        .as_str()
        .unwrap_or(refresh)
        .to_string();

    // PKCE is required, even of this confidential client.
    let mut b2 = Browser::new();
    let no_pkce = b2.sign_in(&p, &authorize(None), "alice");
    assert_eq!(
        query_param(&no_pkce.url, "error").as_deref(),
        Some("invalid_request"),
        "{}",
        no_pkce.describe()
    );
    // An unknown user does not get in.
    let mut b3 = Browser::new();
    let mallory = b3.sign_in(&p, &authorize(Some(&challenge)), "mallory");
    mallory.assert_status(401);
    assert!(p.owns(&mallory.url), "{}", mallory.describe());

    // Revocation (test-only endpoint): userinfo and refresh fail from now on.
    p.revoke("alice");
    assert_eq!(userinfo(&access2).status, 401);
    let r = token_call(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh2),
    ]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_grant");
    // carol is unaffected.
    let mut b4 = Browser::new();
    let carol = b4.sign_in(&p, &authorize(Some(&challenge)), "carol");
    assert!(carol.url.starts_with(&cb), "{}", carol.describe());
    let t = token_call(&[
        ("grant_type", "authorization_code"),
        ("code", &query_param(&carol.url, "code").unwrap()),
        ("redirect_uri", &cb),
        ("code_verifier", &verifier),
    ]);
    t.assert_status(200);
    let carol_id_token = t.json()["id_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_payload(&carol_id_token)["sub"], "carol");
    // Without logout, the provider signs carol straight back in (no form).
    let sso = b4.open(&authorize(Some(&challenge)));
    assert!(sso.url.starts_with(&cb), "{}", sso.describe());

    // RP-initiated logout: the confirmation form is submitted and the browser lands on the
    // registered post-logout URI; the provider session is gone (login form again).
    let end = format!(
        "{}/session/end?{}",
        p.issuer(),
        encode_query_pairs(&[
            ("id_token_hint", carol_id_token.as_str()),
            ("post_logout_redirect_uri", bye.as_str()),
            ("client_id", CLIENT_ID),
        ])
        .join("&")
    );
    let out = b4.sign_out(&p, &end);
    assert_eq!(out.url, bye, "{}", out.describe());
    let back = b4.open(&authorize(Some(&challenge)));
    assert!(
        p.owns(&back.url) && back.text().contains("name=\"login\""),
        "after logout the provider asks for a login again:\n{}",
        back.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// The payload of a JWT, parsed (no verification: the provider's own tokens, for the harness).
fn jwt_payload(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url payload"))
        .expect("JSON payload")
}

/// A fresh sealing key (base64), shared by the instances of one test.
fn sealing_key() -> String {
    generate_sealing_key().expect("a random sealing key")
}

/// The `oidc:` settings of the test routes, indented for `      - oidc:`: the provider's
/// client, callback on the gateway's own address, logout ending on [`BYE`], 1 h sessions,
/// read access to `users/{sub}/` of `bucket`, plus `extra` lines.
fn oidc_section(issuer: &str, secret: &str, bucket: &str, extra: &str) -> String {
    let mut s = format!(
        "          issuer: {issuer}
          client_id: {CLIENT_ID}
          client_secret: \"{secret}\"
          redirect_url: http://{{listen}}{CALLBACK}
          post_logout_url: {BYE}
          cookie: {{lifetime: 1h}}
          grants:
            - {{bucket: \"{bucket}\", prefix: \"users/{{sub}}/\", operations: [read]}}
"
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("          ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// A gateway config: [`PREAMBLE`] (upstream `s3`), sealing key `key`, a public route on
/// `/public` (keys under `public/`), and the SSO route on `/` for `bucket` (GET, HEAD, PUT)
/// with `oidc` as its only auth.
fn files_config(bucket: &str, key: &str, oidc: &str) -> String {
    format!(
        "{PREAMBLE}access_keys:
  sealing_keys:
    - {{id: k1, key: \"{key}\"}}
routes:
  - name: public
    path_prefix: /public
    upstream: s3
    bucket: \"{bucket}\"
    key_prefix: public/
    public: true
  - name: sso
    path_prefix: /
    upstream: s3
    bucket: \"{bucket}\"
    methods: [GET, HEAD, PUT]
    auth:
      - oidc:
{oidc}"
    )
}

/// Starts the provider and one gateway per config `configs(issuer, client_secret)` returns,
/// with every gateway's callback, `/` and [`BYE`] registered at the provider. None when a tool
/// is missing (SKIPPED).
fn start_sso(configs: impl Fn(&str, &str) -> Vec<String>) -> Option<(Provider, Vec<Gateway>)> {
    start_with_provider(|issuer| {
        let mut spec = ClientSpec::new();
        let gws: Vec<Gateway> = configs(issuer, &spec.client_secret)
            .iter()
            .map(|yaml| Gateway::start(yaml))
            .collect();
        spec.redirect_uris = gws.iter().map(|g| g.url(CALLBACK)).collect();
        spec.post_logout_redirect_uris =
            gws.iter().flat_map(|g| [g.url("/"), g.url(BYE)]).collect();
        (gws, spec)
    })
}

/// The `session_store` line of an `oidc:` section on `redis`, keys under `prefix`.
fn redis_store(redis: &Redis, prefix: &str) -> String {
    format!(
        "session_store: {{redis: {{url: \"{}\", prefix: \"{prefix}\"}}}}",
        redis.url()
    )
}

/// A bucket with alice's report (its bytes returned), bob's file and the logout page.
fn seeded_bucket(prefix: &str) -> (String, Vec<u8>) {
    let up = Upstream::get();
    let bucket = fresh_bucket(prefix);
    let report = pattern(5, 300_000);
    up.put_object(
        &bucket,
        REPORT,
        &report,
        &[("content-type", "application/pdf")],
    );
    up.put_object(&bucket, BOBS, b"bob's eyes only\n", &[]);
    up.put_object(&bucket, "public/bye.txt", BYE_BODY, &[]);
    (bucket, report)
}

/// A [`seeded_bucket`] named after `prefix`, the provider and one gateway on [`files_config`]
/// for it (a fresh sealing key), its `oidc:` settings plus `extra`: the provider, the gateway,
/// the URL of alice's report on it, the bucket and the report's bytes. None when a tool is
/// missing (SKIPPED).
fn sso_gateway(prefix: &str, extra: &str) -> Option<(Provider, Gateway, String, String, Vec<u8>)> {
    let (bucket, report) = seeded_bucket(prefix);
    let key = sealing_key();
    let (p, mut gws) = start_sso(|issuer, secret| {
        vec![files_config(
            &bucket,
            &key,
            &oidc_section(issuer, secret, &bucket, extra),
        )]
    })?;
    let gw = gws.pop().expect("one gateway");
    let file = gw.url(&format!("/{REPORT}"));
    Some((p, gw, file, bucket, report))
}

/// A new browser signed in as `user` through the page at `url`, which it then shows (200).
fn signed_in(p: &Provider, url: &str, user: &str) -> Browser {
    let mut b = Browser::new();
    b.sign_in(p, url, user).assert_status(200);
    b
}

/// The live session cookie's value on 127.0.0.1, if any.
fn session_of(b: &Browser) -> Option<String> {
    b.cookie("127.0.0.1", COOKIE).map(|c| c.value.clone())
}

/// Whether `r` sends the browser to sign in: a 302 to the provider's authorization endpoint
/// or to the gateway's login path.
fn is_login_redirect(r: &Response, p: &Provider) -> bool {
    r.status == 302
        && r.header("location")
            .is_some_and(|l| l.starts_with(&format!("{}/auth?", p.issuer())) || l.contains(LOGIN))
}

#[track_caller]
fn assert_login_redirect(r: &Response, p: &Provider, what: &str) {
    assert!(
        is_login_redirect(r, p),
        "{what}: expected a 302 to the sign-in, got {} {:?}\n{}",
        r.status,
        r.headers,
        client::truncate_for_display(&r.body)
    );
}

/// A non-browser request (JSON wanted, or not GET/HEAD) without a session: 401, no redirect.
#[track_caller]
fn assert_401_not_redirect(r: &Response, what: &str) {
    assert_eq!(
        r.status,
        401,
        "{what}: expected 401, got {} {:?}\n{}",
        r.status,
        r.headers,
        client::truncate_for_display(&r.body)
    );
    assert!(r.header("location").is_none(), "{what}: {:?}", r.headers);
}

/// The friendly "your sign-in expired" page: 200 HTML, says so, links to the login path, and
/// signs nobody in.
#[track_caller]
fn assert_friendly_expired(page: &Page, what: &str) {
    assert_eq!(
        page.status(),
        200,
        "{what}: expected the friendly 200 page:\n{}",
        page.describe()
    );
    let ct = page.response.header("content-type").unwrap_or_default();
    assert!(ct.contains("text/html"), "{what}: content-type {ct:?}");
    let text = page.text();
    assert!(
        text.to_ascii_lowercase().contains("expired"),
        "{what}: the page should say the sign-in expired:\n{text}"
    );
    assert!(
        text.contains(LOGIN),
        "{what}: the page should link to {LOGIN} to retry:\n{text}"
    );
    assert_no_new_session(&page.response, what);
}

/// `r` is an HTML page.
#[track_caller]
fn assert_html(r: &Response, what: &str) {
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.contains("text/html")),
        "{what}: expected HTML, got {:?}",
        r.headers
    );
}

/// `r` sets no (non-empty) session cookie.
#[track_caller]
fn assert_no_new_session(r: &Response, what: &str) {
    for sc in r.header_all("set-cookie") {
        let set = sc.trim_start().starts_with(&format!("{COOKIE}="))
            && !sc.trim_start().starts_with(&format!("{COOKIE}=;"));
        assert!(!set, "{what}: a session cookie was set: {sc}");
    }
}

/// The first `href` in an HTML page that leads to `path` (entities decoded), made absolute on
/// `gw`.
fn link_to(html: &str, path: &str, gw: &Gateway) -> Option<String> {
    html.split("href=").skip(1).find_map(|rest| {
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value = rest[1..].split(quote).next()?;
        let href = value.replace("&amp;", "&").replace("&#x2F;", "/");
        if href.starts_with(path) {
            Some(gw.url(&href))
        } else if href.starts_with(&gw.url(path)) {
            Some(href)
        } else {
            None
        }
    })
}

/// A poll that waits `every` between tries, for [`common::wait_until`].
fn slowly(every: Duration, mut f: impl FnMut() -> bool) -> impl FnMut() -> bool {
    move || {
        if f() {
            return true;
        }
        std::thread::sleep(every);
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in and download.

#[test]
fn sign_in_then_download() {
    let Some((p, gw, file, bucket, report)) = sso_gateway("sso-dl", "") else {
        return;
    };

    // Without a session: a browser goes to the provider, anything else gets 401.
    let mut b = Browser::new();
    let first = b.fetch("GET", &file, &[], None);
    assert_login_redirect(&first, &p, "a browser GET without a session");
    assert!(
        first
            .header("cache-control")
            .is_some_and(|c| c.contains("no-store")),
        "redirects are not cached: {:?}",
        first.headers
    );
    for (what, method, headers) in [
        (
            "Accept: application/json",
            "GET",
            vec![("Accept", "application/json")],
        ),
        (
            "X-Requested-With",
            "GET",
            vec![("X-Requested-With", "XMLHttpRequest")],
        ),
        ("a PUT", "PUT", vec![]),
    ] {
        let body = (method == "PUT").then_some(&b"x"[..]);
        let r = Browser::new().fetch(method, &file, &headers, body);
        assert_401_not_redirect(&r, what);
    }

    let page = b.sign_in(&p, &file, "alice");
    page.assert_status(200);
    assert_eq!(
        page.url,
        file,
        "back at the original URL:\n{}",
        page.describe()
    );
    assert!(
        page.response.body == report,
        "the file's bytes, through the session"
    );
    assert_eq!(
        page.response.header("content-type"),
        Some("application/pdf")
    );

    // The authorization request: code flow, PKCE S256, state, nonce, our redirect URI.
    let auth = page
        .authorization_request(&p)
        .unwrap_or_else(|| panic!("no authorization request:\n{}", page.describe()));
    let param = |n: &str| query_param(&auth, n).unwrap_or_default();
    assert_eq!(param("response_type"), "code", "{auth}");
    assert_eq!(param("client_id"), CLIENT_ID, "{auth}");
    assert_eq!(param("redirect_uri"), gw.url(CALLBACK), "{auth}");
    assert!(param("scope").split(' ').any(|s| s == "openid"), "{auth}");
    assert_eq!(param("code_challenge_method"), "S256", "{auth}");
    assert_eq!(param("code_challenge").len(), 43, "{auth}");
    assert!(param("state").len() >= 16, "an unguessable state: {auth}");
    assert!(param("nonce").len() >= 16, "an unguessable nonce: {auth}");

    // The callback: a fresh session cookie with the right attributes, then back to the file.
    let cb = page
        .trail
        .iter()
        .find(|s| s.url.starts_with(&gw.url(CALLBACK)))
        .unwrap_or_else(|| panic!("no callback:\n{}", page.describe()));
    assert_eq!(cb.status, 302, "{}", page.describe());
    assert_eq!(cb.location.as_deref(), Some(file.as_str()));
    let set = b
        .set_cookies_named(COOKIE)
        .into_iter()
        .find(|s| s.url.starts_with(&gw.url(CALLBACK)))
        .expect("the callback sets the session cookie");
    assert!(set.attr("httponly").is_some(), "HttpOnly: {}", set.raw);
    assert_eq!(
        set.attr("samesite").map(str::to_ascii_lowercase).as_deref(),
        Some("lax"),
        "{}",
        set.raw
    );
    assert_eq!(set.attr("path"), Some("/"), "{}", set.raw);
    assert_eq!(
        set.attr("max-age"),
        Some("3600"),
        "lifetime 1h: {}",
        set.raw
    );
    assert!(
        set.attr("secure").is_none(),
        "plain http from an untrusted peer: no Secure: {}",
        set.raw
    );
    assert!(
        set.value.len() >= 43
            && set
                .value
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
        "an opaque random id (32 bytes base64url): {:?}",
        set.value
    );
    assert!(
        !set.value.contains("alice"),
        "the cookie is opaque, not the identity: {}",
        set.value
    );

    // The session goes on: HEAD, GET again without any provider round trip.
    let head = b.fetch("HEAD", &file, &[], None);
    head.assert_status(200);
    assert_eq!(
        head.header("content-length"),
        Some(report.len().to_string().as_str())
    );
    let again = b.open(&file);
    again.assert_status(200);
    assert_eq!(
        again.trail.len(),
        1,
        "no new sign-in:\n{}",
        again.describe()
    );

    // Grants come from the claims: alice reads users/alice/ only, and cannot write.
    let bobs = b.fetch("GET", &gw.url(&format!("/{BOBS}")), &[], None);
    assert_eq!(
        bobs.status,
        403,
        "alice reading bob's file: {}",
        bobs.text()
    );
    assert!(!bobs.text().contains("bob's eyes only"));
    let put = b.fetch(
        "PUT",
        &gw.url("/users/alice/new.txt"),
        &[("Content-Type", "text/plain")],
        Some(b"nope"),
    );
    assert_eq!(put.status, 403, "alice writing: {}", put.text());
    assert!(Upstream::get()
        .get_object(&bucket, "users/alice/new.txt")
        .is_none());

    // Someone else's browser gets nothing from alice's sign-in.
    let other = Browser::new().fetch("GET", &file, &[], None);
    assert_login_redirect(&other, &p, "another browser");

    // This route has no `allow`: bob signs in too, but his grant only reaches users/bob/.
    let mut bob = Browser::new();
    let bob_page = bob.sign_in(&p, &file, "bob");
    assert_eq!(bob_page.url, file, "{}", bob_page.describe());
    assert_eq!(bob_page.status(), 403, "bob reading alice's file");
    assert!(bob_page.response.body != report);
    let own = bob.fetch("GET", &gw.url(&format!("/{BOBS}")), &[], None);
    own.assert_status(200);
    assert_eq!(own.body, b"bob's eyes only\n");
}

/// `allow` restricts who may sign in: bob (bob@other.example, no groups) is refused with a
/// 403 page and no session; carol (example.com, staff) gets in.
#[test]
fn allow_restricts_who_signs_in() {
    let (bucket, _) = seeded_bucket("sso-allow");
    let key = sealing_key();
    let Some((p, gws)) = start_sso(|issuer, secret| {
        let allow_domain = oidc_section(
            issuer,
            secret,
            &bucket,
            "allow: {email_domains: [example.com]}",
        );
        let allow_group = oidc_section(issuer, secret, &bucket, "allow: {groups: [staff]}");
        vec![
            files_config(&bucket, &key, &allow_domain),
            files_config(&bucket, &key, &allow_group),
        ]
    }) else {
        return;
    };
    up_put_carol(&bucket);
    for gw in &gws {
        let file = gw.url("/users/carol/c.txt");
        let mut bob = Browser::new();
        let page = bob.sign_in(&p, &file, "bob");
        assert_eq!(
            page.status(),
            403,
            "bob is not allowed:\n{}",
            page.describe()
        );
        assert_html(&page.response, "a page, not a bare error");
        assert_no_new_session(&page.response, "bob refused");
        assert!(session_of(&bob).is_none(), "bob has no session");
        let bobs = bob.fetch("GET", &gw.url(&format!("/{BOBS}")), &[], None);
        assert_login_redirect(&bobs, &p, "bob after the refusal");

        let mut carol = Browser::new();
        let page = carol.sign_in(&p, &file, "carol");
        page.assert_status(200);
        assert_eq!(page.response.body, b"carol's\n");
    }
}

/// Issue 17, item 6: with `allow.email_domains`, the email counts only when `email_verified`
/// is true. erin (example.com, `email_verified: false`) and frank (example.com, no
/// `email_verified` claim) are refused by default; `email_verified: when_present` (for a
/// provider that never sends the claim) lets frank in and still refuses erin; alice (true) gets
/// in everywhere. The old code let frank in.
#[test]
fn email_domains_need_a_verified_email() {
    let (bucket, _) = seeded_bucket("sso-verified");
    let up = Upstream::get();
    for user in ["alice", "erin", "frank"] {
        up.put_object(
            &bucket,
            &format!("users/{user}/f.txt"),
            user.as_bytes(),
            &[],
        );
    }
    let key = sealing_key();
    let Some((p, gws)) = start_sso(|issuer, secret| {
        let strict = oidc_section(
            issuer,
            secret,
            &bucket,
            "allow: {email_domains: [example.com]}",
        );
        let opt_out = oidc_section(
            issuer,
            secret,
            &bucket,
            "allow: {email_domains: [example.com]}\nemail_verified: when_present",
        );
        vec![
            files_config(&bucket, &key, &strict),
            files_config(&bucket, &key, &opt_out),
        ]
    }) else {
        return;
    };
    let (strict, opt_out) = (&gws[0], &gws[1]);
    for (gw, user, allowed) in [
        (strict, "alice", true),
        (strict, "erin", false),
        (strict, "frank", false),
        (opt_out, "alice", true),
        (opt_out, "erin", false),
        (opt_out, "frank", true),
    ] {
        let what = format!(
            "{user} on the {} gateway",
            if gw.addr() == strict.addr() {
                "default"
            } else {
                "opted-out"
            }
        );
        let mut b = Browser::new();
        let page = b.sign_in(&p, &gw.url(&format!("/users/{user}/f.txt")), user);
        if allowed {
            page.assert_status(200);
            assert_eq!(page.response.body, user.as_bytes(), "{what}");
        } else {
            assert_eq!(page.status(), 403, "{what}:\n{}", page.describe());
            assert_html(&page.response, &what);
            assert!(session_of(&b).is_none(), "{what}: no session");
        }
    }
}

/// The config of issue 17, item 2: two `files` routes on one provider client, `/admin`
/// (`allow: {groups: [admins]}`, read on the whole bucket) and `/home` (no `allow`, read on
/// `users/{sub}/`), each with its callback below its prefix; `admin_extra` and `home_extra` add
/// to their `oidc:` sections.
fn admin_home_config(
    bucket: &str,
    key: &str,
    issuer: &str,
    secret: &str,
    admin_extra: &str,
    home_extra: &str,
) -> String {
    let section = |cb: &str, grants: &str, extra: &str| {
        let cookie = if extra.contains("cookie:") {
            ""
        } else {
            "          cookie: {lifetime: 1h}\n"
        };
        let mut s = format!(
            "          issuer: {issuer}
          client_id: {CLIENT_ID}
          client_secret: \"{secret}\"
          redirect_url: http://{{listen}}{cb}
{cookie}          grants:
            - {grants}
"
        );
        for line in extra.lines().filter(|l| !l.trim().is_empty()) {
            s.push_str("          ");
            s.push_str(line);
            s.push('\n');
        }
        s
    };
    format!(
        "{PREAMBLE}access_keys:
  sealing_keys:
    - {{id: k1, key: \"{key}\"}}
routes:
  - name: admin
    path_prefix: /admin
    upstream: s3
    bucket: \"{bucket}\"
    auth:
      - oidc:
{}  - name: home
    path_prefix: /home
    upstream: s3
    bucket: \"{bucket}\"
    auth:
      - oidc:
{}",
        section(
            "/admin/_cb",
            &format!("{{bucket: \"{bucket}\", prefix: \"\", operations: [read]}}"),
            &format!("allow: {{groups: [admins]}}\n{admin_extra}"),
        ),
        section(
            "/home/_cb",
            &format!("{{bucket: \"{bucket}\", prefix: \"users/{{sub}}/\", operations: [read]}}"),
            home_extra,
        ),
    )
}

/// The provider and one gateway on [`admin_home_config`] (both callbacks registered).
fn admin_home_gateway(
    bucket: &str,
    admin_extra: &str,
    home_extra: &str,
) -> Option<(Provider, Gateway)> {
    let key = sealing_key();
    start_with_provider(|issuer| {
        let mut spec = ClientSpec::new();
        let gw = Gateway::start(&admin_home_config(
            bucket,
            &key,
            issuer,
            &spec.client_secret,
            admin_extra,
            home_extra,
        ));
        spec.redirect_uris = vec![gw.url("/admin/_cb"), gw.url("/home/_cb")];
        (gw, spec)
    })
}

/// Issue 17, item 2: `allow` holds on every route, every request. bob (not in admins) signs
/// in on `/home`; his session is no session on `/admin`: a browser is sent to sign in there,
/// which `/admin`'s `allow` refuses, and an API request gets 401. The old code bound sessions to
/// issuer and client only and checked `allow` at sign-in only, so bob's cookie read alice's
/// report through `/admin`'s grants. dana (admins) gets `/admin`.
#[test]
fn allow_is_checked_per_route_on_every_request() {
    let (bucket, report) = seeded_bucket("sso-routes");
    let Some((p, gw)) = admin_home_gateway(&bucket, "", "") else {
        return;
    };
    let alices = gw.url(&format!("/admin/{REPORT}"));
    let mut bob = Browser::new();
    let page = bob.sign_in(&p, &gw.url(&format!("/home/{BOBS}")), "bob");
    page.assert_status(200);
    assert_eq!(page.response.body, b"bob's eyes only\n");
    let bobs_session = session_of(&bob).expect("bob's session");
    // With bob's cookie (a refused visit clears it, so it is put back each time): a browser is
    // sent to sign in, an API request gets 401, never alice's report.
    let r = bob.fetch("GET", &alices, &[], None);
    assert_login_redirect(&r, &p, "bob's /home session on /admin");
    assert!(r.body != report);
    bob.add_cookie("127.0.0.1", COOKIE, &bobs_session);
    let r = bob.fetch("GET", &alices, &[("Accept", "application/json")], None);
    assert_401_not_redirect(&r, "bob's /home session on /admin, JSON");
    // Following the sign-in: the provider knows bob, /admin's allow refuses him.
    bob.add_cookie("127.0.0.1", COOKIE, &bobs_session);
    let page = bob.sign_in(&p, &alices, "bob");
    assert_eq!(page.status(), 403, "{}", page.describe());
    assert!(page.response.body != report);
    // bob's /home session still works on /home, and is still nothing on /admin.
    bob.add_cookie("127.0.0.1", COOKIE, &bobs_session);
    let r = bob.fetch("GET", &gw.url(&format!("/home/{BOBS}")), &[], None);
    r.assert_status(200);
    let r = bob.fetch("GET", &alices, &[("Accept", "application/json")], None);
    assert_401_not_redirect(&r, "bob's session on /admin, again");

    let mut dana = Browser::new();
    let page = dana.sign_in(&p, &alices, "dana");
    page.assert_status(200);
    assert!(
        page.response.body == report,
        "dana (admins) reads through /admin"
    );
}

/// Issue 17, item 2 with Redis: `/admin` and `/home` keep sessions in one Redis prefix under
/// their own cookie names. bob's `/home` session id copied into `/admin`'s cookie is no
/// session there (the old code accepted it: both were bound to issuer and client only).
#[test]
fn a_session_id_under_another_cookie_name_is_refused_redis() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let (bucket, report) = seeded_bucket("sso-routes-redis");
    let store = redis_store(&redis, "bg-routes:");
    let Some((p, gw)) = admin_home_gateway(
        &bucket,
        &format!("{store}\ncookie: {{name: admin_session, lifetime: 1h}}"),
        &format!("{store}\ncookie: {{name: home_session, lifetime: 1h}}"),
    ) else {
        return;
    };
    let mut bob = Browser::new();
    bob.sign_in(&p, &gw.url(&format!("/home/{BOBS}")), "bob")
        .assert_status(200);
    let id = bob
        .cookie("127.0.0.1", "home_session")
        .expect("bob's home_session")
        .value
        .clone();
    assert!(
        redis.keys().iter().any(|k| k.starts_with("bg-routes:")),
        "the session is in Redis: {:?}",
        redis.keys()
    );
    bob.add_cookie("127.0.0.1", "admin_session", &id);
    let r = bob.fetch(
        "GET",
        &gw.url(&format!("/admin/{REPORT}")),
        &[("Accept", "application/json")],
        None,
    );
    assert_401_not_redirect(&r, "bob's /home session id as /admin's cookie");
    assert!(r.body != report);
}

/// `n` anonymous browser-like GETs of `url` (no cookie), from 4 threads at once, each
/// answered with a redirect to the sign-in.
fn anonymous_flood(gw: &Gateway, path: &str, n: usize) {
    let per = n / 4;
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..per {
                    let r = client::request(
                        gw.addr(),
                        "GET",
                        &format!("{path}?flood={t}-{i}"),
                        &[("Accept", "text/html")],
                        None,
                    );
                    assert_eq!(r.status, 302, "anonymous request {t}-{i}");
                }
            });
        }
    });
}

/// Issue 17, item 5: thousands of anonymous requests, each starting a sign-in, store nothing:
/// a session made before keeps working and a new sign-in completes. With Redis (which had no cap
/// at all), the only keys are the sessions: the old code wrote a state key per request.
#[test]
fn a_flood_of_anonymous_sign_ins_crowds_out_no_session() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let (bucket, report) = seeded_bucket("sso-flood");
    let key = sealing_key();
    let store = redis_store(&redis, "bg-flood:");
    let Some((p, gws)) = start_sso(|issuer, secret| {
        vec![
            files_config(&bucket, &key, &oidc_section(issuer, secret, &bucket, "")),
            files_config(
                &bucket,
                &key,
                &oidc_section(issuer, secret, &bucket, &store),
            ),
        ]
    }) else {
        return;
    };
    for gw in &gws {
        let file = gw.url(&format!("/{REPORT}"));
        let mut alice = signed_in(&p, &file, "alice");
        let keys_before = redis.keys().len();
        anonymous_flood(gw, &format!("/{REPORT}"), 4000);
        assert_eq!(
            redis.keys().len(),
            keys_before,
            "no store key for an anonymous sign-in: {:?}",
            redis.keys().iter().take(5).collect::<Vec<_>>()
        );
        let r = alice.fetch("GET", &file, &[], None);
        r.assert_status(200);
        assert!(r.body == report, "alice's session works after the flood");
        let mut carol = Browser::new();
        up_put_carol(&bucket);
        let page = carol.sign_in(&p, &gw.url("/users/carol/c.txt"), "carol");
        page.assert_status(200);
        assert_eq!(page.response.body, b"carol's\n", "a new sign-in completes");
    }
}

/// Issue 17, item 1: `bucketgate check` warns (and still passes) when a route serving objects
/// and an oidc sign-in share a host, and is quiet when objects and sign-in have hosts of
/// their own.
#[test]
fn check_warns_when_objects_and_sign_in_share_a_host() {
    let key = sealing_key();
    let head = format!(
        "listeners:
  - address: 127.0.0.1:8080
upstreams:
  s3:
    endpoints: [\"127.0.0.1:9000\"]
    region: us-east-1
    credentials: {{access_key_id: AKIAEXAMPLE, secret_access_key: example-secret-key-1234}}
access_keys:
  sealing_keys:
    - {{id: k1, key: \"{key}\"}}
routes:
"
    );
    let mint = |host: &str, redirect: &str| {
        format!(
            "  - name: keys
    frontend: s3
    upstream: s3
{host}    buckets: [{{name: data}}]
    auth:
      - oidc:
          issuer: https://login.example.com
          client_id: bucketgate
          redirect_url: {redirect}
          grants: [{{bucket: data, prefix: \"users/{{sub}}/\", operations: [read]}}]
          mint_keys: {{ttl: 1h}}
"
        )
    };
    let objects = "  - name: objects
    frontend: s3
    upstream: s3
    host: s3.example.com
    buckets: [{name: data}]
";
    let public = "  - name: downloads
    upstream: s3
    bucket: data
    public: true
";
    let check = |yaml: &str| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bucketgate.yaml");
        std::fs::write(&file, yaml).unwrap();
        let out = Command::new(Gateway::bin())
            .args(["check", "-c"])
            .arg(&file)
            .output()
            .expect("bucketgate check");
        assert!(
            out.status.success(),
            "check passes (a warning is no error): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // The layout of the issue: one S3 route for every host mints on its own host.
    let shared = check(&format!(
        "{head}{}",
        mint("", "https://s3.example.com/_bucketgate/oidc/callback")
    ));
    assert!(
        shared.contains("warning")
            && shared.contains("sign-in host s3.example.com also serves objects"),
        "{shared}"
    );
    assert!(shared.contains("`keys`"), "{shared}");
    // Minting on its own host, objects on another, plus a public route for any host: the
    // public route is named.
    let public_too = check(&format!(
        "{head}{}{objects}{public}",
        mint(
            "    host: keys.example.com\n",
            "https://keys.example.com/_bucketgate/oidc/callback"
        )
    ));
    assert!(
        public_too.contains("`downloads`") && !public_too.contains("`keys`"),
        "{public_too}"
    );
    // Separate hosts: no warning.
    let split = check(&format!(
        "{head}{}{objects}",
        mint(
            "    host: keys.example.com\n",
            "https://keys.example.com/_bucketgate/oidc/callback"
        )
    ));
    assert!(!split.contains("sign-in host"), "{split}");
}

fn up_put_carol(bucket: &str) {
    Upstream::get().put_object(bucket, "users/carol/c.txt", b"carol's\n", &[]);
}

// ---------------------------------------------------------------------------------------------
// Range on the session cookie.

/// A video player seeks with Range requests on the session cookie alone.
#[test]
fn range_requests_on_the_session_cookie() {
    let Some((p, _gw, file, _, report)) = sso_gateway("sso-range", "") else {
        return;
    };
    let mut b = signed_in(&p, &file, "alice");
    let n = report.len();
    let cases = [
        ("bytes=0-1", 0..2),
        ("bytes=1000-1999", 1000..2000),
        ("bytes=150000-", 150_000..n),
        ("bytes=-4096", n - 4096..n),
        ("bytes=299990-400000", 299_990..n),
    ];
    for (range, want) in cases {
        let r = b.fetch(
            "GET",
            &file,
            &[
                ("Range", range),
                ("Accept", "*/*"),
                ("User-Agent", "VLC/3.0.20 LibVLC/3.0.20"),
            ],
            None,
        );
        assert_eq!(r.status, 206, "{range}: {:?} {}", r.headers, r.text());
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {}-{}/{n}", want.start, want.end - 1).as_str()),
            "{range}"
        );
        assert!(r.body == report[want.clone()], "{range}: wrong bytes");
    }
    let r = b.fetch("GET", &file, &[("Range", "bytes=999999-")], None);
    assert_eq!(r.status, 416, "{}", r.text());
    // The same Range without the cookie is not served.
    let r = Browser::new().fetch("GET", &file, &[("Range", "bytes=0-1")], None);
    assert_login_redirect(&r, &p, "Range without a session");
}

/// Being sent to sign in is not a failed attempt: API calls without a session, or with one that
/// ended, get 401 (browsers a redirect) as often as they come, and never trip the failed-auth
/// lockout of their address, which a whole office behind one NAT address shares.
#[test]
fn sign_in_answers_never_count_toward_the_lockout() {
    let (bucket, report) = seeded_bucket("sso-lockout");
    let key = sealing_key();
    let Some((p, gws)) = start_sso(|issuer, secret| {
        vec![format!(
            "limits:\n  failed_auth_per_ip: {{max_failures: 3, window_seconds: 3600}}\n{}",
            files_config(&bucket, &key, &oidc_section(issuer, secret, &bucket, ""))
        )]
    }) else {
        return;
    };
    let gw = &gws[0];
    let file = gw.url(&format!("/{REPORT}"));
    let ended = "A".repeat(43); // a well-formed session id no store knows
    for i in 0..10 {
        let api = Browser::new().fetch("GET", &file, &[("Accept", "application/json")], None);
        assert_401_not_redirect(&api, &format!("API call #{i} without a session"));
        let stale = Browser::new().fetch(
            "GET",
            &file,
            &[
                ("Accept", "application/json"),
                ("Cookie", &format!("{COOKIE}={ended}")),
            ],
            None,
        );
        assert_401_not_redirect(&stale, &format!("API call #{i} with an ended session"));
        assert_login_redirect(
            &Browser::new().fetch("GET", &file, &[], None),
            &p,
            &format!("browser #{i} without a session"),
        );
    }
    // Thirty answers later the address is not locked out: sign-in works and serves.
    let mut b = signed_in(&p, &file, "alice");
    let r = b.fetch("GET", &file, &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == report);
}

/// Session checks that wait (here on a paused Redis; in life on a slow provider re-check) are
/// not guesses in flight: a burst of signed-in requests from one address is served, not
/// refused by the failed-auth lockout, which counts only plugins that can refuse a credential.
#[test]
fn slow_session_checks_are_not_counted_as_attempts_in_flight() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let (bucket, report) = seeded_bucket("sso-inflight");
    let key = sealing_key();
    let store = redis_store(&redis, "bg-inflight:");
    let Some((p, gws)) = start_sso(|issuer, secret| {
        vec![format!(
            "limits:\n  failed_auth_per_ip: {{max_failures: 2, window_seconds: 3600}}\n{}",
            files_config(
                &bucket,
                &key,
                &oidc_section(issuer, secret, &bucket, &store)
            )
        )]
    }) else {
        return;
    };
    let gw = &gws[0];
    let file = gw.url(&format!("/{REPORT}"));
    let b = signed_in(&p, &file, "alice");
    let cookie = format!("{COOKIE}={}", session_of(&b).expect("a session cookie"));
    // Every session lookup now waits a second for Redis, so six requests are checked at once.
    redis.command(&["CLIENT", "PAUSE", "1000", "ALL"]);
    let path = format!("/{REPORT}");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let r = client::request(
                        gw.addr(),
                        "GET",
                        &path,
                        &[("Cookie", &cookie), ("Accept", "application/json")],
                        None,
                    );
                    assert!(r.status != 200 || r.body == report, "wrong bytes");
                    r.status
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(
        statuses.iter().all(|s| *s == 200),
        "signed-in requests checked at once were refused: {statuses:?}\n{}",
        gw.log()
    );
}

/// A config reload (SIGHUP) builds new plugins; sessions in the memory store, sealed with the
/// process's own key (no `sealing_keys`), must outlive it, or every reload signs everyone out.
#[test]
fn memory_sessions_survive_a_reload_without_sealing_keys() {
    let (bucket, report) = seeded_bucket("sso-reload");
    let Some((p, mut gws)) = start_sso(|issuer, secret| {
        let with_key = files_config(
            &bucket,
            "unused",
            &oidc_section(issuer, secret, &bucket, ""),
        );
        let without = with_key.replace(
            "access_keys:\n  sealing_keys:\n    - {id: k1, key: \"unused\"}\n",
            "",
        );
        assert_ne!(with_key, without, "the sealing keys are gone");
        vec![without]
    }) else {
        return;
    };
    let mut gw = gws.pop().expect("one gateway");
    let file = gw.url(&format!("/{REPORT}"));
    let mut b = signed_in(&p, &file, "alice");
    let before = session_of(&b).expect("a session cookie");

    // The same file again (a reload re-reads it whether or not it changed).
    gw.signal("HUP");
    gw.wait_for_log("reload: now serving", Duration::from_secs(10));
    let r = b.fetch("GET", &file, &[], None);
    assert_eq!(
        r.status,
        200,
        "the session outlived the reload: {}",
        r.text()
    );
    assert!(r.body == report, "wrong bytes after the reload");
    assert_eq!(session_of(&b), Some(before), "no new sign-in happened");
    // A browser without the session still has to sign in.
    assert_login_redirect(
        &Browser::new().fetch("GET", &file, &[], None),
        &p,
        "no session",
    );
}

/// `Secure` on the session cookie: set when a trusted proxy says `X-Forwarded-Proto: https`,
/// not when an untrusted peer says so, and always with `secure: always`.
#[test]
fn session_cookie_secure_behind_a_trusted_proxy() {
    let (bucket, _) = seeded_bucket("sso-secure");
    let key = sealing_key();
    let Some((p, gws)) = start_sso(|issuer, secret| {
        let trusted = oidc_section(issuer, secret, &bucket, "trusted_proxies: [127.0.0.1/32]");
        let untrusted = oidc_section(issuer, secret, &bucket, "");
        let always = untrusted.replace(
            "cookie: {lifetime: 1h}",
            "cookie: {lifetime: 1h, secure: always}",
        );
        [trusted, untrusted, always]
            .iter()
            .map(|o| files_config(&bucket, &key, o))
            .collect()
    }) else {
        return;
    };
    let cases = [
        (
            "trusted proxy, X-Forwarded-Proto: https",
            &gws[0],
            true,
            true,
        ),
        (
            "untrusted peer, X-Forwarded-Proto: https",
            &gws[1],
            true,
            false,
        ),
        ("secure: always, plain http", &gws[2], false, true),
        ("trusted proxy, plain http", &gws[0], false, false),
    ];
    for (what, gw, xfp, want_secure) in cases {
        let mut b = Browser::new();
        let stop = b.sign_in_until(
            &p,
            &gw.url(&format!("/{REPORT}")),
            "alice",
            &gw.url(CALLBACK),
        );
        assert!(stop.stopped, "{what}: {}", stop.describe());
        // The browser is treated as on https here: its `Secure` cookies (the login binding,
        // with `secure: always`) go along too.
        let jar = b
            .cookies()
            .iter()
            .filter(|c| c.host == "127.0.0.1")
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = vec![("Cookie", jar.as_str())];
        if xfp {
            headers.push(("X-Forwarded-Proto", "https"));
        }
        let r = b.fetch("GET", &stop.url, &headers, None);
        assert_eq!(r.status, 302, "{what}: {:?} {}", r.headers, r.text());
        let set = r
            .header_all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{COOKIE}=")))
            .unwrap_or_else(|| panic!("{what}: no session cookie: {:?}", r.headers))
            .to_string();
        let secure = set
            .split(';')
            .any(|a| a.trim().eq_ignore_ascii_case("secure"));
        assert_eq!(secure, want_secure, "{what}: {set}");
    }
}

// ---------------------------------------------------------------------------------------------
// Redis: shared sessions.

/// Two instances with one Redis and one sealing key serve one session; an instance with its
/// own memory store does not know it. Keys carry TTLs, nothing readable is stored, logout on
/// one instance ends the session on both, and Redis down gives 503 rather than a crash.
#[test]
fn two_instances_share_sessions_through_redis() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let (bucket, report) = seeded_bucket("sso-redis");
    let key = sealing_key();
    let store = redis_store(&redis, "bg-sso:");
    let Some((p, gws)) = start_sso(|issuer, secret| {
        let shared = files_config(
            &bucket,
            &key,
            &oidc_section(issuer, secret, &bucket, &store),
        );
        let alone = files_config(&bucket, &key, &oidc_section(issuer, secret, &bucket, ""));
        vec![shared.clone(), shared, alone]
    }) else {
        return;
    };
    let (gw1, gw2, gw3) = (&gws[0], &gws[1], &gws[2]);
    let path = format!("/{REPORT}");

    let mut b = Browser::new();
    let page = b.sign_in(&p, &gw1.url(&path), "alice");
    page.assert_status(200);
    assert!(page.response.body == report);
    let cookie = session_of(&b).expect("a session cookie");

    // Instance 2: same session, no sign-in (the browser sends the cookie to 127.0.0.1, as
    // behind one load balancer).
    let on2 = b.open(&gw2.url(&path));
    on2.assert_status(200);
    assert!(on2.response.body == report);
    assert!(
        !on2.visited(&p),
        "instance 2 knew the session:\n{}",
        on2.describe()
    );
    let range = b.fetch("GET", &gw2.url(&path), &[("Range", "bytes=10-19")], None);
    assert_eq!(range.status, 206);
    assert!(range.body == report[10..20]);
    // Instance 3 keeps sessions in its own memory: the same cookie means nothing there. (A
    // copy of the browser asks: instance 3 may well clear the cookie it does not know, and
    // cookies are per host, not per port.)
    let on3 = b.clone().fetch("GET", &gw3.url(&path), &[], None);
    assert_login_redirect(&on3, &p, "an instance with its own memory store");

    // What Redis holds: prefixed keys with TTLs, named without the cookie, values sealed.
    let keys = redis.keys();
    assert!(!keys.is_empty(), "nothing in Redis");
    for k in &keys {
        assert!(k.starts_with("bg-sso:"), "key outside the prefix: {k}");
        assert!(!k.contains(&cookie), "a key names the raw cookie: {k}");
        let ttl = redis.pttl(k);
        assert!(
            ttl > 0 && ttl <= 3_600_000,
            "key {k} has PTTL {ttl}: every key expires, sessions within the 1h lifetime"
        );
        let value = redis.get(k).unwrap_or_default();
        for plain in [
            "alice",
            "example.com",
            "staff",
            "users/",
            "refresh",
            "token",
            cookie.as_str(),
        ] {
            assert!(
                !contains(&value, plain.as_bytes()),
                "Redis value of {k} holds {plain:?} in the clear: {}",
                String::from_utf8_lossy(&value)
            );
        }
    }
    assert!(
        keys.iter().any(|k| k.contains("session")),
        "a session record in Redis: {keys:?}"
    );

    // Logout on instance 2 ends the session for instance 1 too (server side: the old cookie
    // is refused, not only forgotten by the browser).
    let out = b.log_out(&p, &gw2.url(LOGOUT));
    assert_eq!(out.url, gw2.url(BYE), "{}", out.describe());
    assert!(session_of(&b).is_none(), "the cookie was cleared");
    assert!(
        !redis.keys().iter().any(|k| k.contains("session")),
        "the session record was deleted: {:?}",
        redis.keys()
    );
    b.add_cookie("127.0.0.1", COOKIE, &cookie);
    let r = b.fetch("GET", &gw1.url(&path), &[], None);
    assert_login_redirect(&r, &p, "instance 1 after logout on instance 2");

    // Redis down: sign-in state cannot be read or written. 503, and the gateway lives on.
    let mut c = Browser::new();
    c.sign_in(&p, &gw1.url(&path), "carol");
    redis.kill();
    let r = c.fetch("GET", &gw1.url(&path), &[], None);
    assert_eq!(
        r.status,
        503,
        "Redis down: {} {:?} {}",
        r.status,
        r.headers,
        r.text()
    );
    // Starting a sign-in needs no store (its state is in the browser's cookie); finishing it
    // does: 503 at the callback.
    let mut fresh = Browser::new();
    let start = fresh.fetch("GET", &gw1.url(&path), &[], None);
    assert_login_redirect(&start, &p, "starting a sign-in with Redis down");
    let end = fresh.sign_in(&p, &gw1.url(&path), "carol");
    assert_eq!(
        end.status(),
        503,
        "finishing a sign-in with Redis down:\n{}",
        end.describe()
    );
    client::get(gw1.addr(), "/healthz").assert_status(200);
    assert!(
        !gw1.log().contains("panicked"),
        "the gateway panicked:\n{}",
        gw1.log()
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Logout.

#[test]
fn logout_ends_the_session_here_and_at_the_provider() {
    let Some((p, gw, file, _, report)) = sso_gateway("sso-logout", "") else {
        return;
    };
    let mut b = Browser::new();
    assert!(b.sign_in(&p, &file, "alice").response.body == report);
    let cookie = session_of(&b).expect("a session cookie");

    // Issue 17, item 9: a GET of the logout path never signs out, from this site or another
    // (a link, an <img>): it shows a confirmation whose button POSTs.
    for (what, headers) in [
        ("a GET", vec![]),
        (
            "a cross-site GET",
            vec![
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Referer", "http://evil.example/"),
            ],
        ),
    ] {
        let r = b.fetch("GET", &gw.url(LOGOUT), &headers, None);
        assert_eq!(r.status, 200, "{what}: {:?} {}", r.headers, r.text());
        assert_html(&r, what);
        assert!(r.text().contains("method=\"post\""), "{what}: {}", r.text());
        assert!(
            r.header_all("set-cookie").is_empty(),
            "{what}: {:?}",
            r.headers
        );
        assert_eq!(session_of(&b).as_deref(), Some(cookie.as_str()), "{what}");
        let still = b.fetch("GET", &file, &[], None);
        assert_eq!(still.status, 200, "{what}: still signed in");
    }
    // A POST from another site (an auto-submitting form), or one without the page's token:
    // refused, still signed in.
    for (what, target, headers) in [
        (
            "a cross-site POST",
            gw.url(LOGOUT),
            vec![
                ("Origin", "http://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "document"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
        ),
        (
            "a same-origin POST without the token",
            gw.url(LOGOUT),
            vec![("Content-Type", "application/x-www-form-urlencoded")],
        ),
        (
            "a POST with a wrong token",
            gw.url(&format!("{LOGOUT}?csrf={}", "A".repeat(43))),
            vec![],
        ),
    ] {
        let r = b.fetch("POST", &target, &headers, Some(b""));
        assert_eq!(r.status, 403, "{what}: {:?} {}", r.headers, r.text());
        assert!(r.header_all("set-cookie").is_empty(), "{what}");
        assert_eq!(
            b.fetch("GET", &file, &[], None).status,
            200,
            "{what}: still signed in"
        );
    }

    // The button: cookie cleared, off to the provider's end_session endpoint with the ID token
    // as hint and our post-logout URL.
    let confirm = b.open(&gw.url(LOGOUT));
    let r = b.submit_once(&confirm);
    assert_eq!(r.status, 303, "{:?} {}", r.headers, r.text());
    assert!(
        r.header("cache-control")
            .is_some_and(|c| c.contains("no-store")),
        "{:?}",
        r.headers
    );
    let cleared = r.header_all("set-cookie").into_iter().any(|c| {
        c.starts_with(&format!("{COOKIE}="))
            && (c.to_ascii_lowercase().contains("max-age=0")
                || c.to_ascii_lowercase().contains("expires=thu, 01 jan 1970"))
    });
    assert!(cleared, "the session cookie is cleared: {:?}", r.headers);
    assert!(session_of(&b).is_none());
    let to = r.header("location").unwrap_or_default().to_string();
    assert!(
        to.starts_with(&format!("{}/session/end?", p.issuer())),
        "logout goes through the provider's end_session_endpoint: {to}"
    );
    assert_eq!(
        query_param(&to, "post_logout_redirect_uri").as_deref(),
        Some(gw.url(BYE).as_str())
    );
    let hint = query_param(&to, "id_token_hint").unwrap_or_default();
    assert_eq!(
        hint.split('.').count(),
        3,
        "id_token_hint is the ID token: {to}"
    );
    assert_eq!(jwt_payload(&hint)["sub"], "alice");

    // The browser goes on: the provider confirms, and the browser lands on our page.
    let page = b.sign_out(&p, &to);
    assert_eq!(page.url, gw.url(BYE), "{}", page.describe());
    page.assert_status(200);
    assert_eq!(page.response.body, BYE_BODY);

    // The old cookie is worthless now (deleted server side).
    b.add_cookie("127.0.0.1", COOKIE, &cookie);
    let r = b.fetch("GET", &file, &[], None);
    assert_login_redirect(&r, &p, "the old cookie after logout");
    let r = b.fetch("GET", &file, &[("Accept", "application/json")], None);
    assert_401_not_redirect(&r, "the old cookie after logout, JSON");
    b.remove_cookie("127.0.0.1", COOKIE);

    // And the provider session is gone: the provider asks for a login again instead of
    // signing the browser straight back in.
    let again = b.open(&file);
    assert!(
        p.owns(&again.url) && again.text().contains("name=\"login\""),
        "after logout the provider shows its login form:\n{}",
        again.describe()
    );
    // Logging in again works, with a new session id.
    let back = b.sign_in(&p, &file, "alice");
    back.assert_status(200);
    assert_ne!(session_of(&b).as_deref(), Some(cookie.as_str()));

    // Logout without a session still ends cleanly (no 500), on our page.
    let mut stranger = Browser::new();
    let out = stranger.log_out(&p, &gw.url(LOGOUT));
    assert!(
        out.url.starts_with(&gw.url("/")) || p.owns(&out.url),
        "{}",
        out.describe()
    );
    assert!(out.status() < 500, "{}", out.describe());
}

// ---------------------------------------------------------------------------------------------
// The login state: single use, short-lived, bound to the browser.

#[test]
fn replayed_forged_or_foreign_state_gets_the_friendly_page() {
    let Some((p, gw, file, _, report)) = sso_gateway("sso-state", "") else {
        return;
    };
    let callback = gw.url(CALLBACK);

    // A sign-in stopped just before the callback, then completed.
    let mut b = Browser::new();
    let stop = b.sign_in_until(&p, &file, "alice", &callback);
    assert!(stop.stopped, "{}", stop.describe());
    let cb_url = stop.url.clone();
    assert!(query_param(&cb_url, "code").is_some(), "{cb_url}");
    let done = b.open(&cb_url);
    done.assert_status(200);
    assert!(done.response.body == report, "{}", done.describe());

    // Replayed: the state was used up.
    let mut replay = b.clone();
    replay.remove_cookie("127.0.0.1", COOKIE);
    let page = replay.open(&cb_url);
    assert_friendly_expired(&page, "a replayed callback");
    assert!(session_of(&replay).is_none());
    // The retry link starts a new sign-in, which works.
    let retry = link_to(&page.text(), LOGIN, &gw).expect("a retry link");
    let again = replay.sign_in(&p, &retry, "alice");
    assert!(
        Url::parse(&again.url).is_some_and(|u| u.authority == gw.addr()),
        "the retry ends on the gateway:\n{}",
        again.describe()
    );
    assert!(session_of(&replay).is_some(), "signed in after the retry");

    // Forged: a state nobody issued.
    let forged = Browser::new().open(&format!("{callback}?code=abc&state={}", "A".repeat(43)));
    assert_friendly_expired(&forged, "a forged state");
    let bare = Browser::new().open(&callback);
    assert_friendly_expired(&bare, "a callback without code or state");

    // Foreign (login CSRF): a callback URL from someone else's sign-in, opened in a browser
    // that did not start it, signs nobody in.
    let mut attacker = Browser::new();
    let stolen = attacker.sign_in_until(&p, &file, "bob", &callback);
    assert!(stolen.stopped);
    let mut victim = Browser::new();
    let page = victim.open(&stolen.url);
    assert_friendly_expired(&page, "a callback from another browser's sign-in");
    assert!(
        session_of(&victim).is_none(),
        "the victim is not signed in as bob"
    );

    // The provider says no (the user aborted): a friendly 403 page, not a bare error.
    let mut abort = Browser::new();
    let at_login = abort.open(&file);
    let state = at_login
        .authorization_request(&p)
        .and_then(|a| query_param(&a, "state"))
        .expect("a state in the authorization request");
    let denied = abort.open(&format!(
        "{callback}?error=access_denied&error_description=End-User+aborted+interaction&state={}",
        encode_query_component(&state)
    ));
    assert_eq!(denied.status(), 403, "{}", denied.describe());
    assert!(denied
        .response
        .header("content-type")
        .is_some_and(|c| c.contains("text/html")));
    assert_no_new_session(&denied.response, "a provider error");
}

/// The state expires after `state_ttl` (10 s, the least allowed) in the memory store. There
/// is no way to poll for it without using it up, so the test waits the TTL out.
#[test]
fn expired_state_gets_the_friendly_page_memory_store() {
    let Some((p, gw, file, ..)) = sso_gateway("sso-exp-mem", "state_ttl: 10s") else {
        return;
    };
    let mut b = Browser::new();
    let stop = b.sign_in_until(&p, &file, "alice", &gw.url(CALLBACK));
    assert!(stop.stopped, "{}", stop.describe());
    // The state was made before the sign-in stopped: 12 s from here is past its 10 s TTL however
    // slowly the sign-in went (the single-use state cannot be polled).
    std::thread::sleep(Duration::from_secs(12));
    let page = b.open(&stop.url);
    assert_friendly_expired(&page, "a callback after state_ttl");
    assert!(session_of(&b).is_none());
}

/// With Redis: a login in progress stores nothing there (issue 17, item 5: its state is in the
/// browser's sealed `_login` cookie, which lives `state_ttl` on the callback path). A browser
/// that keeps that cookie past its `Max-Age` still gets the friendly page: the expiry inside the
/// sealed state is checked too.
#[test]
fn expired_state_gets_the_friendly_page_redis_store() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let extra = format!("state_ttl: 10s\n{}", redis_store(&redis, "bg-exp:"));
    let Some((p, gw, file, ..)) = sso_gateway("sso-exp-redis", &extra) else {
        return;
    };
    let mut b = Browser::new();
    let stop = b.sign_in_until(&p, &file, "alice", &gw.url(CALLBACK));
    assert!(stop.stopped, "{}", stop.describe());
    let state = query_param(&stop.url, "state").expect("state");
    assert!(
        redis.keys().is_empty(),
        "nothing in Redis for a login in progress: {:?}",
        redis.keys()
    );
    let login = b
        .cookie("127.0.0.1", &format!("{COOKIE}_login"))
        .expect("the login cookie")
        .clone();
    assert_eq!(login.path, CALLBACK);
    assert!(login.http_only);
    let set = b.set_cookies_named(&format!("{COOKIE}_login"));
    assert_eq!(set[0].attr("max-age"), Some("10"), "{:?}", set[0]);
    for plain in [REPORT, state.as_str()] {
        assert!(
            !login.value.contains(plain),
            "the login cookie is sealed: {}",
            login.value
        );
    }
    // Past state_ttl, with the cookie kept anyway.
    std::thread::sleep(Duration::from_secs(12));
    b.add_cookie("127.0.0.1", &format!("{COOKIE}_login"), &login.value);
    let page = b.open(&stop.url);
    assert_friendly_expired(&page, "a callback after state_ttl, the cookie kept");
    assert!(session_of(&b).is_none());
    assert!(redis.keys().is_empty(), "{:?}", redis.keys());
}

// ---------------------------------------------------------------------------------------------
// Cookies: tampering and fixation.

#[test]
fn tampered_cookie_goes_back_to_login_and_ids_are_new_at_every_login() {
    let Some((p, _gw, file, _, report)) = sso_gateway("sso-tamper", "") else {
        return;
    };
    let mut b = signed_in(&p, &file, "alice");
    let good = session_of(&b).expect("a session cookie");

    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let tampered = [
        String::from_utf8(flipped).unwrap(),
        good[..good.len() - 1].to_string(),
        format!("{good}A"),
        "A".repeat(good.len()),
        String::new(),
        "../../../etc/passwd".into(),
        "%00%0d%0a".into(),
        "x".repeat(4000),
    ];
    for bad in &tampered {
        let what = format!("cookie {:?}", &bad[..bad.len().min(40)]);
        b.add_cookie("127.0.0.1", COOKIE, bad);
        let r = b.fetch("GET", &file, &[], None);
        assert_login_redirect(&r, &p, &what);
        assert!(r.body != report, "{what}: the file was served");
        let r = b.fetch("GET", &file, &[("Accept", "application/json")], None);
        assert_401_not_redirect(&r, &what);
    }
    // The untouched cookie still works: the refusals were about the tampering.
    b.add_cookie("127.0.0.1", COOKIE, &good);
    let r = b.fetch("GET", &file, &[], None);
    r.assert_status(200);
    assert!(r.body == report);

    // Signing in again gives a new id; the old session id is not reused.
    b.remove_cookie("127.0.0.1", COOKIE);
    b.sign_in(&p, &file, "alice").assert_status(200);
    let second = session_of(&b).expect("a new session cookie");
    assert_ne!(second, good, "a new session id at every login");

    // Fixation: a cookie planted before the sign-in is replaced, and stays worthless.
    let planted = format!("planted{}", "Q".repeat(40));
    let mut victim = Browser::new();
    victim.add_cookie("127.0.0.1", COOKIE, &planted);
    victim.sign_in(&p, &file, "alice").assert_status(200);
    let issued = session_of(&victim).expect("a session cookie");
    assert_ne!(issued, planted, "the planted id was adopted");
    let mut attacker = Browser::new();
    attacker.add_cookie("127.0.0.1", COOKIE, &planted);
    let r = attacker.fetch("GET", &file, &[], None);
    assert_login_redirect(&r, &p, "the planted id after the victim signed in");
}

// ---------------------------------------------------------------------------------------------
// No open redirect.

/// Whether a `Location` the gateway sent stays on the gateway or goes to the provider: a path
/// starting with a single `/` (no `//`, no `/\`), or an absolute URL on one of those origins.
fn safe_location(loc: &str, gw: &Gateway, p: &Provider) -> bool {
    if loc.chars().any(|c| c.is_control() || c == '\\') {
        return false;
    }
    if loc.starts_with('/') {
        return !loc.starts_with("//");
    }
    Url::parse(loc).is_some_and(|u| {
        u.scheme == "http" && (u.authority == gw.addr() || u.authority == p.addr())
    }) && !loc.contains('@')
}

/// Every redirect the gateway sent during the navigation passes [`safe_location`], and the
/// browser ended on the gateway or the provider.
#[track_caller]
fn assert_stays_home(page: &Page, gw: &Gateway, p: &Provider, what: &str) {
    for s in &page.trail {
        let from_gw = Url::parse(&s.url).is_some_and(|u| u.authority == gw.addr());
        if let (true, Some(loc)) = (from_gw, &s.raw_location) {
            assert!(
                safe_location(loc, gw, p),
                "{what}: the gateway redirected to {loc:?}:\n{}",
                page.describe()
            );
        }
    }
    let end = Url::parse(&page.url).expect("an absolute URL");
    assert!(
        end.authority == gw.addr() || end.authority == p.addr(),
        "{what}: the browser ended on {}:\n{}",
        page.url,
        page.describe()
    );
}

/// The gateway for the open-redirect tests.
fn redirect_env(prefix: &str) -> Option<(Provider, Gateway)> {
    sso_gateway(prefix, "").map(|(p, gw, ..)| (p, gw))
}

/// `rd` of the login and logout paths: hostile values are replaced, never followed.
#[test]
fn no_open_redirect_through_rd() {
    let Some((p, gw)) = redirect_env("sso-redir") else {
        return;
    };
    let port = gw.addr().rsplit(':').next().unwrap().to_string();
    let hostile = [
        "//evil.example".to_string(),
        "//evil.example/path".into(),
        "https://evil.example".into(),
        "https://evil.example/".into(),
        "http://evil.example/".into(),
        "/\\evil.example".into(),
        "\\\\evil.example".into(),
        "/%2F%2Fevil.example".into(),
        "/%5Cevil.example".into(),
        "https://127.0.0.1.evil.example/".into(),
        format!("http://evil.example@127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}@evil.example/"),
        "http:evil.example".into(),
        "javascript:alert(1)".into(),
        " //evil.example".into(),
        "\t//evil.example".into(),
        "/\t/evil.example".into(),
        "///evil.example".into(),
    ];
    let mut b = Browser::new();
    for rd in &hostile {
        let what = format!("login with rd={rd:?}");
        let url = gw.url(&format!("{LOGIN}?rd={}", encode_query_component(rd)));
        let page = b.sign_in(&p, &url, "alice");
        assert_stays_home(&page, &gw, &p, &what);
        assert!(
            session_of(&b).is_some(),
            "{what}: signed in:\n{}",
            page.describe()
        );

        let what = format!("logout with rd={rd:?}");
        let url = gw.url(&format!("{LOGOUT}?rd={}", encode_query_component(rd)));
        let confirm = b.open(&url);
        confirm.assert_status(200);
        let r = b.submit_once(&confirm);
        let loc = r.header("location").unwrap_or_default().to_string();
        assert!(
            r.status < 500 && safe_location(&loc, &gw, &p),
            "{what}: {} to {loc:?}",
            r.status
        );
        if let Some(post) = query_param(&loc, "post_logout_redirect_uri") {
            assert!(
                post.starts_with(&gw.url("/")),
                "{what}: post_logout_redirect_uri {post:?}"
            );
        }
        // Finish the logout (the next round signs in again).
        if let Some(next) = Url::parse(&gw.url("/")).and_then(|u| u.join(&loc)) {
            if next.authority == gw.addr() || next.authority == p.addr() {
                b.sign_out(&p, &next.to_url());
            }
        }
    }

    // A harmless rd is followed (the check above is not vacuous).
    let page = b.sign_in(&p, &gw.url(&format!("{LOGIN}?rd=%2F{REPORT}")), "alice");
    assert_eq!(
        page.url,
        gw.url(&format!("/{REPORT}")),
        "{}",
        page.describe()
    );
    page.assert_status(200);
}

/// The return URL of an unauthenticated request is its own path: a path that looks like a
/// scheme-relative URL (`//evil.example/x`) must not become a redirect off the site.
#[test]
fn no_open_redirect_through_the_return_path() {
    let Some((p, gw)) = redirect_env("sso-redir-path") else {
        return;
    };
    for path in [
        "//evil.example/x",
        "/\\evil.example/x",
        "//evil.example",
        "///evil.example",
    ] {
        let mut fresh = Browser::new();
        let page = fresh.sign_in(&p, &gw.url(path), "alice");
        assert_stays_home(&page, &gw, &p, &format!("returning to {path:?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Revocation.

/// alice signs in, keeps access through several re-checks, is revoked at the provider, and
/// loses access within the re-check interval (2 s here; polled, no timing assertion); carol,
/// signed in on another browser, keeps hers.
fn revoked_user_loses_access(method: &str) {
    let extra = format!("recheck: {{interval: 2s, method: {method}}}");
    let Some((p, gw, file, bucket, report)) = sso_gateway(&format!("sso-revoke-{method}"), &extra)
    else {
        return;
    };
    up_put_carol(&bucket);
    let mut alice = signed_in(&p, &file, "alice");
    let mut carol = signed_in(&p, &gw.url("/users/carol/c.txt"), "carol");

    // Re-checks that succeed keep the session (past 3 intervals, so the re-check did run).
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(7) {
        let r = alice.fetch("GET", &file, &[], None);
        assert_eq!(
            r.status,
            200,
            "alice lost access before being revoked ({method}): {:?} {}\nlog:\n{}",
            r.headers,
            r.text(),
            gw.log()
        );
        assert!(r.body == report);
        std::thread::sleep(Duration::from_millis(500));
    }

    p.revoke("alice");
    let mut last = Response::default();
    common::wait_until(
        &format!("alice to lose access after revocation ({method})"),
        Duration::from_secs(60),
        slowly(Duration::from_millis(250), || {
            last = alice.fetch("GET", &file, &[], None);
            last.status != 200
        }),
    );
    assert_login_redirect(&last, &p, "alice after revocation");
    let r = alice.fetch("GET", &file, &[("Accept", "application/json")], None);
    assert_401_not_redirect(&r, "alice after revocation, JSON");
    // Signing in again does not help: the provider refuses her.
    let page = alice.sign_in(&p, &file, "alice");
    assert!(
        p.owns(&page.url) && page.status() == 401,
        "a revoked user cannot sign in again:\n{}",
        page.describe()
    );
    assert!(page.response.body != report);

    // carol is untouched.
    let r = carol.fetch("GET", &gw.url("/users/carol/c.txt"), &[], None);
    r.assert_status(200);
    assert_eq!(r.body, b"carol's\n");
}

#[test]
fn revoked_user_loses_access_recheck_by_refresh() {
    revoked_user_loses_access("refresh");
}

#[test]
fn revoked_user_loses_access_recheck_by_userinfo() {
    revoked_user_loses_access("userinfo");
}

// ---------------------------------------------------------------------------------------------
// Minting sealed S3 keys.

/// The S3 route that mints keys: alice's claims grant read and list on `users/{sub}/`; only
/// example.com addresses may sign in. `{bucket}.localhost` is virtual-host addressing.
fn mint_config(bucket: &str, key: &str, issuer: &str, secret: &str) -> String {
    let preamble = preamble_for_upstream();
    format!(
        "{preamble}access_keys:
  sealing_keys:
    - {{id: k1, key: \"{key}\"}}
routes:
  - name: s3
    frontend: s3
    upstream: s3
    base_domains: [localhost]
    buckets:
      - name: \"{bucket}\"
    auth:
      - oidc:
          issuer: {issuer}
          client_id: {CLIENT_ID}
          client_secret: \"{secret}\"
          redirect_url: http://{{listen}}{CALLBACK}
          allow: {{email_domains: [example.com]}}
          grants:
            - {{bucket: \"{bucket}\", prefix: \"users/{{sub}}/\", operations: [read, list]}}
          mint_keys: {{ttl: 1h}}
"
    )
}

/// Runs `aws --endpoint-url <gw> <args>` with only the given keys (nothing from the machine's
/// AWS setup), SigV4, path-style; killed after 2 minutes.
/// `aws s3 cp` of alice's `users/alice/data.bin` in `bucket` down to `out` with the key.
fn aws_cp_alice_data(
    gw: &Gateway,
    key_id: &str,
    secret: &str,
    bucket: &str,
    out: &std::path::Path,
) -> std::process::Output {
    let src = format!("s3://{bucket}/users/alice/data.bin");
    let out = out.to_string_lossy();
    aws(
        gw,
        key_id,
        secret,
        &["s3", "cp", &src, &out, "--only-show-errors"],
    )
}

fn aws(gw: &Gateway, key_id: &str, secret: &str, args: &[&str]) -> std::process::Output {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n  addressing_style = path\n",
    )
    .unwrap();
    let mut cmd = Command::new("timeout");
    cmd.arg("120")
        .arg("aws")
        .arg("--endpoint-url")
        .arg(gw.url(""))
        .arg("--region")
        .arg("us-east-1")
        .args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", work.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .stdin(Stdio::null());
    cmd.output().expect("running aws")
}

fn show(o: &std::process::Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// For the minting tests: the AWS CLI (None, SKIPPED, without it), a fresh bucket named after
/// `prefix` holding `data` as alice's `users/alice/data.bin`, the provider and a gateway on
/// [`mint_config`]. Returns the provider, the gateway, the bucket and `data`.
fn mint_env(prefix: &str, data: Vec<u8>) -> Option<(Provider, Gateway, String, Vec<u8>)> {
    if !common::script::have_tool("aws", "pip install awscli") {
        return None;
    }
    let bucket = fresh_bucket(prefix);
    Upstream::get().put_object(&bucket, "users/alice/data.bin", &data, &[]);
    let key = sealing_key();
    let (p, mut gws) =
        start_sso(|issuer, secret| vec![mint_config(&bucket, &key, issuer, secret)])?;
    Some((p, gws.pop().expect("one gateway"), bucket, data))
}

#[test]
fn minted_key_works_with_awscli_and_stays_within_the_claims() {
    let Some((p, gw, bucket, data)) = mint_env("sso-mint", pattern(9, 70_000)) else {
        return;
    };
    let up = Upstream::get();
    up.put_object(&bucket, "users/bob/private.txt", b"bob only\n", &[]);

    // Signing in at `/<bucket>/?auth` ends on the key offer: a page with a button, no key.
    let mut b = Browser::new();
    let offer = b.sign_in(&p, &gw.url(&format!("/{bucket}/?auth")), "alice");
    offer.assert_status(200);
    assert!(offer.visited(&p), "{}", offer.describe());
    assert_html(&offer.response, "the key offer");
    assert!(
        offer.text().contains("method=\"post\"") && !offer.text().contains("aws_secret_access_key"),
        "a GET shows a button, never a key:\n{}",
        offer.text()
    );

    // Issue 17, item 1: no GET mints, whoever sends it: a plain GET with the cookie (what a
    // script on the sign-in host would `fetch`), a cross-site one, `?auth` or `?auth=json`.
    for (what, query, headers) in [
        ("GET ?auth with the cookie", "auth", vec![]),
        (
            "GET ?auth=json with the cookie",
            "auth=json",
            vec![("Accept", "application/json")],
        ),
        (
            "a cross-site GET of ?auth",
            "auth",
            vec![
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Mode", "navigate"),
            ],
        ),
        (
            "a cross-site fetch of ?auth=json",
            "auth=json",
            vec![
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Mode", "cors"),
                ("Origin", "http://evil.example"),
            ],
        ),
    ] {
        let r = b.fetch(
            "GET",
            &gw.url(&format!("/{bucket}/?{query}")),
            &headers,
            None,
        );
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        assert_no_key(&r, what);
    }
    // Nor a POST from another site, or without the offer's token, or with a wrong one.
    let (action, origin, _) = common::oidc::post_form(&offer);
    let plain = gw.url(&format!("/{bucket}/?auth"));
    let wrong = gw.url(&format!("/{bucket}/?auth&csrf={}", "A".repeat(43)));
    for (what, target, headers) in [
        (
            "a cross-site POST with the token",
            action.as_str(),
            vec![
                ("Origin", "http://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "document"),
            ],
        ),
        (
            "a same-origin fetch() with the token",
            action.as_str(),
            vec![
                ("Origin", origin.as_str()),
                ("Sec-Fetch-Site", "same-origin"),
                ("Sec-Fetch-Mode", "cors"),
                ("Sec-Fetch-Dest", "empty"),
            ],
        ),
        ("a POST without the token", plain.as_str(), vec![]),
        ("a POST with a wrong token", wrong.as_str(), vec![]),
    ] {
        let r = b.fetch("POST", target, &headers, Some(b""));
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert_no_key(&r, what);
    }

    // The button: a same-origin POST with the token gives the key page.
    let page = b.submit(None, &offer);
    page.assert_status(200);
    let html = page.text();
    assert_html(&page.response, "the key page");
    assert!(
        page.response
            .header("cache-control")
            .is_some_and(|c| c.contains("no-store")),
        "the key page is not cached: {:?}",
        page.response.headers
    );
    for needle in [
        "aws configure",
        "aws_access_key_id",
        "aws_secret_access_key",
    ] {
        assert!(
            html.contains(needle),
            "the key page shows {needle:?}:\n{html}"
        );
    }

    // The key on the page works for a SigV4 request (alice's file), and only within her grants.
    let page_key = key_from_page(&html);
    let s3 = common::s3::S3Client::new(gw.addr(), &page_key.0, &page_key.1);
    let got = s3.get(&format!("/{bucket}/users/alice/data.bin"));
    got.assert_status(200);
    assert!(got.body == data, "the page's key read alice's data");
    assert_eq!(
        s3.get(&format!("/{bucket}/users/bob/private.txt")).status,
        403,
        "the page's key is alice's"
    );

    // Scripts: `?auth=json` gives the token and the URL to POST; the POST gives the key.
    let (key_id, secret) = mint_json(&mut b, &gw.url(&format!("/{bucket}/?auth=json")));
    assert!(
        !html.contains(&secret),
        "every mint is a new key (the HTML page showed another one)"
    );

    // awscli downloads with it and lists alice's prefix.
    let work = tempfile::tempdir().unwrap();
    let out_file = work.path().join("data.bin");
    let o = aws_cp_alice_data(&gw, &key_id, &secret, &bucket, &out_file);
    assert!(
        o.status.success(),
        "aws s3 cp down: {}\n{}",
        show(&o),
        gw.log()
    );
    assert!(
        std::fs::read(&out_file).unwrap() == data,
        "downloaded bytes differ"
    );
    let o = aws(
        &gw,
        &key_id,
        &secret,
        &["s3", "ls", &format!("s3://{bucket}/users/alice/")],
    );
    assert!(o.status.success(), "aws s3 ls: {}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("data.bin"),
        "{}",
        show(&o)
    );

    // Outside the claims' grants: bob's file, writing, listing the bucket root.
    let bobs = format!("s3://{bucket}/users/bob/private.txt");
    let denied = work.path().join("bob.txt").to_string_lossy().to_string();
    let o = aws(&gw, &key_id, &secret, &["s3", "cp", &bobs, &denied]);
    assert!(
        !o.status.success(),
        "alice's minted key read bob's file: {}",
        show(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("403")
            || String::from_utf8_lossy(&o.stderr).contains("AccessDenied")
            || String::from_utf8_lossy(&o.stderr).contains("Forbidden"),
        "refused as access denied: {}",
        show(&o)
    );
    assert!(
        !std::path::Path::new(&denied).exists() || std::fs::read(&denied).unwrap() != b"bob only\n"
    );
    let upload = work.path().join("up.txt");
    std::fs::write(&upload, b"should not land").unwrap();
    let o = aws(
        &gw,
        &key_id,
        &secret,
        &[
            "s3",
            "cp",
            &upload.to_string_lossy(),
            &format!("s3://{bucket}/users/alice/up.txt"),
        ],
    );
    assert!(
        !o.status.success(),
        "a read-only minted key wrote: {}",
        show(&o)
    );
    assert!(up.get_object(&bucket, "users/alice/up.txt").is_none());

    // A tampered key id or a wrong secret is refused.
    let mut wrong = secret.clone();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
    let src = format!("s3://{bucket}/users/alice/data.bin");
    let out_path = out_file.to_string_lossy().to_string();
    let o = aws(&gw, &key_id, &wrong, &["s3", "cp", &src, &out_path]);
    assert!(!o.status.success(), "a wrong secret worked: {}", show(&o));

    // Scripts: a fresh browser asking for JSON ends its sign-in on the JSON offer, and mints.
    let mut sc = Browser::new();
    let page = sc.sign_in(&p, &gw.url(&format!("/{bucket}/?auth=json")), "alice");
    page.assert_status(200);
    let j = page.response.json();
    assert!(
        j["csrf_token"].is_string() && j["mint_url"].is_string(),
        "{j}"
    );
    assert!(j.get("secret_access_key").is_none(), "{j}");
    let (id2, _) = mint_json(&mut sc, &gw.url(&format!("/{bucket}/?auth=json")));
    assert!(id2.starts_with("BG1"), "{id2}");

    // bob is not allowed (email domain): no key.
    let mut bob = Browser::new();
    let page = bob.sign_in(&p, &gw.url(&format!("/{bucket}/?auth=json")), "bob");
    assert_eq!(page.status(), 403, "{}", page.describe());
    assert!(
        !page.text().contains("secret_access_key"),
        "{}",
        page.text()
    );
}

/// The access key id and secret that the HTML key page shows (its `aws configure` lines).
fn key_from_page(html: &str) -> (String, String) {
    let value = |name: &str| {
        html.lines()
            .find_map(|l| {
                l.trim()
                    .trim_start_matches("<pre>")
                    .strip_prefix(&format!("aws configure set {name} "))
                    .map(str::to_owned)
            })
            .and_then(|rest| rest.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| panic!("no {name} on the key page:\n{html}"))
    };
    (value("aws_access_key_id"), value("aws_secret_access_key"))
}

/// `r` carries no minted key (neither as JSON nor on a page).
#[track_caller]
fn assert_no_key(r: &Response, what: &str) {
    let text = r.text();
    assert!(
        !text.contains("secret_access_key")
            && !text.contains("aws_secret_access_key")
            && !text.contains("BG1"),
        "{what}: a key was minted:\n{text}"
    );
}

/// A script's mint: GET `url` (`.../?auth=json`) with the browser's session for the CSRF
/// token and the URL to POST, then the POST (no browser headers, as curl sends it). The key id
/// and secret.
#[track_caller]
fn mint_json(b: &mut Browser, url: &str) -> (String, String) {
    let offer = b.fetch("GET", url, &[("Accept", "application/json")], None);
    offer.assert_status(200);
    let o = offer.json();
    assert_eq!(o["method"], "POST", "{o}");
    let post = Url::parse(url)
        .and_then(|u| u.join(o["mint_url"].as_str().expect("mint_url")))
        .expect("an absolute mint URL")
        .to_url();
    let r = b.fetch("POST", &post, &[("Accept", "application/json")], Some(b""));
    r.assert_status(200);
    assert!(r
        .header("cache-control")
        .is_some_and(|c| c.contains("no-store")));
    let minted = r.json();
    let expires = minted["expires_at"].as_str().expect("expires_at");
    assert!(
        expires.ends_with('Z') && expires.len() >= 20,
        "RFC 3339 UTC: {expires}"
    );
    assert_eq!(minted["subject"], "alice");
    (
        minted["access_key_id"]
            .as_str()
            .expect("access_key_id")
            .to_string(),
        minted["secret_access_key"]
            .as_str()
            .expect("secret_access_key")
            .to_string(),
    )
}

/// The virtual-host form, `http://<bucket>.localhost:PORT/?auth` (`*.localhost` is loopback,
/// as in browsers), gives a key too.
#[test]
fn minted_key_from_the_virtual_host_form() {
    let Some((p, gw, bucket, data)) = mint_env("sso-mint-vh", pattern(10, 5_000)) else {
        return;
    };
    let port = gw.addr().rsplit(':').next().unwrap().to_string();
    let work = tempfile::tempdir().unwrap();
    let out_file = work.path().join("data.bin");
    let mut v = Browser::new();
    let page = v.sign_in(
        &p,
        &format!("http://{bucket}.localhost:{port}/?auth=json"),
        "alice",
    );
    page.assert_status(200);
    // The sign-in hopped to the callback's host, and ends on the JSON offer there.
    assert!(page.url.starts_with(&gw.url("/")), "{}", page.describe());
    let (vid, vsecret) = mint_json(&mut v, &page.url);
    let o = aws_cp_alice_data(&gw, &vid, &vsecret, &bucket, &out_file);
    assert!(
        o.status.success(),
        "the virtual-host minted key: {}",
        show(&o)
    );
    assert!(std::fs::read(&out_file).unwrap() == data);
}

// ---------------------------------------------------------------------------------------------
// Nothing of the sign-in reaches the upstream.

#[test]
fn no_cookie_or_token_reaches_the_upstream() {
    let rec = Recorder::start_with_response(
        200,
        &[("Content-Type", "application/pdf")],
        b"recorded report\n",
    );
    let key = sealing_key();
    let bucket = "sso-recorded";
    let Some((p, gws)) = start_sso(|issuer, secret| {
        let yaml = files_config(bucket, &key, &oidc_section(issuer, secret, bucket, ""))
            .replace("{upstream}", &rec.endpoint());
        vec![yaml]
    }) else {
        return;
    };
    let gw = &gws[0];
    let file = gw.url(&format!("/{REPORT}"));
    let mut b = Browser::new();
    let page = b.sign_in(&p, &file, "alice");
    page.assert_status(200);
    assert_eq!(page.response.body, b"recorded report\n");
    let r = b.fetch("GET", &file, &[("Range", "bytes=0-3")], None);
    assert!(r.status == 200 || r.status == 206, "{}", r.status);
    b.fetch("HEAD", &file, &[], None).assert_status(200);
    let session = session_of(&b).expect("a session cookie");
    let cb = page
        .trail
        .iter()
        .find(|s| s.url.starts_with(&gw.url(CALLBACK)))
        .expect("a callback")
        .url
        .clone();
    let code = query_param(&cb, "code").unwrap();
    let state = query_param(&cb, "state").unwrap();
    b.log_out(&p, &gw.url(LOGOUT));

    // Nor into the gateway's log (written after each response: wait for the last one).
    let log = gw.wait_for_log("public/bye.txt", Duration::from_secs(5));
    for secret in [session.as_str(), code.as_str(), p.client_secret(), "eyJ"] {
        assert!(
            !log.contains(secret),
            "{secret:?} is in the gateway log:\n{log}"
        );
    }

    let seen = rec.wait_for_requests(3, Duration::from_secs(5));
    assert!(
        seen.iter()
            .any(|r| r.method == "GET" && r.target.starts_with(&format!("/{bucket}/{REPORT}"))),
        "the recorder saw the download (positive control): {seen:?}"
    );
    for r in &seen {
        assert!(
            !r.target.contains("_bucketgate")
                && !r.target.contains("code=")
                && !r.target.contains("state="),
            "a sign-in request reached the upstream: {} {}",
            r.method,
            r.target
        );
        assert!(
            !r.has_header("cookie"),
            "Cookie reached the upstream: {r:?}"
        );
        let auth = r.header("authorization").unwrap_or_default();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential="),
            "only bucketgate's own signature goes upstream: {auth}"
        );
        for (name, value) in &r.headers {
            for secret in [
                session.as_str(),
                code.as_str(),
                state.as_str(),
                p.client_secret(),
                COOKIE,
                "eyJ",
                "alice@example.com",
            ] {
                assert!(
                    !value.contains(secret),
                    "{secret:?} reached the upstream in {name}: {value}"
                );
            }
        }
    }
}

/// An HS256 token for `sub`, valid for an hour, signed with `secret`.
fn hs256_token(secret: &str, sub: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": sub, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// `unauthenticated: deny` and `redirect`, and a `jwt` entry after `oidc`: a request with an
/// `Authorization` header and no session is left to the next plugin, so API clients with
/// Bearer tokens share a route with browsers.
#[test]
fn unauthenticated_modes_and_a_jwt_after_oidc() {
    let (bucket, report) = seeded_bucket("sso-modes");
    let key = sealing_key();
    let jwt_secret = "an-hs256-secret-of-at-least-32-bytes!!";
    let Some((p, gws)) = start_sso(|issuer, secret| {
        let deny_then_jwt = format!(
            "{}      - jwt:
          keys: [{{algorithm: HS256, secret: \"{jwt_secret}\"}}]
          grants:
            - {{bucket: \"{bucket}\", prefix: \"users/{{sub}}/\", operations: [read]}}
",
            oidc_section(issuer, secret, &bucket, "unauthenticated: deny")
        );
        vec![
            files_config(&bucket, &key, &deny_then_jwt),
            files_config(
                &bucket,
                &key,
                &oidc_section(issuer, secret, &bucket, "unauthenticated: redirect"),
            ),
        ]
    }) else {
        return;
    };
    let (deny, redirect) = (&gws[0], &gws[1]);
    let path = format!("/{REPORT}");

    // deny: even a browser GET gets 401, never a redirect.
    let r = Browser::new().fetch("GET", &deny.url(&path), &[], None);
    assert_401_not_redirect(&r, "unauthenticated: deny");

    // A Bearer token and no session: the jwt plugin decides.
    let good = format!("Bearer {}", hs256_token(jwt_secret, "alice"));
    let r = client::request(deny.addr(), "GET", &path, &[("Authorization", &good)], None);
    assert_eq!(r.status, 200, "jwt after oidc: {}", r.text());
    assert!(r.body == report, "alice's report through the jwt plugin");
    // ... which still refuses a bad token and applies its own grants.
    let forged = format!(
        "Bearer {}",
        hs256_token("another-secret-of-at-least-32-bytes!!!", "alice")
    );
    let r = client::request(
        deny.addr(),
        "GET",
        &path,
        &[("Authorization", &forged)],
        None,
    );
    assert_eq!(
        r.status,
        401,
        "a token signed with another secret: {}",
        r.text()
    );
    let bob = format!("Bearer {}", hs256_token(jwt_secret, "bob"));
    let r = client::request(deny.addr(), "GET", &path, &[("Authorization", &bob)], None);
    assert_eq!(r.status, 403, "bob's token on alice's file: {}", r.text());

    // redirect: even a request asking for JSON goes to the sign-in.
    let r = Browser::new().fetch(
        "GET",
        &redirect.url(&path),
        &[("Accept", "application/json")],
        None,
    );
    assert_login_redirect(
        &r,
        &p,
        "unauthenticated: redirect, Accept: application/json",
    );
}
