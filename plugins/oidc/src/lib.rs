//! bucketgate plugin: OpenID Connect sign-in with a session cookie, and browser-minted sealed S3
//! keys (crate `bucketgate-plugin-oidc`).
//!
//! A route lists it as `auth: [ {oidc: {...}} ]` ([`OidcConfig`]). A browser without a session is
//! sent to the provider (authorization-code flow with PKCE S256, `state` and `nonce`); the
//! callback exchanges the code, verifies the ID token, applies the `allow` rules, and creates a
//! session under a new random id in an `HttpOnly` cookie. Requests with the cookie are
//! authenticated from the session, re-checked at the provider every `recheck.interval` (refresh
//! or userinfo). On S3 routes with `mint_keys`, `GET /<bucket>/?auth` mints a sealed S3 key for
//! the signed-in user.
//!
//! The protocol is the well-kept `openidconnect` crate's (discovery, PKCE, nonce, ID-token
//! verification against the JWKS with `iss`/`aud`/`exp`/`nonce` checks); its HTTP client is ureq
//! on tokio's blocking pool.
//!
//! Modules: `config` (the YAML section and its checks), `addr` (URL origins, CIDRs),
//! `provider` (discovery, JWKS, token and userinfo calls), `login` (starting a login, the
//! callback), `session` (authenticating a session, the periodic re-check), `mint` (key
//! minting), `logout`, `csrf` (what makes a POST the user's own), `allow` (who may sign in),
//! `records` (sessions in the store, login states in a cookie, both sealed), `seal` (their
//! encryption), `store` (memory and Redis), `web` (cookies, return URLs, browser detection),
//! `pages` (what people see).

mod addr;
mod allow;
mod config;
mod csrf;
mod login;
mod logout;
mod mint;
mod pages;
mod provider;
mod records;
mod seal;
mod session;
mod store;
mod web;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bucketgate_plugin::{
    ConfigProblem, Grant, LocalResponse, Plugin, Rejection, RequestView, Verdict,
};

pub use config::{
    AllowConfig, CookieConfig, DurationSpec, EmailVerified, MintKeysConfig, OidcConfig,
    RecheckConfig, RecheckMethod, RedisConfig, Secret, SecureMode, SessionStoreConfig,
    Unauthenticated,
};
pub use store::{MemoryStore, RedisStore, SessionStore, StoreError};

use config::{Cidr, ParsedUrl};
use provider::Provider;
use records::Records;

/// The `WWW-Authenticate` value of a non-browser request without a session.
const CHALLENGE: &str = "OIDC realm=\"bucketgate\"";

/// What bucketgate hands the plugin beyond its config section.
pub struct Context {
    /// 32-byte key that encrypts sessions at rest and login states in their cookie
    /// (XChaCha20-Poly1305, random 24-byte nonce), and from which CSRF tokens are derived.
    /// bucketgate derives it from `access_keys.sealing_keys`; without sealing keys it is random
    /// per process.
    pub session_key: zeroize::Zeroizing<[u8; 32]>,
    /// Set on S3 routes; used only when the section has `mint_keys`.
    pub minter: Option<Arc<dyn KeyMinter>>,
}

/// Mints sealed S3 keys for a signed-in user (bucketgate's keyring).
pub trait KeyMinter: Send + Sync {
    fn mint(&self, subject: &str, grants: &[Grant], ttl: Duration) -> Result<MintedKey, String>;
}

/// A freshly minted S3 key pair. Its `Debug` never shows the secret.
pub struct MintedKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for MintedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedKey")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The oidc auth plugin. Build it with [`OidcPlugin::new`].
pub struct OidcPlugin {
    cfg: OidcConfig,
    /// The path of `redirect_url`.
    callback_path: String,
    /// `redirect_url` parsed: its origin is this site's, for return URLs and the key page.
    site: ParsedUrl,
    trusted: Vec<Cidr>,
    provider: Provider,
    records: Records,
    csrf: csrf::Csrf,
    minter: Option<Arc<dyn KeyMinter>>,
    /// Sessions (store keys) whose re-check is running in this process.
    rechecking: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for OidcPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcPlugin")
            .field("issuer", &self.cfg.issuer)
            .field("client_id", &self.cfg.client_id)
            .field("callback_path", &self.callback_path)
            .field("session_store", &self.cfg.session_store)
            .finish_non_exhaustive()
    }
}

