//! A real OpenID provider and a scripted browser, for the SSO tests.
//!
//! - [`Provider`]: npm `oidc-provider@8` (`tests/oidc/provider.mjs`, pinned by its
//!   package-lock.json) on a free 127.0.0.1 port, with one confidential client whose exact
//!   redirect URIs the test registers. Accounts alice, bob and carol; any password. Killed on
//!   drop, and it exits by itself when this process dies (its stdin closes).
//! - [`start_with_provider`]: the gateway's config must name the issuer and the provider must
//!   know the gateway's callback URL, so the provider's port is picked first, the gateways are
//!   started, then the provider; a port taken in between retries the whole setup.
//! - [`Browser`]: a cookie jar on top of [`super::client`] that follows redirects across
//!   127.0.0.1 ports the way a browser does (cookies are per host, not per port; `Secure` ones
//!   only over https, so never here), and can fill the provider's development login, consent
//!   and logout forms with plain form posts. No JavaScript, no headless Chromium.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::client::{self, Response};
use super::gateway::free_addr;
use super::{encode_query_component, unique_suffix};

/// How long the provider may take to print `READY`.
pub const PROVIDER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Most requests one navigation may take (redirects and form posts).
pub const MAX_STEPS: usize = 30;
/// The password typed into the provider's login form (it accepts any).
pub const PASSWORD: &str = "any-password";
/// The client id registered at the provider.
pub const CLIENT_ID: &str = "bucketgate";

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `tests/oidc`.
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Whether node and the provider's npm packages are there (running `npm ci` in tests/oidc
/// when node_modules is missing). If not: a loud SKIPPED locally, a failure under `CI=true`.
pub fn provider_available() -> bool {
    let has = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    for tool in ["node", "npm"] {
        if !has(tool) {
            assert!(
                !in_ci(),
                "{tool} is not installed; .ci/run installs it (apt-get install nodejs npm)"
            );
            eprintln!(
                "SKIPPED: {tool} is not installed (apt-get install nodejs npm); this test needs it"
            );
            return false;
        }
    }
    let dir = provider_dir();
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        // Serialised: several tests of one binary may get here at once.
        static NPM: Mutex<()> = Mutex::new(());
        let _one = NPM.lock().unwrap_or_else(|p| p.into_inner());
        if !dir.join("node_modules/oidc-provider/package.json").exists() {
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .expect("running npm ci in tests/oidc");
            assert!(
                out.status.success(),
                "npm ci in {} failed:\n{}\n{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    true
}

/// What the provider registers for its one client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Access and ID token lifetime in seconds (at least 60).
    pub token_ttl_secs: u32,
}

impl ClientSpec {
    /// A fresh random secret, no URIs yet, 120 s tokens.
    pub fn new() -> ClientSpec {
        ClientSpec {
            client_secret: format!("oidc-secret-{}", unique_suffix()),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            token_ttl_secs: 120,
        }
    }
}

impl Default for ClientSpec {
    fn default() -> Self {
        ClientSpec::new()
    }
}

/// A running provider.
pub struct Provider {
    child: Option<Child>,
    _stdin: Option<ChildStdin>,
    issuer: String,
    addr: String,
    client_secret: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// Why a provider did not start.
#[derive(Debug)]
pub enum ProviderStartError {
    AddrInUse(String),
    Failed(String),
}

impl Provider {
    /// Starts `tests/oidc/provider.mjs` on `addr` (`127.0.0.1:PORT`) with `spec`; waits for
    /// `READY`. Call [`provider_available`] first.
    pub fn try_start_on(addr: &str, spec: &ClientSpec) -> Result<Provider, ProviderStartError> {
        let port = addr.rsplit(':').next().expect("addr has a port");
        let dir = tempfile::Builder::new()
            .prefix("bucketgate-oidc-")
            .tempdir()
            .expect("temp dir for the provider");
        let stderr_path = dir.path().join("provider.stderr");
        let mut cmd = Command::new("node");
        cmd.arg(provider_dir().join("provider.mjs"))
            .args(["--port", port, "--client-id", CLIENT_ID])
            .args(["--client-secret", &spec.client_secret])
            .args(["--token-ttl", &spec.token_ttl_secs.to_string()]);
        for u in &spec.redirect_uris {
            cmd.args(["--redirect-uri", u]);
        }
        for u in &spec.post_logout_redirect_uris {
            cmd.args(["--post-logout-redirect-uri", u]);
        }
        cmd.current_dir(provider_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).expect("provider stderr file"));
        let mut child = cmd
            .spawn()
            .map_err(|e| ProviderStartError::Failed(format!("spawning node: {e}")))?;
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::Builder::new()
            .name(format!("oidc-provider-{port}"))
            .spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    sink.lock().unwrap().push(line);
                }
            })
            .expect("spawning the provider's stdout reader");
        let mut p = Provider {
            child: Some(child),
            _stdin: stdin,
            issuer: format!("http://{addr}"),
            addr: addr.to_string(),
            client_secret: spec.client_secret.clone(),
            stdout: lines,
            stderr_path,
            _dir: dir,
        };
        let deadline = Instant::now() + PROVIDER_START_TIMEOUT;
        loop {
            let ready = p
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix("READY ").map(str::to_string));
            if let Some(issuer) = ready {
                assert_eq!(issuer, p.issuer, "the provider's issuer");
                return Ok(p);
            }
            if let Some(status) = p.child.as_mut().unwrap().try_wait().ok().flatten() {
                p.child = None;
                let err = p.stderr();
                let msg = format!("the provider exited ({status}) before READY:\n{err}");
                return Err(if err.contains("EADDRINUSE") {
                    ProviderStartError::AddrInUse(msg)
                } else {
                    ProviderStartError::Failed(msg)
                });
            }
            if Instant::now() >= deadline {
                return Err(ProviderStartError::Failed(format!(
                    "the provider printed no READY within {PROVIDER_START_TIMEOUT:?}; stderr:\n{}",
                    p.stderr()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:PORT` (discovery at `{issuer}/.well-known/openid-configuration`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn client_id(&self) -> &str {
        CLIENT_ID
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// What the provider wrote to stderr so far (oidc-provider's warnings and errors).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Its discovery document.
    #[track_caller]
    pub fn discovery(&self) -> serde_json::Value {
        let r = client::request(
            &self.addr,
            "GET",
            "/.well-known/openid-configuration",
            &[],
            None,
        );
        r.assert_status(200);
        r.json()
    }

    /// TEST-ONLY endpoint of provider.mjs: from now on `sub` does not exist for the provider
    /// (userinfo and refresh fail, its grants are destroyed, it cannot sign in).
    #[track_caller]
    pub fn revoke(&self, sub: &str) {
        let r = client::request(
            &self.addr,
            "POST",
            &format!("/__test/revoke?sub={}", encode_query_component(sub)),
            &[],
            Some(b""),
        );
        assert_eq!(r.status, 204, "revoking {sub}: {}", r.text());
    }

    /// Whether a URL is on this provider.
    pub fn owns(&self, url: &str) -> bool {
        Url::parse(url).is_some_and(|u| u.authority == self.addr)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "oidc provider {} stderr (last lines):\n{}",
                self.issuer,
                tail(&self.stderr(), 30)
            );
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Picks the provider's address, calls `build(issuer)` to start what needs the issuer (the
/// gateways) and to say which URIs to register (the gateways' callback and post-logout URLs),
/// then starts the provider there. If the port was taken in the meantime, everything `build`
/// made is dropped and the setup runs again. None when node or the packages are missing (see
/// [`provider_available`]).
#[track_caller]
pub fn start_with_provider<T>(
    mut build: impl FnMut(&str) -> (T, ClientSpec),
) -> Option<(Provider, T)> {
    if !provider_available() {
        return None;
    }
    let mut last = String::new();
    for _ in 0..3 {
        let addr = free_addr();
        let issuer = format!("http://{addr}");
        let (made, spec) = build(&issuer);
        match Provider::try_start_on(&addr, &spec) {
            Ok(p) => return Some((p, made)),
            Err(ProviderStartError::AddrInUse(msg)) => {
                eprintln!("oidc provider: port taken, setting up again\n{msg}");
                last = msg;
            }
            Err(ProviderStartError::Failed(msg)) => panic!("{msg}"),
        }
    }
    panic!("the oidc provider could not get a port: {last}");
}

/// An `http://host:port/path?query` URL, split. Only what the tests meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    /// `host:port` (port always present).
    pub authority: String,
    pub host: String,
    /// The path and query, as sent (`/` at least).
    pub path_and_query: String,
}

impl Url {
    /// Parses an absolute http(s) URL.
    pub fn parse(url: &str) -> Option<Url> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (auth, pq) = rest.split_at(end);
        let pq = pq.split('#').next().unwrap_or("");
        if auth.is_empty() {
            return None;
        }
        let authority = if auth.contains(':') {
            auth.to_string()
        } else {
            format!("{auth}:{}", if scheme == "https" { 443 } else { 80 })
        };
        let host = authority.rsplit_once(':')?.0.to_ascii_lowercase();
        let path_and_query = if pq.starts_with('/') {
            pq.to_string()
        } else {
            format!("/{pq}")
        };
        Some(Url {
            scheme,
            authority,
            host,
            path_and_query,
        })
    }

    /// `Location` (or a form action) resolved against this URL.
    pub fn join(&self, reference: &str) -> Option<Url> {
        if reference.contains("://") {
            return Url::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme));
        }
        let pq = if reference.starts_with('/') {
            reference.to_string()
        } else if reference.starts_with('?') {
            format!("{}{reference}", self.path())
        } else {
            let p = self.path();
            let dir = &p[..p.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        Some(Url {
            path_and_query: pq.split('#').next().unwrap_or("/").to_string(),
            ..self.clone()
        })
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split('?')
            .next()
            .unwrap_or(&self.path_and_query)
    }

    /// The raw query (without `?`), empty when none.
    pub fn query(&self) -> &str {
        self.path_and_query.split_once('?').map_or("", |(_, q)| q)
    }

    /// `scheme://authority`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    pub fn to_url(&self) -> String {
        format!("{}{}", self.origin(), self.path_and_query)
    }
}

/// Percent-decodes (and `+` as space, as in forms) a query component.
pub fn decode_component(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// The decoded query parameters of an absolute URL, in order.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let Some(u) = Url::parse(url) else {
        return Vec::new();
    };
    u.query()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

/// The first value of query parameter `name` in an absolute URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    query_params(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// One stored cookie.
#[derive(Debug, Clone)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    /// The host it belongs to (no port: browsers share cookies across ports).
    pub host: String,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<String>,
    /// None: a session cookie.
    pub expires: Option<SystemTime>,
}

