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
//! Modules: `config` (the YAML section and its checks), `keys` (PEM, secret and JWK keys),
//! `jwks` (JWKS documents), `remote` (`jwks_url` sets and their refresher thread), `token`
//! (finding the token, reading its header), `verify` (signatures), `claims` (claim checks; grants come
//! from the plugin API's `grants_from_claims`).

mod claims;
mod config;
mod jwks;
mod keys;
mod remote;
mod token;
mod verify;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bucketgate_plugin::{
    ConfigProblem, GrantTemplate, Identity, Plugin, Rejection, RequestView, Verdict,
};

pub use config::{Algorithm, JwtConfig, KeyConfig, Secret, TokenSource};

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
        if let Some(problem) = cfg.validate().into_iter().next() {
            return Err(problem);
        }
        let mut static_keys = Vec::new();
        let mut remote = Vec::new();
        for (i, entry) in cfg.keys.iter().enumerate() {
            static_keys.extend(keys::load_static(i, entry)?);
            if let Some(url) = &entry.jwks_url {
                remote.push(Arc::new(RemoteSet::new(
                    url.clone(),
                    entry.algorithm,
                    Duration::from_secs(entry.refresh_seconds()),
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
        })
    }

    /// The identity of a token, or why it is refused (a log reason, never holding the token).
    fn check(&self, token: &str) -> Result<Identity, String> {
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
        let subject = claims::check(&claims, &self.rules, unix_now())?;
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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
        match self.check(&token) {
            Ok(identity) => Verdict::Authenticated(identity),
            Err(reason) => Verdict::Reject(rejection(reason)),
        }
    }

    fn challenge(&self) -> Option<String> {
        Some(CHALLENGE.into())
    }
}
