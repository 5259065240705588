//! Requests with and without a session: browsers and the rest, other plugins' credentials,
//! tampered or expired cookies, and the periodic re-check (refresh, userinfo, provider down).

use bucketgate_plugin::{Plugin, Verdict};
use serde_json::json;

use super::support::*;
use crate::records::{self, Mode};

#[tokio::test]
async fn browsers_without_a_session_go_to_the_login_returning_to_their_page() {
    let (idp, s) = with_idp("");
    let r = rejection(s.auth(&get("/data/report.pdf?v=2")).await);
    assert_eq!(r.status, 302);
    let location = header(&r.headers, "location").unwrap();
    assert!(location.starts_with(&format!("{}/auth?", idp.issuer)));
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    assert!(header(&r.headers, "content-type").is_none());
    let state = url_param(location, "state").unwrap();
    let rec = s.state(&state).await.unwrap();
    assert_eq!(rec.return_url, "/data/report.pdf?v=2");
    assert_eq!(rec.mode, Mode::Session);
    assert!(cookie_value(&r.headers, "bucketgate_session_login").is_some());
}

#[tokio::test]
async fn non_browsers_get_401_and_other_credentials_are_not_mine() {
    let (idp, s) = with_idp("");
    for req in [
        request("GET", "/data/x", &[("accept", "application/json")]),
        request("GET", "/data/x", &[("x-requested-with", "XMLHttpRequest")]),
        request("PUT", "/data/x", &[("accept", "text/html")]),
        request("POST", "/data/x", &[]),
    ] {
        // A sign-in answer, never a failed attempt, and the plugin says it has none.
        let verdict = s.auth(&req).await;
        assert!(matches!(verdict, Verdict::SignIn(_)), "{verdict:?}");
        let r = rejection(verdict);
        assert_eq!(r.status, 401, "{} {:?}", req.method, req.headers);
        assert_eq!(
            header(&r.headers, "www-authenticate"),
            Some("OIDC realm=\"bucketgate\"")
        );
    }
    let bearer = request("GET", "/data/x", &[("authorization", "Bearer abc")]);
    assert_eq!(s.auth(&bearer).await, Verdict::NotMine);
    // A stale cookie does not stop another plugin's credentials either.
    let stale = request(
        "GET",
        "/data/x",
        &[
            ("authorization", "Basic YTpi"),
            (
                "cookie",
                &format!("bucketgate_session={}", records::random_token().unwrap()),
            ),
        ],
    );
    assert_eq!(s.auth(&stale).await, Verdict::NotMine);
    assert!(s.plugin.challenge().is_none());
    assert!(!s.plugin.counts_failed_attempts());
    assert_eq!(idp.hits.lock().unwrap().len(), 0, "a 401 needs no provider");

    let deny = setup(&idp.issuer, "unauthenticated: deny");
    assert_eq!(rejection(deny.auth(&get("/x")).await).status, 401);
    let redirect = setup(&idp.issuer, "unauthenticated: redirect");
    assert_eq!(
        rejection(redirect.auth(&request("PUT", "/x", &[])).await).status,
        302
    );
}

#[tokio::test]
async fn tampered_unknown_and_expired_cookies_are_no_session() {
    let (_idp, s) = with_idp("recheck: {interval: 0s}");
    let id = s.insert_session(|_| {}).await;
    assert!(matches!(
        s.auth(&with_session("/x", &id, "application/json")).await,
        Verdict::Authenticated(_)
    ));
    let mut flipped = id.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [
        flipped.as_str(),
        &id[..42],
        &format!("{id}A"),
        "",
        "../../etc/passwd",
        &records::random_token().unwrap(),
    ] {
        let r = rejection(s.auth(&with_session("/x", bad, "application/json")).await);
        assert_eq!(r.status, 401, "{bad:?}");
    }
    // A browser with a dead cookie goes back to the login, and the dead cookie is cleared.
    let r = rejection(s.auth(&with_session("/x", &flipped, "text/html")).await);
    assert_eq!(r.status, 302);
    assert!(set_cookies(&r.headers)
        .iter()
        .any(|c| c.starts_with("bucketgate_session=;") && c.contains("Max-Age=0")));

    let expired = s
        .insert_session(|r| r.expires_at = records::now() - 1)
        .await;
    assert_eq!(s.api_refusal(&expired).await, 401);
}

