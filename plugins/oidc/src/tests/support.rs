//! What the flow tests share: a small HTTP provider on 127.0.0.1 whose answers each test sets
//! (discovery, JWKS, token, userinfo), ID tokens signed with the jwt plugin's test RSA key, a
//! plugin over an inspectable memory store, and request builders.
//!
//! The real provider (oidc-provider) is exercised by bucketgate's integration tests; this one
//! lets the unit tests reach every refusal path (wrong nonce, wrong audience, revoked user)
//! deterministically.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bucketgate_plugin::{Grant, LocalResponse, Plugin, Rejection, RequestView, Verdict};
use serde_json::{json, Value};

use crate::records::{self, LoginState, Records, SessionRecord};
use crate::store::MemoryStore;
use crate::{Context, KeyMinter, MintedKey, OidcConfig, OidcPlugin};

pub const KEY: [u8; 32] = [42u8; 32];
pub const CLIENT_ID: &str = "bucketgate";
pub const SITE: &str = "https://files.example.com";
pub const CALLBACK: &str = "/_bucketgate/oidc/callback";
const RSA_PEM: &str = include_str!("../../../jwt/testdata/rsa_private.pem");
const JWKS: &str = include_str!("../../../jwt/testdata/jwks.json");

/// One recorded request to the provider: path and body.
pub type Hit = (String, String);

/// Runs `f` to completion on a fresh current-thread runtime, for synchronous unit tests.
pub fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// An HTTP provider on 127.0.0.1: answers each path with what the test set.
pub struct Idp {
    pub issuer: String,
    routes: Arc<Mutex<HashMap<String, (u16, String)>>>,
    pub hits: Arc<Mutex<Vec<Hit>>>,
}

impl Idp {
    pub fn start(end_session: bool) -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://127.0.0.1:{}", addr.port());
        let mut discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/me"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        if end_session {
            discovery["end_session_endpoint"] = json!(format!("{issuer}/session/end"));
        }
        let jwks: Value = serde_json::from_str(JWKS).unwrap();
        let rsa_only = json!({"keys": [jwks["keys"][0].clone()]});
        let mut routes = HashMap::new();
        routes.insert(
            "/.well-known/openid-configuration".to_string(),
            (200, discovery.to_string()),
        );
        routes.insert("/jwks".to_string(), (200, rsa_only.to_string()));
        let routes = Arc::new(Mutex::new(routes));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let (r, h) = (Arc::clone(&routes), Arc::clone(&hits));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some((path, body)) = read_request(&mut stream) else {
                    continue;
                };
                h.lock().unwrap().push((path.clone(), body));
                let (status, answer) = r
                    .lock()
                    .unwrap()
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, "{}".into()));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Idp {
            issuer,
            routes,
            hits,
        }
    }

    pub fn set(&self, path: &str, status: u16, body: impl Into<String>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), (status, body.into()));
    }

    pub fn hits_on(&self, path: &str) -> Vec<String> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// An ID token for `claims` (merged over iss, aud, iat, exp, sub=alice), signed RS256.
    pub fn id_token(&self, claims: Value) -> String {
        let now = records::now();
        let mut all = json!({
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "alice",
            "iat": now,
            "exp": now + 600,
        });
        for (k, v) in claims.as_object().unwrap() {
            all[k] = v.clone();
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("rsa1".into());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &all, &key).unwrap()
    }

    /// Makes the token endpoint answer with an ID token for `claims` (see [`Idp::id_token`])
    /// and `refresh` as the refresh token.
    pub fn answer_tokens(&self, claims: Value, refresh: Option<&str>) {
        self.set(
            "/token",
            200,
            self.token_answer(&self.id_token(claims), refresh),
        );
    }

    /// The token endpoint's answer: this ID token, an access and a refresh token.
    pub fn token_answer(&self, id_token: &str, refresh: Option<&str>) -> String {
        let mut v = json!({
            "access_token": "at-1",
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
        });
        if let Some(r) = refresh {
            v["refresh_token"] = json!(r);
        }
        v.to_string()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<(String, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    let path = target.split('?').next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, String::from_utf8_lossy(&body).into_owned()))
}

/// A minter that records what it was asked: the key id names the subject.
#[derive(Default)]
pub struct RecordingMinter {
    pub calls: Mutex<Vec<(String, Vec<Grant>, Duration)>>,
}