/// A `Set-Cookie` as received.
#[derive(Debug, Clone)]
pub struct SetCookie {
    /// The URL of the response that set it.
    pub url: String,
    pub name: String,
    pub value: String,
    /// Attribute names lower-cased, with their values (`("httponly", "")`, `("max-age", "0")`).
    pub attributes: Vec<(String, String)>,
    /// The header value, verbatim.
    pub raw: String,
}

impl SetCookie {
    /// The value of an attribute (case-insensitive name); Some("") for flags.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn parse(url: &str, raw: &str) -> Option<SetCookie> {
        let mut parts = raw.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let attributes = parts
            .map(|a| {
                let (k, v) = a.split_once('=').unwrap_or((a, ""));
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .filter(|(k, _)| !k.is_empty())
            .collect();
        Some(SetCookie {
            url: url.to_string(),
            name: name.to_string(),
            value: value.trim().to_string(),
            attributes,
            raw: raw.to_string(),
        })
    }
}

/// One request of a navigation.
#[derive(Debug, Clone)]
pub struct Step {
    pub method: String,
    pub url: String,
    pub status: u16,
    /// The resolved `Location`, for redirects.
    pub location: Option<String>,
    /// The `Location` header as sent (redirects only).
    pub raw_location: Option<String>,
}

/// Whether the test browser may go to `host`: only loopback names (`*.localhost` resolves to
/// 127.0.0.1, as in browsers). A navigation stops before anything else.
pub fn is_local_host(host: &str) -> bool {
    host == "127.0.0.1" || host == "localhost" || host.ends_with(".localhost")
}

/// Where a navigation ended.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL of the final response; or, when the navigation stopped before a redirect
    /// target (off loopback, or the `stop_before` of [`Browser::sign_in_until`]), that target,
    /// with `response` the redirect that pointed there.
    pub url: String,
    /// Whether the navigation stopped before requesting `url`.
    pub stopped: bool,
    pub response: Response,
    /// Every request made, in order (the last is the final response's).
    pub trail: Vec<Step>,
}

