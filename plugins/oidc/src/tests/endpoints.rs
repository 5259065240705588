//! Logout (local and at the provider) and key minting.

use bucketgate_plugin::{Plugin, Verdict};

use super::support::*;
use crate::records::Mode;

#[tokio::test]
async fn logout_ends_the_session_and_goes_through_end_session() {
    let (idp, s) = with_idp("");
    let token = idp.id_token(serde_json::json!({}));
    let id = s.insert_session(|r| r.id_token = Some(token.clone())).await;
    let r = s
        .answer(&with_session(
            "/_bucketgate/oidc/logout?rd=%2Fbye",
            &id,
            "text/html",
        ))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    assert!(s.session(&id).await.is_none(), "deleted locally");
    let cleared = set_cookies(&r.headers);
    assert!(cleared[0].starts_with("bucketgate_session=; Path=/; Max-Age=0"));
    let location = header(&r.headers, "location").unwrap();
    assert!(
        location.starts_with(&format!("{}/session/end?", idp.issuer)),
        "{location}"
    );
    assert_eq!(url_param(location, "id_token_hint"), Some(token));
    assert_eq!(url_param(location, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        url_param(location, "post_logout_redirect_uri").unwrap(),
        format!("{SITE}/bye")
    );
    // The old cookie no longer works.
    assert!(matches!(
        s.auth(&with_session("/x", &id, "application/json")).await,
        Verdict::SignIn(_)
    ));
    // No rd: post_logout_url; an open-redirect rd becomes "/".
    let r = s.answer(&get("/_bucketgate/oidc/logout")).await;
    assert_eq!(
        location_param(&r.headers, "post_logout_redirect_uri"),
        format!("{SITE}/")
    );
    let r = s
        .answer(&get(
            "/_bucketgate/oidc/logout?rd=https%3A%2F%2Fevil.example%2F",
        ))
        .await;
    assert_eq!(
        location_param(&r.headers, "post_logout_redirect_uri"),
        format!("{SITE}/")
    );
    let r = s
        .answer(&request("DELETE", "/_bucketgate/oidc/logout", &[]))
        .await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn logout_without_end_session_redirects_locally() {
    let idp = Idp::start(false);
    let s = setup(&idp.issuer, "post_logout_url: /goodbye");
    let id = s.insert_session(|_| {}).await;
    let r = s
        .answer(&request(
            "POST",
            "/_bucketgate/oidc/logout",
            &[("cookie", &format!("bucketgate_session={id}"))],
        ))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(header(&r.headers, "location"), Some("/goodbye"));
    assert!(s.session(&id).await.is_none());
    let r = s
        .answer(&get("/_bucketgate/oidc/logout?rd=%2F%2Fevil.example"))
        .await;
    assert_eq!(header(&r.headers, "location"), Some("/"));
}

#[tokio::test]
async fn minting_with_a_session_answers_the_key_now() {
    let (_idp, s) = with_idp("mint_keys: {ttl: 2h}\nrecheck: {interval: 0s}");
    let id = s.insert_session(|_| {}).await;
    let r = s
        .answer(&with_session("/data/?auth=json", &id, "*/*"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.headers, "content-type"), Some("application/json"));
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["access_key_id"], "BG1TESTalice");
    assert_eq!(v["secret_access_key"], "minted-secret");
    assert_eq!(v["subject"], "alice");
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
    // Accept: application/json asks for JSON too; a browser gets HTML.
    let r = s
        .answer(&with_session("/?auth", &id, "application/json"))
        .await;
    assert_eq!(header(&r.headers, "content-type"), Some("application/json"));
    let r = s
        .answer(&with_session("/data/?auth", &id, "text/html"))
        .await;
    assert!(header(&r.headers, "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(body(&r).contains("aws configure set aws_access_key_id BG1TESTalice"));
    assert!(body(&r).contains("https://files.example.com"));
    assert_eq!(s.minter.calls.lock().unwrap().len(), 3);
    assert_eq!(
        s.minter.calls.lock().unwrap()[0].2,
        std::time::Duration::from_secs(7200)
    );
    // Not for other methods.
    assert!(s
        .plugin
        .respond(&request("PUT", "/data/?auth", &[]))
        .await
        .is_none());
}

#[tokio::test]
async fn minting_without_a_session_starts_a_mint_login() {
    let (_idp, s) = with_idp("mint_keys: {}");
    let r = s.answer(&get("/data/?auth=json")).await;
    assert_eq!(r.status, 302);
    let state = location_param(&r.headers, "state");
    let rec = s.state(&state).await.unwrap();
    assert_eq!(rec.mode, Mode::Mint { json: true });
    assert_eq!(rec.return_url, "/data/?auth=json");
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
        Some("https://files.example.com/_bucketgate/oidc/login?rd=%2F%3Fauth%3Djson&mint=json")
    );
    assert!(
        set_cookies(&r.headers).is_empty(),
        "no cookie for the wrong host"
    );
    assert!(idp.hits.lock().unwrap().is_empty());
    // There, the login is a mint login.
    let r = s
        .answer(&request(
            "GET",
            "/_bucketgate/oidc/login?rd=%2F%3Fauth%3Djson&mint=json",
            &[("host", "files.example.com")],
        ))
        .await;
    assert_eq!(r.status, 302);
    let state = location_param(&r.headers, "state");
    assert_eq!(
        s.state(&state).await.unwrap().mode,
        Mode::Mint { json: true }
    );
    // Without a minter, `mint` on the login path is an ordinary login.
    let plain = setup(&idp.issuer, "");
    let r = plain
        .answer(&get("/_bucketgate/oidc/login?mint=json"))
        .await;
    let state = location_param(&r.headers, "state");
    assert_eq!(plain.state(&state).await.unwrap().mode, Mode::Session);
}
