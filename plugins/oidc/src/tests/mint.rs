//! Key minting (issue 17, item 1): a GET never mints, only a same-origin POST with the
//! session's CSRF token does.

use bucketgate_plugin::Plugin;

use super::support::*;

const MINT: &str = "mint_keys: {ttl: 2h}\nrecheck: {interval: 0s}";

/// The offer page's form action for session `id` on `target` (a GET).
async fn offer_action(s: &Setup, target: &str, id: &str) -> String {
    let r = s.answer(&with_session(target, id, "text/html")).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    form_action(body(&r))
}

#[tokio::test]
async fn a_get_never_mints_it_offers_a_form_that_posts() {
    let (_idp, s) = with_idp(MINT);
    let id = s.insert_session(|_| {}).await;
    // A browser: a page with a button, nothing minted.
    let r = s
        .answer(&with_session("/data/?auth", &id, "text/html"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&r.headers, "referrer-policy"), Some("same-origin"));
    let csp = header(&r.headers, "content-security-policy").unwrap();
    assert!(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"));
    let page = body(&r);
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert!(!page.contains("BG1TEST") && !page.contains("minted-secret"));
    let action = form_action(page);
    assert!(action.starts_with("/data/?auth&csrf="), "{action}");
    // A script: the token and the URL to POST to, as JSON; nothing minted either.
    let r = s
        .answer(&with_session("/data/?auth=json", &id, "*/*"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.headers, "content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["subject"], "alice");
    assert_eq!(v["method"], "POST");
    let token = v["csrf_token"].as_str().unwrap();
    let mint_url = v["mint_url"].as_str().unwrap();
    assert!(mint_url.starts_with("/data/?auth=json&csrf="), "{mint_url}");
    assert_eq!(url_param(mint_url, "csrf").as_deref(), Some(token));
    assert!(v.get("secret_access_key").is_none());
    // A cross-site GET (the XSS -> fetch('/?auth=json') chain, or a link from another site),
    // HEAD, and the old `Accept: application/json` form: offers only.
    for req in [
        request(
            "GET",
            "/data/?auth=json",
            &[
                ("cookie", &format!("bucketgate_session={id}")),
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "cors"),
            ],
        ),
        request(
            "HEAD",
            "/data/?auth",
            &[("cookie", &format!("bucketgate_session={id}"))],
        ),
        with_session("/?auth", &id, "application/json"),
    ] {
        let r = s.answer(&req).await;
        assert_eq!(r.status, 200);
        assert!(!body(&r).contains("minted-secret"));
    }
    assert!(s.minter.calls.lock().unwrap().is_empty(), "no GET minted");
    // Not for other methods.
    assert!(s
        .plugin
        .respond(&request("PUT", "/data/?auth", &[]))
        .await
        .is_none());
}

#[tokio::test]
async fn a_same_origin_post_with_the_token_mints() {
    let (_idp, s) = with_idp(MINT);
    let id = s.insert_session(|_| {}).await;
    // A browser presses the button.
    let action = offer_action(&s, "/data/?auth", &id).await;
    let r = s
        .answer(&post_with_session(&action, &id, &form_post_headers(SITE)))
        .await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert!(header(&r.headers, "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    assert!(body(&r).contains("aws configure set aws_access_key_id BG1TESTalice"));
    assert!(body(&r).contains("https://files.example.com"));
    // A script (no browser headers at all) with the token from the JSON offer.
    let r = s
        .answer(&with_session("/data/?auth=json", &id, "*/*"))
        .await;
    let offer: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let url = offer["mint_url"].as_str().unwrap();
    let r = s.answer(&post_with_session(url, &id, &[])).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(header(&r.headers, "content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["access_key_id"], "BG1TESTalice");
    assert_eq!(v["secret_access_key"], "minted-secret");
    assert_eq!(v["subject"], "alice");
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
    let calls = s.minter.calls.lock().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].2, std::time::Duration::from_secs(7200));
}

#[tokio::test]
async fn posts_without_the_token_or_from_elsewhere_mint_nothing() {
    let (_idp, s) = with_idp(MINT);
    let id = s.insert_session(|_| {}).await;
    let other = s.insert_session(|_| {}).await;
    let action = offer_action(&s, "/data/?auth", &id).await;
    let others_action = offer_action(&s, "/data/?auth", &other).await;
    let form = form_post_headers(SITE);
    let with = |extra: &[(&'static str, &str)]| {
        let mut h = form.clone();
        for (k, v) in extra {
            h.retain(|(name, _)| name != k);
            h.push((*k, v.to_string()));
        }
        h
    };
    for (what, target, headers) in [
        ("no token", "/data/?auth".to_string(), form.clone()),
        (
            "an empty token",
            "/data/?auth&csrf=".to_string(),
            form.clone(),
        ),
        (
            "a wrong token",
            format!(
                "/data/?auth&csrf={}",
                crate::records::random_token().unwrap()
            ),
            form.clone(),
        ),
        (
            "another session's token",
            others_action.clone(),
            form.clone(),
        ),
        (
            "the sign-out token",
            format!(
                "/data/?auth&csrf={}",
                s.plugin.csrf.token(crate::csrf::LOGOUT, &id).unwrap()
            ),
            form.clone(),
        ),
        (
            "cross-site",
            action.clone(),
            with(&[("sec-fetch-site", "cross-site")]),
        ),
        (
            "same-site, another origin",
            action.clone(),
            with(&[("sec-fetch-site", "same-site")]),
        ),
        (
            "another Origin",
            action.clone(),
            with(&[("origin", "https://evil.example")]),
        ),
        ("Origin null", action.clone(), with(&[("origin", "null")])),
        (
            "a script's fetch",
            action.clone(),
            with(&[("sec-fetch-mode", "cors"), ("sec-fetch-dest", "empty")]),
        ),
        (
            "a form aimed at a frame",
            action.clone(),
            with(&[("sec-fetch-dest", "iframe")]),
        ),
    ] {
        let r = s.answer(&post_with_session(&target, &id, &headers)).await;
        assert_eq!(r.status, 403, "{what}: {}", body(&r));
        assert!(!body(&r).contains("minted-secret"), "{what}");
    }
    // The token without the session, or with a dead one: sign in first.
    let no_session = request("POST", &action, &[("accept", "application/json")]);
    let r = s.answer(&no_session).await;
    assert_eq!(r.status, 401);
    let dead = crate::records::random_token().unwrap();
    let r = s.answer(&post_with_session(&action, &dead, &form)).await;
    assert_eq!(r.status, 401);
    assert!(s.minter.calls.lock().unwrap().is_empty(), "nothing minted");
    // The same request, properly made, does mint (the refusals above were the checks').
    let r = s.answer(&post_with_session(&action, &id, &form)).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.minter.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn minting_without_a_session_starts_a_login_back_to_the_offer() {
    let (_idp, s) = with_idp("mint_keys: {}");
    let r = s.answer(&get("/data/?auth=json")).await;
    assert_eq!(r.status, 302);
    let rec = s.state(&login_of(&r.headers));
    assert_eq!(rec.return_url, "/data/?auth=json");
    // A token in the URL is not carried into the login.
    let r = s.answer(&get("/data/?auth&csrf=abc")).await;
    assert_eq!(s.state(&login_of(&r.headers)).return_url, "/data/?auth");
    assert!(s.minter.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_user_this_route_does_not_allow_gets_no_offer_and_no_key() {
    let (_idp, s) = with_idp(&format!("{MINT}\nallow: {{groups: [admins]}}"));
    let id = s
        .insert_session(|r| {
            r.claims
                .insert("groups".into(), serde_json::json!(["staff"]));
        })
        .await;
    let r = s
        .answer(&with_session("/data/?auth", &id, "text/html"))
        .await;
    assert_eq!(r.status, 403);
    let token = s.plugin.csrf.token(crate::csrf::MINT, &id).unwrap();
    let r = s
        .answer(&post_with_session(
            &format!("/data/?auth&csrf={token}"),
            &id,
            &form_post_headers(SITE),
        ))
        .await;
    assert_eq!(r.status, 403);
    assert!(s.minter.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_a_minter_auth_is_not_ours() {
    let idp = Idp::start(true);
    let cfg = config(&idp.issuer, "mint_keys: {}");
    let plugin = crate::OidcPlugin::with_store(
        &cfg,
        crate::Context {
            session_key: zeroize::Zeroizing::new(KEY),
            minter: None,
        },
        std::sync::Arc::new(crate::MemoryStore::default()),
    )
    .unwrap();
    assert!(plugin.respond(&get("/data/?auth")).await.is_none());
    assert!(plugin
        .respond(&request("POST", "/data/?auth", &[]))
        .await
        .is_none());
}

#[tokio::test]
async fn the_virtual_host_form_signs_in_on_the_callback_host() {
    let (idp, s) = with_idp("mint_keys: {}");
    let vhost = request(
        "GET",
        "/?auth=json",
        &[("host", "data.files.example.com"), ("accept", "text/html")],
    );
    let r = s.answer(&vhost).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        header(&r.headers, "location"),
        Some("https://files.example.com/_bucketgate/oidc/login?rd=%2F%3Fauth%3Djson")
    );
    assert!(
        set_cookies(&r.headers).is_empty(),
        "no cookie for the wrong host"
    );
    assert!(idp.hits.lock().unwrap().is_empty());
    // There, the login returns to the offer on the callback host.
    let r = s
        .answer(&request(
            "GET",
            "/_bucketgate/oidc/login?rd=%2F%3Fauth%3Djson",
            &[("host", "files.example.com")],
        ))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(s.state(&login_of(&r.headers)).return_url, "/?auth=json");
}
