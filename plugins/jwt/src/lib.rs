//! bucketgate plugin: JWT bearer-token authentication (crate `bucketgate-plugin-jwt`).
//!
//! A route lists it as `auth: [ {jwt: {...}} ]` ([`JwtConfig`]). For each request the plugin
//! looks for a token (Authorization: Bearer, a query parameter, a cookie); without one it
//! answers `NotMine`, so the next plugin of the chain may try. A token it finds must verify with
//! one of the configured keys, each pinned to one algorithm, and pass the claim checks (exp,
//! nbf, iss, aud, subject); any failure is a 401 whose log reason says precisely why. A valid
//! token yields an [`Identity`] whose grants come from the configured templates and, optionally,
//! from a claim.
//!
//! A token that verified is remembered for `cache_seconds` (never past its `exp`), so a client
//! sending the same token on every request pays for its verification once (`cache`).
//!
//! Modules: `config` (the YAML section and its checks), `keys` (PEM, secret and JWK keys),
//! `hmac_key` (HMAC keys keyed once), `jwks` (JWKS documents), `remote` (`jwks_url` sets and
//! their refresher thread), `token` (finding the token, reading its header), `verify`
//! (signatures), `claims` (claim checks; grants come from the plugin API's
//! `grants_from_claims`), `cache` (verified tokens), `clock` (now, settable in tests).

mod cache;
mod claims;
mod clock;
mod config;
mod hmac_key;
mod jwks;
mod keys;
mod remote;
mod token;
mod verify;

#[cfg(test)]
mod tests;

#[cfg(test)]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bucketgate_plugin::{
    ConfigProblem, GrantTemplate, Identity, Plugin, Rejection, RequestView, Verdict,
};

pub use config::{Algorithm, JwtConfig, KeyConfig, Secret, TokenSource};

use cache::TokenCache;
use clock::Clock;
use keys::VerifyKey;
use remote::{Refresher, RemoteSet, Timing};

/// The `WWW-Authenticate` challenge when no plugin recognised the request.
const CHALLENGE: &str = "Bearer realm=\"bucketgate\"";
/// The `WWW-Authenticate` value of a rejected token (RFC 6750).
const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"bucketgate\", error=\"invalid_token\"";

/// The JWT bearer-token auth plugin. Build it with [`JwtPlugin::new`].
pub struct JwtPlugin {
    rules: claims::Rules,
    sources: Vec<TokenSource>,
    templates: Vec<GrantTemplate>,
    grants_claim: Option<String>,
    /// Keys from `secret`, `pem_file` and `jwks_file`, fixed at start.
    static_keys: Vec<VerifyKey>,
    /// `jwks_url` sets, refreshed in the background.
    remote: Vec<Arc<RemoteSet>>,
    /// The refresher thread's handle; dropping it stops the thread.
    refresher: Option<Refresher>,
    /// Tokens that verified, with their identity; shared with `remote`, which clears it.
    cache: Arc<TokenCache>,
    clock: Clock,
    /// How many tokens went through full verification (cache misses).
    #[cfg(test)]
    verifications: AtomicUsize,
}