impl Page {
    pub fn status(&self) -> u16 {
        self.response.status
    }

    pub fn text(&self) -> String {
        self.response.text()
    }

    /// The trail, one line per request, for messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for st in &self.trail {
            s.push_str(&format!(
                "  {} {} -> {}{}\n",
                st.method,
                st.url,
                st.status,
                st.location
                    .as_deref()
                    .map(|l| format!(" -> {l}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&format!(
            "{} {} {}: {}",
            if self.stopped {
                "stopped before"
            } else {
                "final"
            },
            self.response.status,
            self.url,
            client::truncate_for_display(&self.response.body)
        ));
        s
    }

    /// Panics with the trail unless the final status is `want`.
    #[track_caller]
    pub fn assert_status(&self, want: u16) -> &Self {
        assert_eq!(
            self.response.status,
            want,
            "unexpected final status; navigation:\n{}",
            self.describe()
        );
        self
    }

    /// The requests that went to `authority` (`127.0.0.1:PORT`).
    pub fn steps_to(&self, authority: &str) -> Vec<&Step> {
        self.trail
            .iter()
            .filter(|s| Url::parse(&s.url).is_some_and(|u| u.authority == authority))
            .collect()
    }

    /// Whether any request of the navigation went to the provider.
    pub fn visited(&self, provider: &Provider) -> bool {
        !self.steps_to(provider.addr()).is_empty()
    }

    /// The first authorization request (`{issuer}/auth?...`) of the navigation.
    pub fn authorization_request(&self, provider: &Provider) -> Option<String> {
        self.trail
            .iter()
            .find(|s| {
                provider.owns(&s.url) && Url::parse(&s.url).is_some_and(|u| u.path() == "/auth")
            })
            .map(|s| s.url.clone())
    }
}

/// A form found in an HTML page.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub method: String,
    pub id: Option<String>,
    /// Every named `<input>` with its value (empty when it has none).
    pub inputs: Vec<(String, String)>,
}

