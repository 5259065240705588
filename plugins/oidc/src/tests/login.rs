//! Starting a login: the redirect to the provider, the state record, the binding cookie.

use super::support::*;
use crate::records::{digest, Mode};

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

    let binding_cookie = set_cookies(&r.headers)
        .into_iter()
        .find(|c| c.starts_with("bucketgate_session_login="))
        .unwrap();
    assert!(
        binding_cookie.contains(&format!("Path={CALLBACK}")),
        "{binding_cookie}"
    );
    assert!(binding_cookie.contains("Max-Age=60"));
    assert!(binding_cookie.contains("HttpOnly") && binding_cookie.contains("SameSite=Lax"));
    assert!(
        !binding_cookie.contains("Secure"),
        "plain http, no trusted proxy"
    );
    let binding = cookie_value(&r.headers, "bucketgate_session_login").unwrap();

    let rec = s.state(&state).await.expect("a state record");
    assert_eq!(rec.return_url, "/report.pdf?x=1");
    assert_eq!(rec.mode, Mode::Session);
    assert_eq!(rec.nonce, nonce);
    assert_eq!(rec.binding, digest(&binding));
    assert!(!location.contains(&rec.pkce_verifier));
    // S256: the challenge is the verifier's SHA-256.
    assert_eq!(challenge, digest(&rec.pkce_verifier));
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
        assert_eq!(s.state(&login.state).await.unwrap().return_url, "/", "{rd}");
    }
    let login = start_login(
        &s,
        "/_bucketgate/oidc/login?rd=https%3A%2F%2Ffiles.example.com%2Fa%3Fb",
    )
    .await;
    assert_eq!(s.state(&login.state).await.unwrap().return_url, "/a?b");
    let login = start_login(&s, "/_bucketgate/oidc/login").await;
    assert_eq!(s.state(&login.state).await.unwrap().return_url, "/");
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
