//! The oidc plugin's config section (what users write under `auth: [ {oidc: {...}} ]`), and its
//! static checks. Nothing here touches the clock or the network: discovery happens at first use.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bucketgate_plugin::{ConfigProblem, GrantTemplate};
use serde::Deserialize;

pub use crate::addr::{parse_absolute, without_userinfo, Cidr, ParsedUrl};

/// Default `login_path`.
pub const DEFAULT_LOGIN_PATH: &str = "/_bucketgate/oidc/login";
/// Default `logout_path`.
pub const DEFAULT_LOGOUT_PATH: &str = "/_bucketgate/oidc/logout";
/// Default session cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "bucketgate_session";

/// The `oidc:` section of a route's `auth` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// The client secret (`client_secret_basic`); without one the client is public (PKCE only).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Absolute URL registered at the provider; its path is the callback path.
    pub redirect_url: String,
    /// Scopes asked for; `openid` is always added.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// `GET ?rd=<return url>` starts a login.
    #[serde(default = "default_login_path")]
    pub login_path: String,
    /// `GET`/`POST ?rd=<return url>` ends the session.
    #[serde(default = "default_logout_path")]
    pub logout_path: String,
    /// Where a logout ends without `rd`.
    #[serde(default = "default_post_logout_url")]
    pub post_logout_url: String,
    #[serde(default)]
    pub cookie: CookieConfig,
    /// Peers (CIDR) whose `X-Forwarded-Proto` is believed for the cookie's `Secure`.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// How long a started login may take (the life of its login cookie).
    #[serde(default = "default_state_ttl")]
    pub state_ttl: DurationSpec,
    /// What a request without a session gets.
    #[serde(default)]
    pub unauthenticated: Unauthenticated,
    /// Who may sign in at all, checked at sign-in and again on every request.
    #[serde(default)]
    pub allow: Option<AllowConfig>,
    /// Whether the `email` claim counts (for `allow.email_domains` and `{email}` in grants)
    /// only with `email_verified: true` (the default), or also without the claim.
    #[serde(default)]
    pub email_verified: EmailVerified,
    /// The claim that names the caller (a non-empty string).
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Grants given to every signed-in user; `{claim}` placeholders are filled from the claims.
    #[serde(default)]
    pub grants: Vec<GrantTemplate>,
    /// A claim holding a JSON array of `{bucket, prefix, operations}` grants.
    #[serde(default)]
    pub grants_claim: Option<String>,
    #[serde(default)]
    pub recheck: RecheckConfig,
    #[serde(default)]
    pub session_store: SessionStoreConfig,
    /// Set to let `/<bucket>/?auth` mint sealed S3 keys (S3 routes only).
    #[serde(default)]
    pub mint_keys: Option<MintKeysConfig>,
}

/// A client secret. Its `Debug` never shows the value.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// The session cookie.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieConfig {
    #[serde(default = "default_cookie_name")]
    pub name: String,
    /// Session lifetime: the store TTL and the cookie's Max-Age.
    #[serde(default = "default_lifetime")]
    pub lifetime: DurationSpec,
    #[serde(default)]
    pub secure: SecureMode,
}

impl Default for CookieConfig {
    fn default() -> CookieConfig {
        CookieConfig {
            name: default_cookie_name(),
            lifetime: default_lifetime(),
            secure: SecureMode::Auto,
        }
    }
}

/// When the session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecureMode {
    /// When the request came over TLS, or a trusted proxy says `X-Forwarded-Proto: https`.
    #[default]
    Auto,
    Always,
    Never,
}

/// What a request without a valid session gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unauthenticated {
    /// Browsers (GET/HEAD, not asking for JSON, no X-Requested-With) go to the login; others 401.
    #[default]
    Auto,
    /// Always a 302 to the login.
    Redirect,
    /// Always 401.
    Deny,
}

/// When the `email` claim may be used for decisions (`allow.email_domains`, `{email}` in grants).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailVerified {
    /// Only with `email_verified: true`: a missing or false claim makes the email unusable.
    #[default]
    Required,
    /// The opt-out, for providers that never send `email_verified` (their emails are verified
    /// by other means): a missing claim is accepted; `false` is still refused.
    WhenPresent,
}

/// Restrictions on who may sign in; every one that is set must pass.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowConfig {
    /// The `email` claim's domain must be one of these (and the email verified, see
    /// [`EmailVerified`]).
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// At least one of these must be in `groups_claim`.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
}

