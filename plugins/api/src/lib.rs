//! The plugin API of bucketgate (crate `bucketgate-plugin`).
//!
//! A plugin sees a narrow, owned view of the request ([`RequestView`]), never Pingora's
//! `Session`, so plugins can be written and unit-tested without a proxy, and the proxy can change
//! its internals without breaking them. A route lists its auth plugins in YAML
//! (`auth: [ {jwt: {...}}, {basic: {...}} ]`); bucketgate tries them in order.
//!
//! The pieces:
//! - [`Plugin`], the trait: authenticate, or answer a request itself (login pages, callbacks);
//! - [`Identity`] and [`Grant`], what authentication yields and what policy checks;
//! - [`Verdict`] and [`Rejection`], the outcomes.
//!
//! Plugins authenticate; they do not speak APIs. Turning a client's API (files, S3, and the
//! APIs to come) into S3 calls is the job of bucketgate's frontends, which also check the
//! credentials that are part of their API (SigV4 on `frontend: s3`).

mod cidr;
mod grant;
mod log_url;
#[cfg(feature = "redis")]
pub mod redis_link;
mod request;

pub use cidr::Cidr;
pub use grant::{grants_from_claims, Grant, GrantTemplate, Operation, Operations};
pub use log_url::without_userinfo;
pub use request::RequestView;

use async_trait::async_trait;
use bytes::Bytes;

/// Who the caller is, and what they may do.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// A stable name for the caller: the JWT `sub`, the Basic user name.
    pub subject: String,
    /// The plugin that authenticated the caller, for logs and metrics.
    pub plugin: String,
    /// Claims the caller presented (a JWT's payload), or an empty map.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// What the caller may do. Nothing outside them is allowed.
    pub grants: Vec<Grant>,
}

/// A refusal. The body shows `public_message` only; `log_reason` goes to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 401 for missing or bad credentials, 403 for good credentials without the right.
    pub status: u16,
    /// Safe to show the client: never a key, a token, or why exactly a signature failed.
    pub public_message: String,
    /// For the operator: what was wrong. Must not contain a secret either.
    pub log_reason: String,
    /// Extra response headers, such as `WWW-Authenticate`.
    pub headers: Vec<(String, String)>,
}

impl Rejection {
    /// A 401 with a challenge header.
    pub fn unauthorized(challenge: &str, log_reason: impl Into<String>) -> Rejection {
        Rejection {
            status: 401,
            public_message: "authentication required".into(),
            log_reason: log_reason.into(),
            headers: vec![("www-authenticate".into(), challenge.into())],
        }
    }
}

/// The outcome of [`Plugin::authenticate`].
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The caller is who they say; the chain stops here.
    Authenticated(Identity),
    /// This request carries no credential of this plugin's kind: try the next plugin.
    NotMine,
    /// The request carries this plugin's kind of credential and it is bad: stop with this
    /// answer. (A bad Bearer token must not fall through to a weaker plugin.) A 401 or 403
    /// here counts as a failed attempt against the client address's lockout.
    Reject(Rejection),
    /// The request has no valid credential of this plugin's kind but belongs to it (an SSO
    /// route: no session, or one that ended): stop with this answer, a sign-in redirect or a
    /// 401. Never a failed attempt: nothing was guessed, and counting it would lock out a whole
    /// office behind one NAT address whose sessions ended at once.
    SignIn(Rejection),
}

/// A problem in a plugin's config section. `path` is relative to the plugin's section
/// (`keys[0].pem_file`, or empty for the section itself); bucketgate turns it into
/// `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub path: String,
    pub message: String,
}

impl ConfigProblem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A complete answer a plugin gives itself: a login page, a callback, a token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// A bucketgate plugin. Every method has a default that does nothing, so a plugin implements
/// only what it is for. Methods must not panic and must not block: a plugin that needs I/O
/// (fetching JWKS, reading a file) does it in the background and reads a cached copy here.
///
/// # Authentication
/// [`Plugin::authenticate`] is called for each plugin of the route's chain in order until one
/// answers [`Verdict::Authenticated`] or [`Verdict::Reject`]. When every plugin says
/// [`Verdict::NotMine`], the client gets 401 with every plugin's [`Plugin::challenge`].
/// Then bucketgate checks the request against the identity's grants (403 when none allows it).
///
/// # Answering requests
/// [`Plugin::respond`] runs before authentication, for each plugin of the route; the first
/// `Some` is sent as the whole response. An OIDC plugin answers its callback path here.
///
#[async_trait]
pub trait Plugin: Send + Sync {
    /// The name in logs and metrics: `jwt`, `basic`, ...
    fn name(&self) -> &str;

    /// Decides who the caller is. Default: not mine.
    async fn authenticate(&self, _req: &RequestView) -> Verdict {
        Verdict::NotMine
    }

    /// Whether this plugin can refuse a credential as a failed attempt (a 401/403
    /// [`Verdict::Reject`]). While such a plugin checks a request, the request counts as an
    /// attempt in flight against the client address's failed-auth lockout, so parallel
    /// guesses cannot outrun it. A plugin whose verdicts are never failed attempts (SSO
    /// sessions: unguessable, and ended ones get [`Verdict::SignIn`]) says false, so a slow
    /// check (a re-check at the provider) never looks like a burst of guesses. Default: true.
    fn counts_failed_attempts(&self) -> bool {
        true
    }

    /// The `WWW-Authenticate` value sent when no plugin of the chain recognised the request.
    fn challenge(&self) -> Option<String> {
        None
    }

    /// Answers the request without going upstream. Default: never.
    async fn respond(&self, _req: &RequestView) -> Option<LocalResponse> {
        None
    }
}