impl Form {
    pub fn input(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The forms of an HTML page (a tolerant scan, enough for the provider's pages).
pub fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<form").map(|i| i + at) {
        let tag_end = lower[start..].find('>').map_or(lower.len(), |i| i + start);
        let tag = &html[start..tag_end];
        let close = lower[tag_end..]
            .find("</form")
            .map_or(lower.len(), |i| i + tag_end);
        let inner = &html[tag_end..close];
        let mut inputs = Vec::new();
        let inner_lower = inner.to_ascii_lowercase();
        let mut i = 0;
        while let Some(s) = inner_lower[i..].find("<input").map(|k| k + i) {
            let e = inner_lower[s..].find('>').map_or(inner.len(), |k| k + s);
            let t = &inner[s..e];
            if let Some(name) = attr(t, "name") {
                inputs.push((name, attr(t, "value").unwrap_or_default()));
            }
            i = e;
        }
        out.push(Form {
            action: attr(tag, "action").unwrap_or_default(),
            method: attr(tag, "method")
                .unwrap_or_else(|| "get".into())
                .to_ascii_uppercase(),
            id: attr(tag, "id"),
            inputs,
        });
        at = close;
    }
    out
}

/// A double- or single-quoted attribute of a tag, entity-decoded.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| i + from) {
        let before_ok = i > 0 && lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = lower[i + name.len()..].trim_start();
        if before_ok && rest.starts_with('=') {
            let off = tag.len() - rest.len() + 1;
            let v = tag[off..].trim_start();
            let q = v.chars().next()?;
            let value = if q == '"' || q == '\'' {
                v[1..].split(q).next()?.to_string()
            } else {
                v.split(|c: char| c.is_whitespace() || c == '>')
                    .next()?
                    .to_string()
            };
            return Some(html_unescape(&value));
        }
        from = i + name.len();
    }
    None
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Form-urlencodes fields.
pub fn form_body(fields: &[(String, String)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_query_component(k),
                encode_query_component(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The headers a browser sends with a page navigation.
pub const BROWSER_HEADERS: &[(&str, &str)] = &[
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) bucketgate-sso-test",
    ),
];

/// Who fills the provider's forms during a navigation, and where it stops.
#[derive(Default)]
struct Nav<'a> {
    provider: Option<&'a Provider>,
    user: Option<&'a str>,
    stop_before: Option<&'a str>,
}