#[tokio::test]
async fn a_session_record_altered_in_the_store_is_refused() {
    let (_idp, s) = with_idp("recheck: {interval: 0s}");
    let id = s.insert_session(|_| {}).await;
    let key = records::session_key(&id);
    use crate::store::SessionStore;
    let mut raw = s.store.get(&key).await.unwrap().unwrap();
    raw[30] ^= 1;
    s.store
        .put(&key, raw, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(s.api_refusal(&id).await, 401);
}

#[tokio::test]
async fn recheck_by_refresh_keeps_good_users_and_drops_revoked_ones() {
    let (idp, s) = with_idp("recheck: {interval: 60s}");
    let stale = records::now() - 61;
    let id = s.insert_checked_at(stale, Some("rt-1")).await;
    // The provider refreshes: new tokens, a new ID token for the same subject.
    idp.answer_tokens(
        json!({"email": "alice@example.com", "groups": ["x"]}),
        Some("rt-2"),
    );
    assert!(s.browser_signed_in(&id).await);
    let sent = idp.hits_on("/token");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("grant_type=refresh_token") && sent[0].contains("refresh_token=rt-1"));
    let rec = s.session(&id).await.unwrap();
    assert_eq!(rec.refresh_token.as_deref(), Some("rt-2"));
    assert_eq!(rec.claims["groups"], json!(["x"]));
    assert!(rec.last_ok >= records::now() - 1);
    // Not due again: no provider call.
    assert!(s.browser_signed_in(&id).await);
    assert_eq!(idp.hits_on("/token").len(), 1);

    // Revoked: the next due re-check is refused and the session is gone.
    let id = s.insert_checked_at(stale, Some("rt-1")).await;
    idp.set("/token", 400, r#"{"error":"invalid_grant"}"#);
    assert_eq!(s.api_refusal(&id).await, 401);
    assert!(s.session(&id).await.is_none(), "deleted");
}

#[tokio::test]
async fn a_refreshed_token_for_another_subject_or_no_longer_allowed_ends_the_session() {
    let (idp, s) = with_idp("recheck: {interval: 60s}\nallow: {groups: [staff]}");
    let stale = records::now() - 61;
    let make = || s.insert_checked_at(stale, Some("rt"));
    let id = make().await;
    idp.answer_tokens(json!({"sub": "mallory", "groups": ["staff"]}), None);
    assert_eq!(s.api_refusal(&id).await, 401);
    let id = make().await;
    idp.answer_tokens(json!({"groups": []}), None);
    assert_eq!(s.api_refusal(&id).await, 401);
    assert!(s.session(&id).await.is_none());
}

#[tokio::test]
async fn recheck_by_userinfo() {
    let (idp, s) = with_idp("recheck: {interval: 60s, method: userinfo}");
    let stale = records::now() - 61;
    let session = |refresh: bool| s.insert_checked_at(stale, refresh.then_some("rt"));
    idp.set("/me", 200, r#"{"sub":"alice"}"#);
    let id = session(true).await;
    assert!(s.browser_signed_in(&id).await);
    assert_eq!(idp.hits_on("/me").len(), 1);
    assert!(idp.hits_on("/token").is_empty(), "userinfo, not refresh");
    // Userinfo for another subject, or a 401: the session ends.
    idp.set("/me", 200, r#"{"sub":"mallory"}"#);
    let id = session(false).await;
    assert_eq!(s.api_refusal(&id).await, 401);
    idp.set("/me", 401, r#"{"error":"invalid_token"}"#);
    let id = session(false).await;
    assert_eq!(s.api_refusal(&id).await, 401);
    assert!(s.session(&id).await.is_none());

    // The default method (refresh) falls back to userinfo without a refresh token.
    let d = setup(&idp.issuer, "recheck: {interval: 60s}");
    idp.set("/me", 200, r#"{"sub":"alice"}"#);
    let id = d.insert_checked_at(stale, None).await;
    let before = idp.hits_on("/me").len();
    assert!(d.browser_signed_in(&id).await);
    assert_eq!(idp.hits_on("/me").len(), before + 1);
}

#[tokio::test]
async fn provider_trouble_keeps_serving_within_three_intervals_then_refuses() {
    let (idp, s) = with_idp("recheck: {interval: 60s, method: userinfo}");
    idp.set("/me", 503, "unavailable");
    let now = records::now();
    let recent = s.insert_checked_at(now - 61, None).await;
    assert!(s.browser_signed_in(&recent).await);
    let rec = s.session(&recent).await.unwrap();
    assert!(rec.last_check > rec.last_ok, "the failure is recorded");
    let old = s.insert_checked_at(now - 181, None).await;
    assert_eq!(s.api_refusal(&old).await, 401);
}

#[tokio::test]
async fn recheck_off_never_calls_the_provider() {
    let (idp, s) = with_idp("recheck: {interval: 0s}");
    let id = s.insert_checked_at(0, None).await;
    assert!(s.browser_signed_in(&id).await);
    assert!(idp.hits.lock().unwrap().is_empty());
    // And the plugin answers nothing itself for ordinary paths.
    assert!(
        s.plugin.respond(&get("/data/x?auth")).await.is_none(),
        "no mint_keys"
    );
    assert!(s.plugin.respond(&get("/data/x")).await.is_none());
}