impl std::fmt::Debug for JwtPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtPlugin")
            .field("static_keys", &self.static_keys)
            .field(
                "jwks_urls",
                &self.remote.iter().map(|r| &r.label).collect::<Vec<_>>(),
            )
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl JwtPlugin {
    /// Checks the config, loads every key, and for `jwks_url` entries does one blocking fetch
    /// with a short timeout (a failure is logged; the plugin starts without those keys and keeps
    /// retrying) and starts the background refresher thread.
    pub fn new(cfg: &JwtConfig) -> Result<JwtPlugin, ConfigProblem> {
        JwtPlugin::with_timing(cfg, Timing::default())
    }

    pub(crate) fn with_timing(cfg: &JwtConfig, timing: Timing) -> Result<JwtPlugin, ConfigProblem> {
        let cache = TokenCache::new(cfg.cache_seconds);
        JwtPlugin::with_parts(cfg, timing, Clock::System, cache)
    }

    /// The plugin with a given refresher pace, clock and (empty) cache.
    pub(crate) fn with_parts(
        cfg: &JwtConfig,
        timing: Timing,
        clock: Clock,
        cache: TokenCache,
    ) -> Result<JwtPlugin, ConfigProblem> {
        if let Some(problem) = cfg.validate().into_iter().next() {
            return Err(problem);
        }
        let cache = Arc::new(cache);
        let mut static_keys = Vec::new();
        let mut remote = Vec::new();
        for (i, entry) in cfg.keys.iter().enumerate() {
            static_keys.extend(keys::load_static(i, entry)?);
            if let Some(url) = &entry.jwks_url {
                remote.push(Arc::new(RemoteSet::new(
                    url.clone(),
                    entry.algorithm,
                    Duration::from_secs(entry.refresh_seconds()),
                    Arc::clone(&cache),
                )));
            }
        }
        let refresher = remote::start(&remote, timing);
        Ok(JwtPlugin {
            rules: claims::Rules {
                issuer: cfg.issuer.clone(),
                audience: cfg.audience.clone(),
                leeway_seconds: cfg.leeway_seconds,
                subject_claim: cfg.subject_claim.clone(),
            },
            sources: cfg.token_from.clone(),
            templates: cfg.grants.clone(),
            grants_claim: cfg.grants_claim.clone(),
            static_keys,
            remote,
            refresher,
            cache,
            clock,
            #[cfg(test)]
            verifications: AtomicUsize::new(0),
        })
    }

    /// The identity of a token at `now`, or why it is refused (a log reason, never holding the
    /// token): from the cache, or verified and then cached.
    fn identify(&self, token: &str) -> Result<Identity, String> {
        let now = self.clock.now();
        if let Some(identity) = self.cache.get(token, now) {
            return Ok(identity);
        }
        // Read before the keys: a key-set change from now on refuses the insertion.
        let generation = self.cache.generation();
        let identity = self.check(token, now)?;
        self.cache.insert(token, &identity, now, generation);
        Ok(identity)
    }

    /// Full verification of a token at `now`: its header, its signature, its claims.
    fn check(&self, token: &str, now: u64) -> Result<Identity, String> {
        #[cfg(test)]
        self.verifications.fetch_add(1, Ordering::SeqCst);
        let header = token::header(token)?;
        let remote_keys: Vec<Arc<Vec<VerifyKey>>> = self.remote.iter().map(|r| r.keys()).collect();
        let all_keys = || {
            self.static_keys
                .iter()
                .chain(remote_keys.iter().flat_map(|set| set.iter()))
        };
        if let (Some(kid), Some(refresher)) = (&header.kid, &self.refresher) {
            if !all_keys().any(|k| k.kid.as_ref() == Some(kid)) {
                // Perhaps a key rotation: ask for an early refresh, without waiting for it.
                refresher.nudge();
            }
        }
        let claims = verify::verify(token, &header, all_keys())?;
        let subject = claims::check(&claims, &self.rules, now)?;
        let grants = bucketgate_plugin::grants_from_claims(
            &claims,
            &self.templates,
            self.grants_claim.as_deref(),
        );
        Ok(Identity {
            subject,
            plugin: "jwt".into(),
            claims,
            grants,
        })
    }
}

fn rejection(log_reason: String) -> Rejection {
    Rejection {
        status: 401,
        public_message: "invalid token".into(),
        log_reason,
        headers: vec![("www-authenticate".into(), INVALID_TOKEN_CHALLENGE.into())],
    }
}

#[async_trait]
impl Plugin for JwtPlugin {
    fn name(&self) -> &str {
        "jwt"
    }

    async fn authenticate(&self, req: &RequestView) -> Verdict {
        let Some(token) = token::find(req, &self.sources) else {
            return Verdict::NotMine;
        };
        match self.identify(&token) {
            Ok(identity) => Verdict::Authenticated(identity),
            Err(reason) => Verdict::Reject(rejection(reason)),
        }
    }

    fn challenge(&self) -> Option<String> {
        Some(CHALLENGE.into())
    }
}