/// The periodic re-check of a session at the provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecheckConfig {
    /// `0s` disables the re-check.
    #[serde(default = "default_recheck_interval")]
    pub interval: DurationSpec,
    #[serde(default)]
    pub method: RecheckMethod,
}

impl Default for RecheckConfig {
    fn default() -> RecheckConfig {
        RecheckConfig {
            interval: default_recheck_interval(),
            method: RecheckMethod::Refresh,
        }
    }
}

/// How a session is re-checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecheckMethod {
    /// Refresh the tokens; userinfo when there is no refresh token.
    #[default]
    Refresh,
    /// Ask the userinfo endpoint with the access token.
    Userinfo,
}

/// Where sessions and login states live. In YAML: `memory` or `{redis: {url, prefix}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SessionStoreConfig {
    /// In this process only.
    #[default]
    Memory,
    /// Shared by every instance that uses the same Redis.
    Redis(RedisConfig),
}

impl SessionStoreConfig {
    /// Whether several instances share the store (then they must share the session key).
    pub fn is_shared(&self) -> bool {
        matches!(self, SessionStoreConfig::Redis(_))
    }
}

/// A Redis session store.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` (or `rediss://`).
    pub url: String,
    /// Prefix of every key.
    #[serde(default = "default_redis_prefix")]
    pub prefix: String,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &without_userinfo(&self.url))
            .field("prefix", &self.prefix)
            .finish()
    }
}

const STORE_EXPECTED: &str = "`memory` or `{redis: {url: ..., prefix: ...}}`";

// By hand: serde_yaml wants `!redis {...}` for an enum, users write `{redis: {...}}`.
impl<'de> Deserialize<'de> for SessionStoreConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SessionStoreConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(STORE_EXPECTED)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SessionStoreConfig, E> {
                match v {
                    "memory" => Ok(SessionStoreConfig::Memory),
                    other => Err(E::custom(format!(
                        "unknown session store {other:?}, expected {STORE_EXPECTED}"
                    ))),
                }
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<SessionStoreConfig, M::Error> {
                use serde::de::Error as _;
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(M::Error::custom(format!(
                        "empty map, expected {STORE_EXPECTED}"
                    )));
                };
                let store = match kind.as_str() {
                    "redis" => SessionStoreConfig::Redis(map.next_value()?),
                    "memory" => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        SessionStoreConfig::Memory
                    }
                    other => {
                        return Err(M::Error::custom(format!(
                            "unknown session store {other:?}, expected {STORE_EXPECTED}"
                        )))
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(M::Error::custom(format!(
                        "one store only, expected {STORE_EXPECTED}"
                    )));
                }
                Ok(store)
            }
        }

        d.deserialize_any(Visitor)
    }
}

/// Minting sealed S3 keys at `/<bucket>/?auth`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintKeysConfig {
    /// Lifetime of a minted key.
    #[serde(default = "default_mint_ttl")]
    pub ttl: DurationSpec,
}

/// A duration written `90s`, `5m`, `8h` or `1d` (whole numbers; `0s` is zero).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DurationSpec(pub Duration);

impl DurationSpec {
    pub fn get(self) -> Duration {
        self.0
    }

    /// Parses `<digits><s|m|h|d>`.
    pub fn parse(text: &str) -> Result<DurationSpec, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("{text:?} has no unit: write 60s, 5m, 8h or 1d"))?;
        let (digits, unit) = text.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is not <number><unit>, as in 60s, 5m, 8h or 1d"))?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
        };
        let secs = n
            .checked_mul(scale)
            .filter(|s| *s <= 10 * 365 * 86_400)
            .ok_or_else(|| format!("{text:?} is too long"))?;
        Ok(DurationSpec(Duration::from_secs(secs)))
    }
}