/// A cookie jar plus redirect following, like a browser with JavaScript off.
#[derive(Debug, Default, Clone)]
pub struct Browser {
    cookies: Vec<Cookie>,
    /// Every `Set-Cookie` received, in order.
    pub set_cookies: Vec<SetCookie>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser::default()
    }

    /// One request, no redirect following: cookies from the jar are sent and the response's
    /// are stored. `headers` add to (and by name replace) [`BROWSER_HEADERS`].
    #[track_caller]
    pub fn fetch(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let u = Url::parse(url).unwrap_or_else(|| panic!("not an absolute http URL: {url:?}"));
        assert_eq!(
            u.scheme, "http",
            "the test browser speaks plain http only: {url}"
        );
        assert!(
            is_local_host(&u.host),
            "the test browser only goes to 127.0.0.1 and *.localhost, not {url}"
        );
        let connect = if u.host == "127.0.0.1" {
            u.authority.clone()
        } else {
            format!("127.0.0.1:{}", u.authority.rsplit_once(':').unwrap().1)
        };
        let cookie = self.cookie_header(&u);
        let mut all: Vec<(&str, &str)> = BROWSER_HEADERS
            .iter()
            .filter(|(k, _)| !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)))
            .copied()
            .collect();
        all.push(("Host", &u.authority));
        all.extend(headers.iter().copied());
        if let Some(c) = &cookie {
            if !headers
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case("cookie"))
            {
                all.push(("Cookie", c));
            }
        }
        let r = client::request(&connect, method, &u.path_and_query, &all, body);
        for raw in r.header_all("set-cookie") {
            self.store(&u, raw);
        }
        r
    }

    /// GET `url` and follow redirects; forms are left alone.
    #[track_caller]
    pub fn open(&mut self, url: &str) -> Page {
        self.navigate("GET", url, &[], Nav::default())
    }

    /// [`Browser::open`] with extra request headers on the first request (later ones, after
    /// redirects, carry only the browser's own).
    #[track_caller]
    pub fn open_with(&mut self, method: &str, url: &str, headers: &[(&str, &str)]) -> Page {
        self.navigate(method, url, headers, Nav::default())
    }

    /// GET `url`, follow redirects, and on the provider's pages sign in as `user` (login form
    /// with [`PASSWORD`], consent, logout confirmation) until a page off the provider, or one
    /// the provider shows that is not one of those forms.
    #[track_caller]
    pub fn sign_in(&mut self, provider: &Provider, url: &str, user: &str) -> Page {
        let nav = Nav {
            provider: Some(provider),
            user: Some(user),
            stop_before: None,
        };
        self.navigate("GET", url, &[], nav)
    }

    /// [`Browser::sign_in`], but stops before requesting any URL that starts with
    /// `stop_before` (say, the gateway's callback, to replay or tamper with it): the page's
    /// `url` is that URL and `stopped` is true.
    #[track_caller]
    pub fn sign_in_until(
        &mut self,
        provider: &Provider,
        url: &str,
        user: &str,
        stop_before: &str,
    ) -> Page {
        let nav = Nav {
            provider: Some(provider),
            user: Some(user),
            stop_before: Some(stop_before),
        };
        self.navigate("GET", url, &[], nav)
    }

    /// Presses the button of the first POST form on `page` (a page of the gateway), as a
    /// browser does: a POST to its action with the form's fields and the headers of a
    /// same-origin form submission (`Origin`, `Sec-Fetch-Site: same-origin`, `Sec-Fetch-Mode:
    /// navigate`, `Sec-Fetch-Dest: document`); then redirects are followed, confirming the
    /// provider's logout form if `provider` is given and it shows one.
    #[track_caller]
    pub fn submit(&mut self, provider: Option<&Provider>, page: &Page) -> Page {
        let (target, origin, body) = post_form(page);
        let headers = same_origin_form_headers(&origin);
        let nav = Nav {
            provider,
            user: None,
            stop_before: None,
        };
        self.navigate_with_body("POST", &target, &headers, Some(body), nav)
    }

    /// [`Browser::submit`], but only the POST itself: its response, no redirect followed.
    #[track_caller]
    pub fn submit_once(&mut self, page: &Page) -> Response {
        let (target, origin, body) = post_form(page);
        let headers = same_origin_form_headers(&origin);
        self.fetch("POST", &target, &headers, Some(&body))
    }

    /// Signs out of the gateway at `url` (its logout path) as a person does: opens the
    /// confirmation page, presses "Sign out", and follows on through the provider's
    /// end-session confirmation to wherever it ends.
    #[track_caller]
    pub fn log_out(&mut self, provider: &Provider, url: &str) -> Page {
        let page = self.open(url);
        page.assert_status(200);
        self.submit(Some(provider), &page)
    }

    /// GET `url` and follow redirects, confirming the provider's logout form ("Yes, sign me
    /// out") if it shows one; no login.
    #[track_caller]
    pub fn sign_out(&mut self, provider: &Provider, url: &str) -> Page {
        let nav = Nav {
            provider: Some(provider),
            user: None,
            stop_before: None,
        };
        self.navigate("GET", url, &[], nav)
    }

    #[track_caller]
    fn navigate(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        nav: Nav<'_>,
    ) -> Page {
        self.navigate_with_body(method, url, headers, None, nav)
    }

    #[track_caller]
    fn navigate_with_body(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
        nav: Nav<'_>,
    ) -> Page {
        let mut trail: Vec<Step> = Vec::new();
        let mut method = method.to_string();
        let mut url = url.to_string();
        let mut body = body;
        let mut extra: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        loop {
            if trail.len() >= MAX_STEPS {
                let page = Page {
                    url: url.clone(),
                    stopped: true,
                    response: Response::default(),
                    trail,
                };
                panic!(
                    "more than {MAX_STEPS} requests in one navigation (a redirect loop?):\n{}",
                    page.describe()
                );
            }
            let hdrs: Vec<(&str, &str)> = extra
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = self.fetch(&method, &url, &hdrs, body.as_deref());
            let here = Url::parse(&url).expect("navigation URLs are absolute");
            let location = match r.status {
                301 | 302 | 303 | 307 | 308 => r.header("location").map(|l| {
                    here.join(l)
                        .unwrap_or_else(|| panic!("bad Location {l:?} from {url}"))
                        .to_url()
                }),
                _ => None,
            };
            trail.push(Step {
                method: method.clone(),
                url: url.clone(),
                status: r.status,
                location: location.clone(),
                raw_location: location
                    .as_ref()
                    .and_then(|_| r.header("location").map(str::to_string)),
            });
            if let Some(next) = location {
                let off_loopback = Url::parse(&next).is_none_or(|n| !is_local_host(&n.host));
                let stop = nav.stop_before.is_some_and(|p| next.starts_with(p));
                if off_loopback || stop {
                    return Page {
                        url: next,
                        stopped: true,
                        response: r,
                        trail,
                    };
                }
                // 307/308 repeat the method and body; the others become a GET.
                if !matches!(r.status, 307 | 308) {
                    method = "GET".into();
                    body = None;
                }
                // The first request's extra headers do not follow, except the body's type.
                extra.retain(|(k, _)| body.is_some() && k.eq_ignore_ascii_case("content-type"));
                url = next;
                continue;
            }
            // A provider form to fill?
            if let Some(provider) = nav.provider {
                if provider.owns(&url) {
                    if let Some((action, fields)) = fill_provider_form(&r, nav.user) {
                        let target = here
                            .join(&action)
                            .unwrap_or_else(|| panic!("bad form action {action:?} on {url}"))
                            .to_url();
                        method = "POST".into();
                        body = Some(form_body(&fields));
                        extra = vec![(
                            "Content-Type".into(),
                            "application/x-www-form-urlencoded".into(),
                        )];
                        url = target;
                        continue;
                    }
                }
            }
            return Page {
                url,
                stopped: false,
                response: r,
                trail,
            };
        }
    }

    fn cookie_header(&mut self, u: &Url) -> Option<String> {
        let now = SystemTime::now();
        self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        let path = u.path().to_string();
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.host == u.host && path_matches(&path, &c.path))
            .filter(|c| !c.secure || u.scheme == "https")
            .collect();
        // Longer paths first, as browsers do.
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        if matching.is_empty() {
            return None;
        }
        Some(
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    fn store(&mut self, u: &Url, raw: &str) {
        let Some(sc) = SetCookie::parse(&u.to_url(), raw) else {
            return;
        };
        let path = match sc.attr("path") {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => default_path(u.path()),
        };
        let expires = match (sc.attr("max-age"), sc.attr("expires")) {
            (Some(ma), _) => match ma.parse::<i64>() {
                Ok(n) if n <= 0 => Some(SystemTime::UNIX_EPOCH),
                Ok(n) => Some(SystemTime::now() + Duration::from_secs(n as u64)),
                Err(_) => None,
            },
            (None, Some(e)) => httpdate::parse_http_date(e).ok(),
            (None, None) => None,
        };
        let cookie = Cookie {
            name: sc.name.clone(),
            value: sc.value.clone(),
            host: u.host.clone(),
            path,
            secure: sc.attr("secure").is_some(),
            http_only: sc.attr("httponly").is_some(),
            same_site: sc.attr("samesite").map(str::to_string),
            expires,
        };
        self.cookies
            .retain(|c| !(c.name == cookie.name && c.host == cookie.host && c.path == cookie.path));
        if cookie.expires.is_none_or(|e| e > SystemTime::now()) {
            self.cookies.push(cookie);
        }
        self.set_cookies.push(sc);
    }

    /// The live cookie named `name` for `host` (any path), if any.
    pub fn cookie(&self, host: &str, name: &str) -> Option<&Cookie> {
        let now = SystemTime::now();
        self.cookies
            .iter()
            .find(|c| c.host == host && c.name == name && c.expires.is_none_or(|e| e > now))
    }

    /// Every live cookie.
    pub fn cookies(&self) -> &[Cookie] {
        &self.cookies
    }

    /// Replaces the value of cookie `name` for `host` (every path); panics if there is none.
    #[track_caller]
    pub fn set_cookie_value(&mut self, host: &str, name: &str, value: &str) {
        let mut found = false;
        for c in self
            .cookies
            .iter_mut()
            .filter(|c| c.host == host && c.name == name)
        {
            c.value = value.to_string();
            found = true;
        }
        assert!(found, "no cookie {name} for {host} to change");
    }

    /// Adds (or replaces) a cookie as if a server had set it with `Path=/`.
    pub fn add_cookie(&mut self, host: &str, name: &str, value: &str) {
        self.cookies
            .retain(|c| !(c.host == host && c.name == name && c.path == "/"));
        self.cookies.push(Cookie {
            name: name.into(),
            value: value.into(),
            host: host.into(),
            path: "/".into(),
            secure: false,
            http_only: true,
            same_site: None,
            expires: None,
        });
    }

    /// Removes every cookie named `name` for `host`.
    pub fn remove_cookie(&mut self, host: &str, name: &str) {
        self.cookies.retain(|c| !(c.host == host && c.name == name));
    }

    /// The `Set-Cookie`s received for cookie `name`, in order.
    pub fn set_cookies_named(&self, name: &str) -> Vec<&SetCookie> {
        self.set_cookies.iter().filter(|s| s.name == name).collect()
    }
}