impl KeyMinter for RecordingMinter {
    fn mint(&self, subject: &str, grants: &[Grant], ttl: Duration) -> Result<MintedKey, String> {
        self.calls
            .lock()
            .unwrap()
            .push((subject.to_string(), grants.to_vec(), ttl));
        Ok(MintedKey {
            access_key_id: format!("BG1TEST{subject}"),
            secret_access_key: "minted-secret".into(),
            expires_at: SystemTime::now() + ttl,
        })
    }
}

/// The plugin under test, its store, and a way to read the store's records.
pub struct Setup {
    pub plugin: OidcPlugin,
    pub store: Arc<MemoryStore>,
    pub records: Records,
    pub minter: Arc<RecordingMinter>,
}

/// The test section: this provider, [`CLIENT_ID`], the callback on [`SITE`], read and list on
/// `data/users/{sub}/` (unless `extra` has its own `grants`), and `extra`.
pub fn config(issuer: &str, extra: &str) -> OidcConfig {
    let grants = if extra.lines().any(|l| l.starts_with("grants:")) {
        ""
    } else {
        "grants: [{bucket: data, prefix: \"users/{sub}/\", operations: [read, list]}]\n"
    };
    let yaml = format!(
        "issuer: {issuer}
client_id: {CLIENT_ID}
client_secret: s3cret
redirect_url: {SITE}{CALLBACK}
{grants}{extra}"
    );
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// A provider (with an end-session endpoint) and the plugin under test on it, with `extra`.
pub fn with_idp(extra: &str) -> (Idp, Setup) {
    let idp = Idp::start(true);
    let s = setup(&idp.issuer, extra);
    (idp, s)
}

pub fn setup(issuer: &str, extra: &str) -> Setup {
    setup_on(issuer, extra, Arc::new(MemoryStore::default()))
}

/// [`setup`] over a given store (several plugins sharing one, as routes of one provider do).
pub fn setup_on(issuer: &str, extra: &str, store: Arc<MemoryStore>) -> Setup {
    let minter = Arc::new(RecordingMinter::default());
    let cfg = config(issuer, extra);
    let plugin = OidcPlugin::with_store(
        &cfg,
        Context {
            session_key: zeroize::Zeroizing::new(KEY),
            minter: Some(minter.clone()),
        },
        store.clone(),
    )
    .unwrap();
    Setup {
        plugin,
        records: Records::new(store.clone(), &KEY, &cfg.session_binding()),
        store,
        minter,
    }
}

pub fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> RequestView {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    RequestView {
        method: method.parse().unwrap(),
        path: path.into(),
        query: query.into(),
        headers: map,
        client_addr: Some("127.0.0.1:50000".parse().unwrap()),
        route: "files".into(),
        tls: false,
    }
}

pub fn get(target: &str) -> RequestView {
    request("GET", target, &[("accept", "text/html")])
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn set_cookies(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.clone())
        .collect()
}

/// The value the response sets for cookie `name`.
pub fn cookie_value(headers: &[(String, String)], name: &str) -> Option<String> {
    set_cookies(headers).iter().find_map(|c| {
        let (k, rest) = c.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
    })
}

/// The decoded query parameter `name` of URL `url`.
pub fn url_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    get(&format!("/?{query}")).query_param(name)
}

pub fn body(r: &LocalResponse) -> &str {
    std::str::from_utf8(&r.body).unwrap()
}

/// A started login as the browser sees it.
pub struct Login {
    pub state: String,
    /// The value of the `bucketgate_session_login` cookie (the sealed login state).
    pub cookie: String,
    /// Where the browser was sent.
    pub location: String,
}

/// The login a 302 to the provider started: its state and cookie.
pub fn login_of(headers: &[(String, String)]) -> Login {
    let location = header(headers, "location").expect("a location").to_string();
    Login {
        state: url_param(&location, "state").expect("a state"),
        cookie: cookie_value(headers, "bucketgate_session_login").expect("a login cookie"),
        location,
    }
}

pub async fn start_login(s: &Setup, target: &str) -> Login {
    let r = s.plugin.respond(&get(target)).await.expect("answered");
    assert_eq!(r.status, 302, "{}", body(&r));
    login_of(&r.headers)
}

/// A callback request for `login` with `query` (before its `state`), the login's cookie and
/// any extra cookie.
pub fn callback_request(login: &Login, query: &str, extra_cookie: Option<&str>) -> RequestView {
    let mut cookie = format!("bucketgate_session_login={}", login.cookie);
    if let Some(c) = extra_cookie {
        cookie.push_str("; ");
        cookie.push_str(c);
    }
    request(
        "GET",
        &format!("{CALLBACK}?{query}&state={}", login.state),
        &[("accept", "text/html"), ("cookie", &cookie)],
    )
}

