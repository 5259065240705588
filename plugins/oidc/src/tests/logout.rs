//! Logout (issue 17, item 9): a GET only confirms; a same-origin POST with the session's CSRF
//! token signs out, here and at the provider.

use bucketgate_plugin::Verdict;

use super::support::*;

#[tokio::test]
async fn a_get_shows_a_confirmation_and_signs_nobody_out() {
    let (_idp, s) = with_idp("");
    let id = s.insert_session(|_| {}).await;
    for req in [
        with_session("/_bucketgate/oidc/logout?rd=%2Fbye", &id, "text/html"),
        // From another site (a link, an <img>): the same.
        request(
            "GET",
            "/_bucketgate/oidc/logout",
            &[
                ("cookie", &format!("bucketgate_session={id}")),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
    ] {
        let r = s.answer(&req).await;
        assert_eq!(r.status, 200, "{}", body(&r));
        assert!(set_cookies(&r.headers).is_empty(), "no cookie cleared");
        assert_eq!(header(&r.headers, "referrer-policy"), Some("same-origin"));
        assert!(body(&r).contains("<form method=\"post\""));
        assert!(s.session(&id).await.is_some(), "still signed in");
    }
    let r = s
        .answer(&with_session(
            "/_bucketgate/oidc/logout?rd=%2Fbye",
            &id,
            "text/html",
        ))
        .await;
    let action = form_action(body(&r));
    assert!(
        action.starts_with("/_bucketgate/oidc/logout?rd=%2Fbye&csrf="),
        "{action}"
    );
    assert!(s.browser_signed_in(&id).await);
}

#[tokio::test]
async fn a_same_origin_post_with_the_token_signs_out_here_and_at_the_provider() {
    let (idp, s) = with_idp("");
    let token = idp.id_token(serde_json::json!({}));
    let id = s.insert_session(|r| r.id_token = Some(token.clone())).await;
    let page = s
        .answer(&with_session(
            "/_bucketgate/oidc/logout?rd=%2Fbye",
            &id,
            "text/html",
        ))
        .await;
    let action = form_action(body(&page));
    let r = s
        .answer(&post_with_session(&action, &id, &form_post_headers(SITE)))
        .await;
    assert_eq!(r.status, 303, "{}", body(&r));
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
}

#[tokio::test]
async fn posts_without_the_token_or_from_another_site_sign_nobody_out() {
    let (idp, s) = with_idp("");
    let id = s.insert_session(|_| {}).await;
    let other = s.insert_session(|_| {}).await;
    let good = s.plugin.csrf.token(crate::csrf::LOGOUT, &id).unwrap();
    let others = s.plugin.csrf.token(crate::csrf::LOGOUT, &other).unwrap();
    let form = form_post_headers(SITE);
    let mut cross = form.clone();
    cross.retain(|(k, _)| *k != "sec-fetch-site" && *k != "origin");
    cross.push(("sec-fetch-site", "cross-site".into()));
    cross.push(("origin", "https://evil.example".into()));
    for (what, target, headers) in [
        (
            "no token",
            "/_bucketgate/oidc/logout".to_string(),
            form.clone(),
        ),
        (
            "a wrong token",
            "/_bucketgate/oidc/logout?csrf=AAAA".to_string(),
            form.clone(),
        ),
        (
            "another session's token",
            format!("/_bucketgate/oidc/logout?csrf={others}"),
            form.clone(),
        ),
        (
            "cross-site, with the right token",
            format!("/_bucketgate/oidc/logout?csrf={good}"),
            cross,
        ),
    ] {
        let r = s.answer(&post_with_session(&target, &id, &headers)).await;
        assert_eq!(r.status, 403, "{what}");
        assert!(set_cookies(&r.headers).is_empty(), "{what}");
        assert!(s.session(&id).await.is_some(), "{what}: still signed in");
    }
    assert!(idp.hits_on("/session/end").is_empty());
    let r = s
        .answer(&request("DELETE", "/_bucketgate/oidc/logout", &[]))
        .await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn logout_without_a_session_or_end_session_redirects_locally() {
    let idp = Idp::start(false);
    let s = setup(&idp.issuer, "post_logout_url: /goodbye");
    // No session: nothing to forge, no token needed; still same-origin only.
    let r = s
        .answer(&request("POST", "/_bucketgate/oidc/logout", &[]))
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(header(&r.headers, "location"), Some("/goodbye"));
    let id = s.insert_session(|_| {}).await;
    let token = s.plugin.csrf.token(crate::csrf::LOGOUT, &id).unwrap();
    let r = s
        .answer(&post_with_session(
            &format!("/_bucketgate/oidc/logout?csrf={token}"),
            &id,
            &[],
        ))
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(header(&r.headers, "location"), Some("/goodbye"));
    assert!(s.session(&id).await.is_none());
    // An open-redirect rd becomes "/".
    let r = s
        .answer(&request(
            "POST",
            "/_bucketgate/oidc/logout?rd=%2F%2Fevil.example",
            &[],
        ))
        .await;
    assert_eq!(header(&r.headers, "location"), Some("/"));
    let r = s
        .answer(&request(
            "POST",
            "/_bucketgate/oidc/logout?rd=https%3A%2F%2Fevil.example%2F",
            &[],
        ))
        .await;
    assert_eq!(header(&r.headers, "location"), Some("/"));
    let r = s
        .answer(&request(
            "POST",
            "/_bucketgate/oidc/logout",
            &[("sec-fetch-site", "cross-site")],
        ))
        .await;
    assert_eq!(r.status, 403);
}