/// The first POST form of `page`: its absolute action URL, the page's origin, and its fields
/// form-encoded.
#[track_caller]
pub fn post_form(page: &Page) -> (String, String, Vec<u8>) {
    let html = page.text();
    let form = forms(&html)
        .into_iter()
        .find(|f| f.method == "POST")
        .unwrap_or_else(|| panic!("no POST form on the page:\n{}", page.describe()));
    let here = Url::parse(&page.url).expect("an absolute page URL");
    let target = here
        .join(&form.action)
        .unwrap_or_else(|| panic!("bad form action {:?}", form.action))
        .to_url();
    (target, here.origin(), form_body(&form.inputs))
}

/// The headers of a form submitted by a person on a page of `origin`.
pub fn same_origin_form_headers(origin: &str) -> [(&str, &str); 6] {
    [
        ("Origin", origin),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Dest", "document"),
        ("Sec-Fetch-User", "?1"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ]
}

/// RFC 6265 5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 5.1.4 default-path.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => request_path[..i].to_string(),
    }
}

/// The provider page's form to submit, with its fields, if it is one the autopilot knows:
/// the login form (needs a user), the consent form, the logout confirmation, or the
/// auto-submitting form_post page.
fn fill_provider_form(r: &Response, user: Option<&str>) -> Option<(String, Vec<(String, String)>)> {
    if !r
        .header("content-type")
        .is_some_and(|c| c.contains("text/html"))
    {
        return None;
    }
    let html = r.text();
    let all = forms(&html);
    // Logout confirmation: the empty form `op.logoutForm`, submitted by "Yes, sign me out".
    if let Some(f) = all
        .iter()
        .find(|f| f.id.as_deref() == Some("op.logoutForm"))
    {
        let mut fields = f.inputs.clone();
        fields.push(("logout".into(), "yes".into()));
        return Some((f.action.clone(), fields));
    }
    let f = all.iter().find(|f| f.method == "POST")?;
    match f.input("prompt") {
        Some("login") => {
            let user = user?;
            let mut fields: Vec<(String, String)> = f
                .inputs
                .iter()
                .filter(|(k, _)| k != "login" && k != "password")
                .cloned()
                .collect();
            fields.push(("login".into(), user.into()));
            fields.push(("password".into(), PASSWORD.into()));
            Some((f.action.clone(), fields))
        }
        Some("consent") => Some((f.action.clone(), f.inputs.clone())),
        _ if html.contains("document.forms[0].submit()") => {
            Some((f.action.clone(), f.inputs.clone()))
        }
        _ => None,
    }
}