impl OidcPlugin {
    /// Checks the config and sets the plugin up. Never touches the network: discovery and the
    /// provider's keys are fetched at first use, and Redis is connected at first use.
    pub fn new(cfg: &OidcConfig, ctx: Context) -> Result<OidcPlugin, ConfigProblem> {
        let store: Arc<dyn SessionStore> = match &cfg.session_store {
            SessionStoreConfig::Memory => Arc::new(MemoryStore::default()),
            SessionStoreConfig::Redis(r) => Arc::new(
                RedisStore::new(&r.url, &r.prefix)
                    .map_err(|why| ConfigProblem::new("session_store.redis.url", why))?,
            ),
        };
        OidcPlugin::with_store(cfg, ctx, store)
    }

    /// [`OidcPlugin::new`] with a store of the caller's choosing.
    pub fn with_store(
        cfg: &OidcConfig,
        ctx: Context,
        store: Arc<dyn SessionStore>,
    ) -> Result<OidcPlugin, ConfigProblem> {
        if let Some(problem) = cfg.validate().into_iter().next() {
            return Err(problem);
        }
        let site = config::parse_absolute(&cfg.redirect_url)
            .ok_or_else(|| ConfigProblem::new("redirect_url", "not an absolute URL"))?;
        let trusted = cfg
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Cidr::parse(p)
                    .map_err(|why| ConfigProblem::new(format!("trusted_proxies[{i}]"), why))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let provider = Provider::new(
            &cfg.issuer,
            &cfg.client_id,
            cfg.client_secret.as_ref().map(|s| s.0.as_str()),
            &cfg.redirect_url,
            &cfg.scopes,
        )
        .map_err(|why| ConfigProblem::new("", why))?;
        Ok(OidcPlugin {
            callback_path: site.path.clone(),
            site,
            trusted,
            provider,
            records: Records::new(store, &ctx.session_key, &cfg.session_binding()),
            csrf: csrf::Csrf::new(&ctx.session_key, &cfg.session_binding())
                .ok_or_else(|| ConfigProblem::new("", "cannot derive the CSRF key"))?,
            minter: ctx.minter.filter(|_| cfg.mint_keys.is_some()),
            rechecking: Mutex::new(HashSet::new()),
            cfg: cfg.clone(),
        })
    }

    /// Whether cookies set in answer to `req` carry `Secure`.
    fn secure(&self, req: &RequestView) -> bool {
        web::secure_cookies(req, self.cfg.cookie.secure, &self.trusted)
    }

    /// The name of the cookie that holds a login in progress.
    fn login_cookie(&self) -> String {
        format!("{}_login", self.cfg.cookie.name)
    }

    /// The login URL that returns to `return_url` (for retry links).
    fn login_link(&self, return_url: &str) -> String {
        format!(
            "{}?rd={}",
            self.cfg.login_path,
            web::query_encode(return_url)
        )
    }
}

/// A 302 to `location` with `cookies`, never cached.
fn redirect(location: &str, cookies: Vec<String>) -> LocalResponse {
    let mut headers = pages::common_headers();
    headers.push(("location".into(), location.to_owned()));
    headers.extend(cookies.into_iter().map(|c| ("set-cookie".into(), c)));
    LocalResponse {
        status: 302,
        headers,
        body: bytes::Bytes::new(),
    }
}

/// A refusal with the status and headers of a local response (a 302 to the login); bucketgate
/// writes the body, so the response's own content headers are left out.
fn rejection_of(resp: LocalResponse, public_message: &str, log_reason: String) -> Rejection {
    Rejection {
        status: resp.status,
        public_message: public_message.to_owned(),
        log_reason,
        headers: resp
            .headers
            .into_iter()
            .filter(|(k, _)| k != "content-type" && k != "content-security-policy")
            .collect(),
    }
}

#[async_trait]
impl Plugin for OidcPlugin {
    fn name(&self) -> &str {
        "oidc"
    }

    /// Never: a session id cannot be guessed, and a request without a live session is sent to
    /// sign in ([`Verdict::SignIn`]), which is not a failed attempt.
    fn counts_failed_attempts(&self) -> bool {
        false
    }

    async fn respond(&self, req: &RequestView) -> Option<LocalResponse> {
        if req.path == self.callback_path {
            return Some(self.callback(req).await);
        }
        if req.path == self.cfg.login_path {
            return Some(self.login_endpoint(req).await);
        }
        if req.path == self.cfg.logout_path {
            return Some(self.logout(req).await);
        }
        if self.minter.is_some() && req.query_param("auth").is_some() {
            return match req.method {
                http::Method::GET | http::Method::HEAD => Some(self.mint_offer(req).await),
                http::Method::POST => Some(self.mint_post(req).await),
                _ => None,
            };
        }
        None
    }

    async fn authenticate(&self, req: &RequestView) -> Verdict {
        self.authenticate_session(req).await
    }
}
