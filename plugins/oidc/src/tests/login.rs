//! Starting a login: the redirect to the provider, and the login state in the browser's sealed
//! cookie (nothing in the store, however many anonymous logins start).

use std::sync::Arc;

use bucketgate_plugin::{Plugin, Verdict};

use super::support::*;
use crate::records::digest;
use crate::store::MemoryStore;

#[tokio::test]
async fn login_redirects_to_the_provider_with_pkce_state_and_nonce() {
    let (idp, s) = with_idp("");
    let r = s
        .answer(&get("/_bucketgate/oidc/login?rd=%2Freport.pdf%3Fx%3D1"))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    let location = header(&r.headers, "location").unwrap();
    assert!(
        location.starts_with(&format!("{}/auth?", idp.issuer)),
        "{location}"
    );
    assert_eq!(url_param(location, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        url_param(location, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        url_param(location, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        url_param(location, "redirect_uri").unwrap(),
        format!("{SITE}{CALLBACK}")
    );
    assert_eq!(
        url_param(location, "scope").as_deref(),
        Some("openid email profile")
    );
    let state = url_param(location, "state").unwrap();
    let nonce = url_param(location, "nonce").unwrap();
    let challenge = url_param(location, "code_challenge").unwrap();
    assert_ne!(state, nonce);

    let login_cookie = set_cookies(&r.headers)
        .into_iter()
        .find(|c| c.starts_with("bucketgate_session_login="))
        .unwrap();
    assert!(
        login_cookie.contains(&format!("Path={CALLBACK}")),
        "{login_cookie}"
    );
    assert!(login_cookie.contains("Max-Age=60"));
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Lax"));
    assert!(
        !login_cookie.contains("Secure"),
        "plain http, no trusted proxy"
    );
    assert!(login_cookie.len() < 1024, "{}", login_cookie.len());

    let login = login_of(&r.headers);
    let rec = s.state(&login);
    assert_eq!(rec.state, state);
    assert_eq!(rec.return_url, "/report.pdf?x=1");
    assert_eq!(rec.nonce, nonce);
    assert!(!location.contains(&rec.pkce_verifier));
    // Sealed: neither the verifier nor the nonce nor the return URL shows in the cookie.
    for secret in [&rec.pkce_verifier, &rec.nonce, &"report.pdf".to_string()] {
        assert!(!login.cookie.contains(secret.as_str()));
    }
    // S256: the challenge is the verifier's SHA-256.
    assert_eq!(challenge, digest(&rec.pkce_verifier));
    assert_eq!(s.store.live(), 0, "nothing stored for a login in progress");
}

/// Issue 17, item 5: a flood of anonymous requests (each starting a login) must never crowd out
/// sessions. The store here holds 50 entries; the old code put a state record there for every
/// login, so after the flood new sign-ins failed with 503. Now a login's state is in the
/// browser's cookie: the store keeps only sessions.
#[tokio::test]
async fn a_flood_of_anonymous_logins_stores_nothing_and_sessions_keep_working() {
    let idp = Idp::start(true);
    let store = Arc::new(MemoryStore::new(50));
    let s = setup_on(&idp.issuer, "recheck: {interval: 0s}", store);
    let existing = s.insert_session(|_| {}).await;
    for i in 0..5000 {
        // Half at the login path, half as browsers asking for a file without a session.
        let status = if i % 2 == 0 {
            s.answer(&get("/_bucketgate/oidc/login?rd=%2Fx"))
                .await
                .status
        } else {
            rejection(s.auth(&get(&format!("/data/f{i}"))).await).status
        };
        assert_eq!(status, 302, "request {i}");
    }
    assert_eq!(s.store.live(), 1, "only the session that was there");
    assert!(
        s.browser_signed_in(&existing).await,
        "the session still works"
    );
    // And a new sign-in completes.
    let login = start_login(&s, "/_bucketgate/oidc/login?rd=%2Fdoc").await;
    let nonce = s.state(&login).nonce;
    idp.answer_tokens(serde_json::json!({"nonce": nonce}), None);
    let r = s.callback(&login).await;
    assert_eq!(r.status, 302, "{}", body(&r));
    assert_eq!(header(&r.headers, "location"), Some("/doc"));
    let id = cookie_value(&r.headers, "bucketgate_session").unwrap();
    assert!(matches!(
        s.plugin
            .authenticate(&with_session("/doc", &id, "text/html"))
            .await,
        Verdict::Authenticated(_)
    ));
    assert_eq!(s.store.live(), 2);
}

#[tokio::test]
async fn a_long_return_url_keeps_the_cookie_small() {
    let (_idp, s) = with_idp("");
    let long = format!("/data/{}?{}", "a".repeat(100), "q".repeat(5000));
    let r = rejection(s.auth(&get(&long)).await);
    let login = Login {
        state: url_param(header(&r.headers, "location").unwrap(), "state").unwrap(),
        cookie: cookie_value(&r.headers, "bucketgate_session_login").unwrap(),
        location: String::new(),
    };
    assert!(login.cookie.len() < 3500, "{}", login.cookie.len());
    assert_eq!(
        s.state(&login).return_url,
        format!("/data/{}", "a".repeat(100))
    );
    let r = rejection(s.auth(&get(&format!("/{}", "p".repeat(3000)))).await);
    let cookie = cookie_value(&r.headers, "bucketgate_session_login").unwrap();
    assert!(cookie.len() < 1024);
}

#[tokio::test]
async fn login_return_urls_never_leave_the_site() {
    let (idp, s) = with_idp("");
    for rd in [
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%252F%252Fevil",
        "https%3A%2F%2Ffiles.example.com.evil.example%2F",
    ] {
        let login = start_login(&s, &format!("/_bucketgate/oidc/login?rd={rd}")).await;
        assert_eq!(s.state(&login).return_url, "/", "{rd}");
    }
    let login = start_login(
        &s,
        "/_bucketgate/oidc/login?rd=https%3A%2F%2Ffiles.example.com%2Fa%3Fb",
    )
    .await;
    assert_eq!(s.state(&login).return_url, "/a?b");
    let login = start_login(&s, "/_bucketgate/oidc/login").await;
    assert_eq!(s.state(&login).return_url, "/");
    assert!(login.location.starts_with(&idp.issuer));
}

#[tokio::test]
async fn cookies_are_secure_over_tls_or_a_trusted_proxy_only() {
    let (idp, s) = with_idp("trusted_proxies: [127.0.0.0/8]");
    let mut tls = get("/_bucketgate/oidc/login");
    tls.tls = true;
    let r = s.answer(&tls).await;
    assert!(set_cookies(&r.headers)[0].ends_with("; Secure"));
    let proxied = request(
        "GET",
        "/_bucketgate/oidc/login",
        &[("x-forwarded-proto", "https")],
    );
    let r = s.answer(&proxied).await;
    assert!(set_cookies(&r.headers)[0].ends_with("; Secure"));

    let untrusted = setup(&idp.issuer, "trusted_proxies: [10.0.0.0/8]");
    let r = untrusted.answer(&proxied).await;
    assert!(
        !set_cookies(&r.headers)[0].contains("Secure"),
        "peer 127.0.0.1 is not trusted"
    );
    let always = setup(&idp.issuer, "cookie: {secure: always}");
    let r = always.answer(&get("/_bucketgate/oidc/login")).await;
    assert!(set_cookies(&r.headers)[0].ends_with("; Secure"));
}

#[tokio::test]
async fn provider_down_is_a_friendly_503() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let s = setup(&issuer, "");
    let r = s.answer(&get("/_bucketgate/oidc/login")).await;
    assert_eq!(r.status, 503);
    assert!(body(&r).contains("Sign-in service unavailable"));
    assert_eq!(s.store.live(), 0, "no state stored");
}

#[tokio::test]
async fn discovery_is_fetched_once_and_cached() {
    let (idp, s) = with_idp("");
    start_login(&s, "/_bucketgate/oidc/login").await;
    start_login(&s, "/_bucketgate/oidc/login").await;
    assert_eq!(idp.hits_on("/.well-known/openid-configuration").len(), 1);
    assert_eq!(idp.hits_on("/jwks").len(), 1);
}

#[tokio::test]
async fn a_wrong_issuer_in_discovery_is_refused() {
    let idp = Idp::start(true);
    idp.set(
        "/.well-known/openid-configuration",
        200,
        serde_json::json!({
            "issuer": "https://evil.example",
            "authorization_endpoint": "https://evil.example/auth",
            "jwks_uri": format!("{}/jwks", idp.issuer),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
        .to_string(),
    );
    let s = setup(&idp.issuer, "");
    let r = s.answer(&get("/_bucketgate/oidc/login")).await;
    assert_eq!(r.status, 503);
}
