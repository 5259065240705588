//! The Redis store against a real `redis-server` (started here on a free port; skipped loudly
//! when the binary is missing, a failure in CI), and two plugin instances sharing sessions.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketgate_plugin::{Plugin, Verdict};

use super::support::*;
use crate::records::{self, LoginState, Records};
use crate::store::{RedisStore, SessionStore, StoreError};
use crate::{Context, OidcPlugin};

struct RedisServer {
    child: Child,
    url: String,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh redis-server, or None (SKIPPED) when it is not installed outside CI.
fn redis_server() -> Option<RedisServer> {
    let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("redis-server is required in CI");
        }
        eprintln!("SKIPPED: redis-server not installed (apt-get install redis-server)");
        return None;
    };
    let port = free_port();
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = RedisServer {
        child,
        url: format!("redis://127.0.0.1:{port}/0"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(server)
}

fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_semantics_prefix_and_ttl() {
    let Some(server) = redis_server() else { return };
    let store = RedisStore::new(&server.url, "bgtest:").unwrap();
    let hour = Duration::from_secs(3600);
    store.put("a", b"1".to_vec(), hour).await.unwrap();
    assert_eq!(store.get("a").await.unwrap(), Some(b"1".to_vec()));
    let mut con = raw(&server.url);
    let pttl: i64 = redis::cmd("PTTL").arg("bgtest:a").query(&mut con).unwrap();
    assert!(pttl > 0 && pttl <= 3_600_000, "a TTL is set: {pttl}");
    assert_eq!(store.take("a").await.unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.take("a").await.unwrap(), None, "take is single-use");
    assert_eq!(store.get("a").await.unwrap(), None);
    store.put("b", vec![0, 255, 7], hour).await.unwrap();
    store.delete("b").await.unwrap();
    assert_eq!(store.get("b").await.unwrap(), None);
    store.delete("never").await.unwrap();
    // Every key is under the prefix.
    store.put("c", b"x".to_vec(), hour).await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert_eq!(keys, vec!["bgtest:c".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_takes_of_one_state_yield_it_once() {
    let Some(server) = redis_server() else { return };
    let store = Arc::new(RedisStore::new(&server.url, "").unwrap());
    for round in 0..20 {
        let key = format!("state:{round}");
        store
            .put(&key, b"s".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        let takes = (0..4).map(|_| {
            let s = Arc::clone(&store);
            let k = key.clone();
            tokio::spawn(async move { s.take(&k).await.unwrap() })
        });
        let mut got = 0;
        for t in takes {
            if t.await.unwrap().is_some() {
                got += 1;
            }
        }
        assert_eq!(got, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_an_error_not_a_panic() {
    let port = free_port();
    let store = RedisStore::new(&format!("redis://127.0.0.1:{port}/0"), "").unwrap();
    match store.get("a").await {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("Redis"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(store
        .put("a", vec![1], Duration::from_secs(1))
        .await
        .is_err());
    assert!(RedisStore::new("not a url", "").is_err());
    // Through the plugin: a 503, not a crash.
    let idp = Idp::start(true);
    let s = OidcPlugin::new(
        &config(
            &idp.issuer,
            &format!("session_store: {{redis: {{url: \"redis://127.0.0.1:{port}/0\"}}}}"),
        ),
        Context {
            session_key: zeroize::Zeroizing::new(KEY),
            minter: None,
        },
    )
    .unwrap();
    let id = records::random_token().unwrap();
    match s.authenticate(&with_session("/x", &id, "text/html")).await {
        Verdict::Reject(r) => assert_eq!(r.status, 503),
        other => panic!("{other:?}"),
    }
    // Starting a login needs no store (the state is in the browser's cookie).
    let r = s.respond(&get("/_bucketgate/oidc/login")).await.unwrap();
    assert_eq!(r.status, 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_and_records_are_sealed_at_rest() {
    let Some(server) = redis_server() else { return };
    let idp = Idp::start(true);
    let yaml = format!(
        "session_store: {{redis: {{url: \"{}\", prefix: \"bg:\"}}}}\nrecheck: {{interval: 0s}}",
        server.url
    );
    let instance = || {
        OidcPlugin::new(
            &config(&idp.issuer, &yaml),
            Context {
                session_key: zeroize::Zeroizing::new(KEY),
                minter: None,
            },
        )
        .unwrap()
    };
    let (a, b) = (instance(), instance());
    // A login started on one instance is finished on the other: the state travels in the
    // browser's cookie, which every instance with the same key opens.
    let r = a
        .respond(&get("/_bucketgate/oidc/login?rd=%2Fdoc"))
        .await
        .unwrap();
    assert_eq!(r.status, 302);
    let login = login_of(&r.headers);
    let shared = Records::new(
        Arc::new(RedisStore::new(&server.url, "bg:").unwrap()),
        &KEY,
        &config(&idp.issuer, &yaml).session_binding(),
    );
    let rec: LoginState = shared
        .open_cookie("bucketgate_session_login", &login.cookie)
        .unwrap();
    let token = idp.id_token(serde_json::json!({"nonce": rec.nonce}));
    idp.set(
        "/token",
        200,
        idp.token_answer(&token, Some("refresh-secret")),
    );
    let r = b
        .respond(&callback_request(&login, "code=c", None))
        .await
        .unwrap();
    assert_eq!(r.status, 302, "{}", body(&r));
    let id = cookie_value(&r.headers, "bucketgate_session").unwrap();
    for instance in [&a, &b] {
        match instance
            .authenticate(&with_session("/doc", &id, "text/html"))
            .await
        {
            Verdict::Authenticated(who) => assert_eq!(who.subject, "alice"),
            other => panic!("{other:?}"),
        }
    }
    // At rest: no token, no cookie value, no subject in clear.
    let mut con = raw(&server.url);
    let keys: Vec<String> = redis::cmd("KEYS").arg("bg:*").query(&mut con).unwrap();
    assert!(!keys.is_empty());
    for k in &keys {
        assert!(!k.contains(&id), "the raw session id is never a key");
        let v: Vec<u8> = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        for secret in [token.as_bytes(), b"refresh-secret", b"at-1", b"alice"] {
            assert!(!v.windows(secret.len()).any(|w| w == secret), "{k}");
        }
    }
    // A third instance with another session key cannot read them.
    let other = OidcPlugin::new(
        &config(&idp.issuer, &yaml),
        Context {
            session_key: zeroize::Zeroizing::new([9u8; 32]),
            minter: None,
        },
    )
    .unwrap();
    assert!(matches!(
        other.authenticate(&with_session("/doc", &id, "application/json")).await,
        Verdict::SignIn(r) if r.status == 401
    ));
    // Logout on one instance (its page, then the POST) ends it on both.
    let page = b
        .respond(&with_session("/_bucketgate/oidc/logout", &id, "text/html"))
        .await
        .unwrap();
    let r = b
        .respond(&post_with_session(
            &form_action(body(&page)),
            &id,
            &form_post_headers(SITE),
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 303, "{}", body(&r));
    assert!(matches!(
        a.authenticate(&with_session("/doc", &id, "application/json")).await,
        Verdict::SignIn(r) if r.status == 401
    ));
}

fn redis_plugin(url: &str, issuer: &str, extra: &str) -> OidcPlugin {
    OidcPlugin::new(
        &config(
            issuer,
            &format!("session_store: {{redis: {{url: \"{url}\", prefix: \"bg:\"}}}}\n{extra}"),
        ),
        Context {
            session_key: zeroize::Zeroizing::new(KEY),
            minter: None,
        },
    )
    .unwrap()
}

/// A full sign-in on `p` (login, provider, callback): the session cookie's value.
async fn sign_in(p: &OidcPlugin, idp: &Idp, claims: serde_json::Value, binding: &str) -> String {
    let r = p
        .respond(&get("/_bucketgate/oidc/login?rd=%2Fdoc"))
        .await
        .unwrap();
    let login = login_of(&r.headers);
    let records = Records::new(Arc::new(crate::MemoryStore::default()), &KEY, binding);
    let rec: LoginState = records
        .open_cookie("bucketgate_session_login", &login.cookie)
        .unwrap();
    let mut claims = claims;
    claims["nonce"] = serde_json::json!(rec.nonce);
    idp.answer_tokens(claims, None);
    let r = p
        .respond(&callback_request(&login, "code=c", None))
        .await
        .unwrap();
    assert_eq!(r.status, 302, "{}", body(&r));
    cookie_value(&r.headers, "bucketgate_session").unwrap()
}

fn count_keys(url: &str) -> usize {
    let keys: Vec<String> = redis::cmd("KEYS").arg("bg:*").query(&mut raw(url)).unwrap();
    keys.len()
}

/// Issue 17, item 5, with Redis (which had no cap at all): thousands of anonymous logins write
/// no key; a session made before still works and a new sign-in completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_anonymous_logins_writes_nothing_to_redis() {
    let Some(server) = redis_server() else { return };
    let idp = Idp::start(true);
    let extra = "recheck: {interval: 0s}";
    let p = redis_plugin(&server.url, &idp.issuer, extra);
    let binding = config(
        &idp.issuer,
        &format!(
            "session_store: {{redis: {{url: \"{}\", prefix: \"bg:\"}}}}\n{extra}",
            server.url
        ),
    )
    .session_binding();
    let before = sign_in(&p, &idp, serde_json::json!({}), &binding).await;
    assert_eq!(count_keys(&server.url), 1);
    for i in 0..3000 {
        let v = p.authenticate(&get(&format!("/doc/{i}"))).await;
        assert_eq!(rejection(v).status, 302);
    }
    assert_eq!(count_keys(&server.url), 1, "no key for an anonymous login");
    assert!(matches!(
        p.authenticate(&with_session("/doc", &before, "text/html"))
            .await,
        Verdict::Authenticated(_)
    ));
    let after = sign_in(&p, &idp, serde_json::json!({"sub": "carol"}), &binding).await;
    assert!(matches!(
        p.authenticate(&with_session("/doc", &after, "text/html")).await,
        Verdict::Authenticated(who) if who.subject == "carol"
    ));
    assert_eq!(count_keys(&server.url), 2);
}

/// Issue 17, item 2, with Redis: two routes on one provider client and one Redis prefix, with
/// their own cookie names and `allow` rules. A session id copied into the other cookie is no
/// session there (the old code accepted it, as both were bound to issuer and client only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_copied_into_another_cookie_name_is_refused() {
    let Some(server) = redis_server() else { return };
    let idp = Idp::start(true);
    let home_extra = "recheck: {interval: 0s}\ncookie: {name: home_session}";
    let admin_extra =
        "recheck: {interval: 0s}\ncookie: {name: admin_session}\nallow: {groups: [admins]}";
    let home = redis_plugin(&server.url, &idp.issuer, home_extra);
    let admin = redis_plugin(&server.url, &idp.issuer, admin_extra);
    // bob signs in on /home (the login cookie is home_session_login).
    let r = home
        .respond(&get("/_bucketgate/oidc/login?rd=%2Fhome"))
        .await
        .unwrap();
    let location = header(&r.headers, "location").unwrap().to_string();
    let state = url_param(&location, "state").unwrap();
    let nonce = url_param(&location, "nonce").unwrap();
    let cookie = cookie_value(&r.headers, "home_session_login").unwrap();
    idp.answer_tokens(
        serde_json::json!({"sub": "bob", "groups": ["staff"], "nonce": nonce}),
        None,
    );
    let r = home
        .respond(&request(
            "GET",
            &format!("{CALLBACK}?code=c&state={state}"),
            &[("cookie", &format!("home_session_login={cookie}"))],
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 302, "{}", body(&r));
    let id = cookie_value(&r.headers, "home_session").unwrap();
    let on = |name: &str| {
        request(
            "GET",
            "/x",
            &[
                ("accept", "application/json"),
                ("cookie", &format!("{name}={id}")),
            ],
        )
    };
    assert!(matches!(
        home.authenticate(&on("home_session")).await,
        Verdict::Authenticated(_)
    ));
    match admin.authenticate(&on("admin_session")).await {
        Verdict::SignIn(r) => assert_eq!(r.status, 401),
        other => panic!("bob's /home session worked on /admin: {other:?}"),
    }
}
