//! The plugin API of bucketgate (crate `bucketgate-plugin`).
//!
//! A plugin sees a narrow, owned view of the request ([`RequestView`]), never Pingora's
//! `Session`, so plugins can be written and unit-tested without a proxy, and the proxy can change
//! its internals without breaking them. A route lists its auth plugins in YAML
//! (`auth: [ {jwt: {...}}, {basic: {...}} ]`); bucketgate tries them in order.
//!
//! The pieces:
//! - [`Plugin`], the trait: authenticate, answer a request itself, translate an API to S3;
//! - [`Identity`] and [`Grant`], what authentication yields and what policy checks;
//! - [`Verdict`] and [`Rejection`], the outcomes;
//! - [`S3Request`], [`ResponseTranslator`] and [`BodyTranslator`], the translation seam.

mod cidr;
mod grant;
mod log_url;
#[cfg(feature = "redis")]
pub mod redis_link;
mod request;
mod translate;

pub use cidr::Cidr;
pub use grant::{grants_from_claims, Grant, GrantTemplate, Operation, Operations};
pub use log_url::without_userinfo;
pub use request::RequestView;
pub use translate::{BodyTranslator, ResponseHead, ResponseTranslator, S3Request};

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
/// # Translating an API to S3
/// A frontend plugin turns a call of some existing API into one S3 operation, and the S3
/// response back into that API's response, streaming. How the two APIs we must host map:
///
/// **AMO parcel storage.** `POST /api/v1/parcels` with a `multipart/form-data` body (fields
/// `metadata` and `data`) becomes a `PUT` of one object:
/// - [`Plugin::translate_request`] returns `S3Request { method: PUT, key:
///   Some("<owner>/<new parcel id>"), headers: x-amz-meta-owner / x-amz-meta-metadata (from
///   the query or headers the client sends), body_sha256: the upload hash the client declares }`.
///   With a declared SHA-256 the upstream itself rejects a body that does not match, with no
///   buffering.
/// - [`Plugin::request_body_translator`] strips the multipart framing piece by piece, passing
///   only the `data` part's bytes on; the upstream `Content-Length` is the request's length
///   minus the framing, which [`S3Request::content_length`] declares once the client's
///   `Content-Length` and the boundary (from `Content-Type`) are known.
/// - The response translator turns the upstream's 200 into `201 {"id": ...}`.
///
/// A download, `GET /api/v1/parcels/<id>`, becomes `S3Request { method: GET, key:
/// Some("<owner>/<id>") }`; [`ResponseTranslator::head`] sets `content-type:
/// application/json` and drops `content-length` (the body grows), and
/// [`ResponseTranslator::body`] emits `{"id":"..","owner":"..","metadata":{..},"data":"` before
/// the first chunk, each chunk hex-encoded as it streams, and `"}` at the end: constant memory
/// for any size.
///
/// **odrive Gateway.** `GET /v2/gateway_metadata_children/<id>` becomes `S3Request { method:
/// GET, key: None, query: [("list-type","2"), ("prefix", "<decoded id>/"), ("delimiter","/")]
/// }`, a ListObjectsV2 of the folder. The listing is small (1000 keys a page), so the response
/// translator collects the XML and, at the end of the stream, emits the API's JSON:
/// `CommonPrefixes` become folders, `Contents` files, `NextContinuationToken` the next page
/// link.
///
/// Policy checks the translated operation: the key (or, for a listing, the prefix) that goes
/// upstream, never the raw API path.
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

    /// Turns an API call into one S3 operation. `Ok(None)`: not an API call of this plugin;
    /// the route's own frontend handles it.
    async fn translate_request(
        &self,
        _req: &RequestView,
        _identity: Option<&Identity>,
    ) -> Result<Option<S3Request>, Rejection> {
        Ok(None)
    }

    /// A per-request transformer of the request body, for an API whose body is not the object
    /// (multipart). Called only when [`Plugin::translate_request`] returned an operation.
    fn request_body_translator(&self, _req: &RequestView) -> Option<Box<dyn BodyTranslator>> {
        None
    }

    /// A per-request transformer of the upstream response. Called only when
    /// [`Plugin::translate_request`] returned an operation.
    fn response_translator(&self, _req: &RequestView) -> Option<Box<dyn ResponseTranslator>> {
        None
    }
}
