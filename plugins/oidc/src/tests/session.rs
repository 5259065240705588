//! Requests with and without a session: browsers and the rest, other plugins' credentials,
//! tampered or expired cookies, and the periodic re-check (refresh, userinfo, provider down).

use std::sync::Arc;

use bucketgate_plugin::{Grant, Operation, Plugin, Verdict};
use serde_json::json;

use super::support::*;
use crate::records;
use crate::store::MemoryStore;

#[tokio::test]
async fn browsers_without_a_session_go_to_the_login_returning_to_their_page() {
    let (idp, s) = with_idp("");
    let r = rejection(s.auth(&get("/data/report.pdf?v=2")).await);
    assert_eq!(r.status, 302);
    let location = header(&r.headers, "location").unwrap();
    assert!(location.starts_with(&format!("{}/auth?", idp.issuer)));
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    assert!(header(&r.headers, "content-type").is_none());
    let rec = s.state(&login_of(&r.headers));
    assert_eq!(rec.return_url, "/data/report.pdf?v=2");
}

/// Issue 17, item 2: routes `/admin` (`allow: {groups: [admins]}`) and `/home` (no allow) on
/// the same provider client and cookie. The old code bound sessions to the issuer and client
/// only, and checked `allow` at sign-in only, so a `/home` session got `/admin`'s grants.
#[tokio::test]
async fn a_session_of_one_route_set_is_not_a_session_of_a_stricter_one() {
    let idp = Idp::start(true);
    let store = Arc::new(MemoryStore::default());
    let recheck = "recheck: {interval: 0s}\n";
    let home = setup_on(&idp.issuer, recheck, store.clone());
    let admin = setup_on(
        &idp.issuer,
        &format!(
            "{recheck}allow: {{groups: [admins]}}\ngrants: [{{bucket: admin, prefix: \"\", operations: [read, write]}}]"
        ),
        store.clone(),
    );
    // bob signs in on /home; he is not in admins.
    let bob = home
        .insert_session(|r| {
            r.subject = "bob".into();
            r.claims.insert("sub".into(), json!("bob"));
            r.claims.insert("groups".into(), json!(["staff"]));
        })
        .await;
    assert!(home.browser_signed_in(&bob).await);
    // On /admin, his cookie is no session: an API client gets 401, a browser the login (which
    // the provider answers for bob, and the callback refuses him by /admin's allow).
    assert_eq!(admin.api_refusal(&bob).await, 401);
    let r = rejection(
        admin
            .auth(&with_session("/admin/x", &bob, "text/html"))
            .await,
    );
    assert_eq!(r.status, 302);
    // Even a record that opens on /admin is held against /admin's allow on every request: an
    // admin session whose claims lost the group (the rules changed, a refresh) is refused
    // with 403, and that is not a failed attempt.
    let demoted = admin
        .insert_session(|r| {
            r.claims.insert("groups".into(), json!(["staff"]));
        })
        .await;
    let v = admin
        .auth(&with_session("/admin/x", &demoted, "text/html"))
        .await;
    assert!(matches!(&v, Verdict::SignIn(r) if r.status == 403), "{v:?}");
    // A real admin gets in, with /admin's grants; the same person on /home gets /home's.
    let carol = admin
        .insert_session(|r| {
            r.claims.insert("groups".into(), json!(["admins"]));
        })
        .await;
    match admin
        .auth(&with_session("/admin/x", &carol, "text/html"))
        .await
    {
        Verdict::Authenticated(who) => assert_eq!(
            who.grants,
            vec![Grant::new(
                "admin",
                "",
                &[Operation::Read, Operation::Write]
            )]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(home.api_refusal(&carol).await, 401, "bound to /admin's set");
}

/// Routes that agree on provider, client, cookie and rules share sessions; each one's grants
/// come from its own templates, on every request.
#[tokio::test]
async fn routes_of_one_set_share_sessions_with_their_own_grants() {
    let idp = Idp::start(true);
    let store = Arc::new(MemoryStore::default());
    let a = setup_on(&idp.issuer, "recheck: {interval: 0s}", store.clone());
    let b = setup_on(
        &idp.issuer,
        "recheck: {interval: 0s}\ngrants: [{bucket: other, prefix: \"{sub}/\", operations: [read]}]",
        store,
    );
    let id = a.insert_session(|_| {}).await;
    match b.auth(&with_session("/b/x", &id, "text/html")).await {
        Verdict::Authenticated(who) => {
            assert_eq!(
                who.grants,
                vec![Grant::new("other", "alice/", &[Operation::Read])]
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A session id copied into another route's cookie name is no session there.
#[tokio::test]
async fn a_session_id_under_another_cookie_name_is_no_session() {
    let idp = Idp::start(true);
    let store = Arc::new(MemoryStore::default());
    let home = setup_on(&idp.issuer, "recheck: {interval: 0s}", store.clone());
    let admin = setup_on(
        &idp.issuer,
        "recheck: {interval: 0s}\ncookie: {name: admin_session}",
        store,
    );
    let id = home.insert_session(|_| {}).await;
    assert!(home.browser_signed_in(&id).await);
    let copied = request(
        "GET",
        "/admin/x",
        &[
            ("accept", "application/json"),
            ("cookie", &format!("admin_session={id}")),
        ],
    );
    assert_eq!(rejection(admin.auth(&copied).await).status, 401);
}

/// An unverified email fills no `{email}` grant (issue 17, item 6), unless the provider opts
/// out for a missing claim.
#[tokio::test]
async fn unverified_emails_fill_no_grants() {
    let (idp, s) = with_idp(
        "recheck: {interval: 0s}\ngrants: [{bucket: data, prefix: \"{email}/\", operations: [read]}]",
    );
    let opted = setup(
        &idp.issuer,
        "recheck: {interval: 0s}\nemail_verified: when_present\ngrants: [{bucket: data, prefix: \"{email}/\", operations: [read]}]",
    );
    let want = vec![Grant::new("data", "alice@example.com/", &[Operation::Read])];
    for (plugin, verified, expect) in [
        (&s, Some(json!(true)), want.clone()),
        (&s, None, vec![]),
        (&s, Some(json!(false)), vec![]),
        (&opted, None, want.clone()),
        (&opted, Some(json!(false)), vec![]),
    ] {
        let id = plugin
            .insert_session(|r| match &verified {
                Some(v) => {
                    r.claims.insert("email_verified".into(), v.clone());
                }
                None => {
                    r.claims.remove("email_verified");
                }
            })
            .await;
        match plugin.auth(&with_session("/x", &id, "text/html")).await {
            Verdict::Authenticated(who) => assert_eq!(who.grants, expect, "{verified:?}"),
            other => panic!("{other:?}"),
        }
    }
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