/// The answer of a [`Verdict::Reject`] or [`Verdict::SignIn`].
pub fn rejection(v: Verdict) -> Rejection {
    match v {
        Verdict::Reject(r) | Verdict::SignIn(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

impl Setup {
    /// The plugin's own answer to `req`, which must be one.
    pub async fn answer(&self, req: &RequestView) -> LocalResponse {
        self.plugin
            .respond(req)
            .await
            .expect("the plugin answers this request itself")
    }

    /// The answer to `login`'s callback with code `c`.
    pub async fn callback(&self, login: &Login) -> LocalResponse {
        self.answer(&callback_request(login, "code=c", None)).await
    }

    /// Whether a browser request to `/x` with session `id` is authenticated.
    pub async fn browser_signed_in(&self, id: &str) -> bool {
        matches!(
            self.auth(&with_session("/x", id, "text/html")).await,
            Verdict::Authenticated(_)
        )
    }

    /// The status an API request (`Accept: application/json`) to `/x` with session `id` is
    /// refused with (it must be refused).
    pub async fn api_refusal(&self, id: &str) -> u16 {
        rejection(self.auth(&with_session("/x", id, "application/json")).await).status
    }

    /// Stores a session last checked (successfully) at `at`, with `refresh` as its refresh
    /// token; its cookie value.
    pub async fn insert_checked_at(&self, at: u64, refresh: Option<&str>) -> String {
        self.insert_session(|r| {
            r.refresh_token = refresh.map(str::to_string);
            r.last_check = at;
            r.last_ok = at;
        })
        .await
    }

    /// What `login`'s cookie holds.
    pub fn state(&self, login: &Login) -> LoginState {
        self.records
            .open_cookie("bucketgate_session_login", &login.cookie)
            .expect("the login cookie opens")
    }

    pub async fn session(&self, id: &str) -> Option<SessionRecord> {
        self.records.get(&records::session_key(id)).await.unwrap()
    }

    /// Stores a session directly, as a finished login would; its cookie value.
    pub async fn insert_session(&self, f: impl FnOnce(&mut SessionRecord)) -> String {
        let now = records::now();
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), json!("alice"));
        claims.insert("email".into(), json!("alice@example.com"));
        claims.insert("email_verified".into(), json!(true));
        let mut rec = SessionRecord {
            subject: "alice".into(),
            claims,
            id_token: None,
            access_token: "at-1".into(),
            refresh_token: None,
            access_expires_at: Some(now + 3600),
            created_at: now,
            expires_at: now + 3600,
            last_check: now,
            last_ok: now,
        };
        f(&mut rec);
        let id = records::random_token().unwrap();
        self.records
            .put(&records::session_key(&id), &rec, Duration::from_secs(3600))
            .await
            .unwrap();
        id
    }

    pub async fn auth(&self, req: &RequestView) -> Verdict {
        self.plugin.authenticate(req).await
    }
}

/// The `action` of the first form of an HTML page, entities decoded.
pub fn form_action(html: &str) -> String {
    let start = html.find("<form").expect("a form");
    let rest = &html[start..];
    let at = rest.find("action=\"").expect("an action") + "action=\"".len();
    let end = rest[at..].find('"').expect("a closing quote");
    rest[at..at + end]
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The headers a browser sends when a form on `origin`'s page is submitted.
pub fn form_post_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("accept", "text/html".into()),
        ("origin", origin.into()),
        ("sec-fetch-site", "same-origin".into()),
        ("sec-fetch-mode", "navigate".into()),
        ("sec-fetch-dest", "document".into()),
        ("content-type", "application/x-www-form-urlencoded".into()),
    ]
}

/// A POST to `target` with session cookie `id` and `headers`.
pub fn post_with_session(target: &str, id: &str, headers: &[(&str, String)]) -> RequestView {
    let cookie = format!("bucketgate_session={id}");
    let mut all: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("cookie", &cookie));
    request("POST", target, &all)
}

/// A request carrying session cookie `id`.
pub fn with_session(target: &str, id: &str, accept: &str) -> RequestView {
    request(
        "GET",
        target,
        &[
            ("accept", accept),
            ("cookie", &format!("bucketgate_session={id}")),
        ],
    )
}