impl fmt::Debug for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0.as_secs())
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DurationSpec::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn secs(n: u64) -> DurationSpec {
    DurationSpec(Duration::from_secs(n))
}
fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}
fn default_login_path() -> String {
    DEFAULT_LOGIN_PATH.into()
}
fn default_logout_path() -> String {
    DEFAULT_LOGOUT_PATH.into()
}
fn default_post_logout_url() -> String {
    "/".into()
}
fn default_cookie_name() -> String {
    DEFAULT_COOKIE_NAME.into()
}
fn default_lifetime() -> DurationSpec {
    secs(8 * 3600)
}
fn default_state_ttl() -> DurationSpec {
    secs(60)
}
fn default_subject_claim() -> String {
    "sub".into()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_recheck_interval() -> DurationSpec {
    secs(300)
}
fn default_redis_prefix() -> String {
    "bucketgate:".into()
}
fn default_mint_ttl() -> DurationSpec {
    secs(12 * 3600)
}

/// A cookie name: an RFC 6265 token.
fn valid_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A local path config value: starts with one `/`, printable ASCII without `?`, `#`, `\`.
fn valid_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && path
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '\\'))
}

impl OidcConfig {
    /// The callback path: the path of `redirect_url` (None when that URL is unusable).
    pub fn callback_path(&self) -> Option<String> {
        parse_absolute(&self.redirect_url).map(|u| u.path)
    }

    /// The sign-in host: `redirect_url`'s host (lower case, without the port). The session
    /// cookie lives there, and keys are minted there.
    pub fn sign_in_host(&self) -> Option<String> {
        parse_absolute(&self.redirect_url).map(|u| u.host)
    }

    /// What a session is bound to: the provider and client, the cookie name, and every rule
    /// that decides who the session is (`subject_claim`) and who may use it (`allow`,
    /// `email_verified`). Routes whose sections agree on all of them share sessions; a session
    /// made on one route never opens on a route that differs in any of them (another cookie
    /// name, stricter `allow` rules). Lists are sorted, so their order does not matter.
    pub fn session_binding(&self) -> String {
        let allow = match &self.allow {
            None => "none".to_string(),
            Some(a) => {
                let mut domains: Vec<String> = a
                    .email_domains
                    .iter()
                    .map(|d| d.to_ascii_lowercase())
                    .collect();
                domains.sort();
                domains.dedup();
                let mut groups = a.groups.clone();
                groups.sort();
                groups.dedup();
                format!(
                    "domains={domains:?} groups={groups:?} claim={:?}",
                    a.groups_claim
                )
            }
        };
        format!(
            "issuer={:?}\nclient={:?}\ncookie={:?}\nsubject={:?}\nemail_verified={:?}\nallow={allow}",
            self.issuer, self.client_id, self.cookie.name, self.subject_claim, self.email_verified
        )
    }

    /// Every problem of this section. Paths are relative to the section. Messages never hold a
    /// secret.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| {
            problems.push(ConfigProblem::new(path, message));
        };
        match parse_absolute(&self.issuer) {
            None => problem(
                "issuer",
                "must be an absolute http(s) URL without user info, such as https://login.example.com/realms/acme".into(),
            ),
            Some(u) if u.has_query_or_fragment => {
                problem("issuer", "must not have a query or fragment".into())
            }
            Some(u) if u.scheme == "http" && !is_loopback_host(&u.host) => problem(
                "issuer",
                "must be https (plain http is accepted only for a loopback provider)".into(),
            ),
            Some(_) => {}
        }
        if self.client_id.trim().is_empty() {
            problem("client_id", "must not be empty".into());
        }
        if self.client_secret.as_ref().is_some_and(|s| s.0.is_empty()) {
            problem(
                "client_secret",
                "must not be empty (leave it out for a public client)".into(),
            );
        }
        let callback = match parse_absolute(&self.redirect_url) {
            None => {
                problem(
                    "redirect_url",
                    "must be an absolute http(s) URL, such as https://files.example.com/_bucketgate/oidc/callback".into(),
                );
                None
            }
            Some(u) if u.has_query_or_fragment => {
                problem("redirect_url", "must not have a query or fragment".into());
                None
            }
            Some(u) if !valid_local_path(&u.path) || u.path == "/" => {
                problem(
                    "redirect_url",
                    "its path (the callback path) must be a path below / without \\".into(),
                );
                None
            }
            Some(u) => Some(u.path),
        };
        if !self.scopes.iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        }) {
            problem(
                "scopes",
                "each scope must be a non-empty word without spaces or quotes".into(),
            );
        }
        for (field, path) in [
            ("login_path", &self.login_path),
            ("logout_path", &self.logout_path),
        ] {
            if !valid_local_path(path) {
                problem(
                    field,
                    "must start with a single / and hold no spaces, ?, # or \\".into(),
                );
            }
        }
        if self.login_path == self.logout_path {
            problem("logout_path", "must differ from login_path".into());
        }
        if let Some(cb) = &callback {
            if *cb == self.login_path {
                problem(
                    "login_path",
                    "must differ from the callback path (redirect_url's path)".into(),
                );
            }
            if *cb == self.logout_path {
                problem(
                    "logout_path",
                    "must differ from the callback path (redirect_url's path)".into(),
                );
            }
        }
        let post_logout_ok = if self.post_logout_url.starts_with('/') {
            valid_local_path(&self.post_logout_url.replace(['?', '#'], "/"))
        } else {
            parse_absolute(&self.post_logout_url).is_some()
        };
        if !post_logout_ok {
            problem(
                "post_logout_url",
                "must be a local path starting with a single / or an absolute http(s) URL".into(),
            );
        }
        if !valid_cookie_name(&self.cookie.name) {
            problem(
                "cookie.name",
                "must be 1-64 characters of letters, digits, _, - and .".into(),
            );
        }
        if self.cookie.lifetime.0 < Duration::from_secs(60) {
            problem("cookie.lifetime", "must be at least 60s".into());
        }
        for (i, p) in self.trusted_proxies.iter().enumerate() {
            if let Err(why) = Cidr::parse(p) {
                problem(&format!("trusted_proxies[{i}]"), why);
            }
        }
        let state = self.state_ttl.0;
        if state < Duration::from_secs(10) || state > Duration::from_secs(3600) {
            problem("state_ttl", "must be between 10s and 1h".into());
        }
        if let Some(allow) = &self.allow {
            if allow.email_domains.is_empty() && allow.groups.is_empty() {
                problem(
                    "allow",
                    "name email_domains or groups (or leave allow out)".into(),
                );
            }
            for (i, d) in allow.email_domains.iter().enumerate() {
                if d.is_empty() || d.contains('@') || d.chars().any(|c| c.is_whitespace()) {
                    problem(
                        &format!("allow.email_domains[{i}]"),
                        "must be a domain such as example.com, without @".into(),
                    );
                }
            }
            if allow.groups.iter().any(String::is_empty) {
                problem("allow.groups", "group names must not be empty".into());
            }
            if allow.groups_claim.is_empty() {
                problem("allow.groups_claim", "must not be empty".into());
            }
        }
        if self.subject_claim.is_empty() {
            problem("subject_claim", "must not be empty".into());
        }
        if self.grants_claim.as_deref() == Some("") {
            problem(
                "grants_claim",
                "must not be empty (leave it out instead)".into(),
            );
        }
        for (i, grant) in self.grants.iter().enumerate() {
            for (field, template) in [("bucket", &grant.bucket), ("prefix", &grant.prefix)] {
                if let Err(why) = check_placeholders(template) {
                    problem(&format!("grants[{i}].{field}"), why);
                }
            }
            if grant.bucket.is_empty() {
                problem(
                    &format!("grants[{i}].bucket"),
                    "must not be empty (`*` is any bucket)".into(),
                );
            }
        }
        let interval = self.recheck.interval.0;
        if !interval.is_zero() && interval < Duration::from_secs(1) {
            problem("recheck.interval", "must be 0s (off) or at least 1s".into());
        }
        if let SessionStoreConfig::Redis(redis) = &self.session_store {
            let scheme_ok = redis.url.starts_with("redis://")
                || redis.url.starts_with("rediss://")
                || redis.url.starts_with("redis+unix://")
                || redis.url.starts_with("unix://");
            if !scheme_ok {
                problem(
                    "session_store.redis.url",
                    "must be a redis://, rediss:// or unix:// URL".into(),
                );
            }
            if redis
                .prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
            {
                problem(
                    "session_store.redis.prefix",
                    "must not hold spaces or control characters".into(),
                );
            }
        }
        if let Some(mint) = &self.mint_keys {
            let ttl = mint.ttl.0;
            if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(7 * 86_400) {
                problem("mint_keys.ttl", "must be between 60s and 7d".into());
            }
        }
        problems
    }
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `{name}` placeholders must be closed, non-empty and not nested (as the jwt plugin checks).
fn check_placeholders(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find(['{', '}']) {
        if rest[start..].starts_with('}') {
            return Err(format!("unmatched '}}' in {template:?}"));
        }
        let Some(len) = rest[start + 1..].find(['{', '}']) else {
            return Err(format!("unclosed '{{' in {template:?}"));
        };
        let end = start + 1 + len;
        if rest[end..].starts_with('{') {
            return Err(format!("nested '{{' in {template:?}"));
        }
        if end == start + 1 {
            return Err(format!("empty placeholder '{{}}' in {template:?}"));
        }
        rest = &rest[end + 1..];
    }
    Ok(())
}
