//! The `s3` frontend: the S3 REST API, so awscli, boto3, rclone, s3cmd and the SDKs work
//! against bucketgate as against S3. The caller signs with its own access key; bucketgate
//! verifies that signature ([`crate::s3::verify`]), maps the key to an identity with grants
//! ([`crate::access::access_keys`]), checks the grants per operation, and re-signs upstream.
//!
//! - [`address`]: path-style and virtual-host addressing;
//! - [`buckets`]: client bucket names → upstream pool, bucket and key prefix;
//! - [`query`]: the client's query, parsed once (duplicates refused);
//! - [`operation`]: which S3 operation a request is; everything else is `NotImplemented`;
//! - [`plan`]: signature, grants, upstream path and query;
//! - [`body`]: payload hashes and aws-chunked bodies;
//! - [`protection`]: protection headers forwarded or refused, object responses made safe for
//!   browsers;
//! - [`multi_delete`]: DeleteObjects, checked key by key;
//! - [`response`]: listings filtered to the grants, errors as S3 XML;
//! - [`scope`]: listings confined to the caller's list grants, one range per upstream call;
//! - [`paging`]: a listing page driven with the internal S3 client;
//! - [`markers`]: listing markers sealed, so they never name a key outside the grants;
//! - [`error`]: S3 XML errors, and every refusal rendered as one;
//! - [`forward`]: one S3 call through the proxy phases;
//! - [`xml`]: the S3 XML documents bucketgate reads and writes.

pub mod address;
pub mod body;
pub mod buckets;
pub mod driven;
pub mod error;
pub mod forward;
pub mod markers;
pub mod multi_delete;
pub mod operation;
pub mod paging;
pub mod plan;
pub mod protection;
pub mod query;
pub mod response;
pub mod scope;
pub mod xml;

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bucketgate_plugin::Identity;
use bytes::Bytes;
use pingora_error::Result;
use pingora_http::RequestHeader;
use pingora_proxy::Session;

pub use buckets::S3Route;
pub use error::S3Error;
pub use plan::S3Request;

use crate::access::access_keys::AccessKeyStore;
use crate::access::authorize::{self, show, Decision};
use crate::access::chain::Chain;
use crate::frontend::{Exchange, Frontend, Step};
use crate::reply::{Refusal, Reply};
use crate::s3::verify::carries_credentials;
use markers::MarkerSealer;

/// An `s3` route: its buckets, the access keys it accepts, and the sealer of its listing
/// markers.
pub struct S3 {
    route: S3Route,
    keys: Arc<AccessKeyStore>,
    markers: Arc<MarkerSealer>,
}

impl S3 {
    pub fn new(route: S3Route, keys: Arc<AccessKeyStore>, markers: Arc<MarkerSealer>) -> S3 {
        S3 {
            route,
            keys,
            markers,
        }
    }
}

#[async_trait]
impl Frontend for S3 {
    fn request_id(&self) -> Option<String> {
        Some(error::new_request_id())
    }

    /// Only requests with S3 credentials are attempts (SigV4 headers or a presigned query).
    fn carries_credentials(&self, req: &RequestHeader, _chain: &Chain) -> bool {
        carries_credentials(req)
    }

    /// A request without S3 credentials may be for one of the route's sign-in plugins first;
    /// then SigV4, the grants and the per-identity limit; then ListBuckets and
    /// GetBucketLocation are answered here, DeleteObjects is driven, and the rest forwarded.
    async fn request(&self, session: &mut Session, ex: &mut Exchange<'_>) -> Result<Step> {
        if !carries_credentials(session.req_header()) {
            match authorize::sign_in(session, &ex.gate()).await {
                Some(Decision::Respond(resp)) => return Ok(Step::Plugin(resp)),
                Some(Decision::Refused(refusal, _)) => return Ok(Step::Refuse(refusal)),
                Some(Decision::Proceed(_)) | None => {}
            }
        }
        let request_id = ex
            .request_id
            .map_or_else(error::new_request_id, str::to_owned);
        let incoming = plan::Incoming {
            req: session.req_header(),
            host: ex.host,
            rest: ex.rest,
        };
        let planned = plan::plan(
            &incoming,
            &self.route,
            &self.keys,
            &self.markers,
            SystemTime::now(),
        );
        crate::observe::auth::s3(session.req_header(), plan::verified_identity(&planned));
        if let Ok(verified) = &planned {
            // Verified: the attempt counted before auth goes back before any answer, and the
            // per-identity limit applies to every operation, the ones answered here included.
            ex.admission.settle_attempt().await;
            let identity = verified.identity();
            if let Some(refusal) = ex.check_identity(&identity.subject).await {
                ex.identity = Some(identity.clone());
                return Ok(Step::Refuse(refusal));
            }
        }
        match planned {
            Ok(plan::Planned::Forward(request)) => {
                ex.identity = Some(request.identity.clone());
                let op = request.op;
                let forward = forward::S3Forward::new(request, self.markers.clone(), request_id);
                let active = ex.config.active_content;
                let forward = protection::object_response(op, active, Box::new(forward));
                Ok(Step::Forward(forward))
            }
            Ok(plan::Planned::List(request)) => {
                ex.identity = Some(request.identity.clone());
                let markers = self.markers.clone();
                let drive = paging::ListPages::new(request, markers, request_id, ex.route_name);
                Ok(Step::Drive(Box::new(drive)))
            }
            Ok(plan::Planned::Answer { identity, body }) => {
                ex.identity = Some(identity);
                Ok(Step::Reply(xml_reply(200, body, request_id)))
            }
            Ok(plan::Planned::DeleteObjects(request)) => {
                ex.identity = Some(request.identity.clone());
                let drive = multi_delete::DeleteObjects::new(request, request_id, ex.route_name);
                Ok(Step::Drive(Box::new(drive)))
            }
            Err(refusal) => {
                let plan::Refusal { error, identity } = *refusal;
                refused(session, ex, &error, identity.as_ref()).await;
                ex.identity = identity;
                Ok(Step::Refuse(Refusal::from(error)))
            }
        }
    }

    fn render(&self, refusal: &Refusal, req: &RequestHeader, request_id: Option<&str>) -> Reply {
        error::render(refusal, req, request_id)
    }
}

/// Logs a refusal of planning; a 403 with no verified caller is a failed attempt, counted
/// against the client's address, when the request carried credentials. An anonymous request
/// (no signature at all) guessed nothing: counting it would let a few unsigned probes lock out
/// everyone behind the same NAT address.
async fn refused(
    session: &Session,
    ex: &mut Exchange<'_>,
    err: &S3Error,
    identity: Option<&Identity>,
) {
    if err.status == 403 && identity.is_none() && carries_credentials(session.req_header()) {
        let client = ex.limits.client_ip(session);
        let failures = match client {
            Some(ip) => crate::access::failures::record(ex.limits, ip, true).await,
            None => 0,
        };
        ex.admission.settle_attempt().await;
        log::warn!(
            "s3 auth rejected: route={} client={} failures={failures} {}: {}",
            ex.route_name,
            show(client),
            err.code,
            err.log.as_deref().unwrap_or("")
        );
        return;
    }
    log_refusal(ex.route_name, err, identity);
}

/// The log line of a refusal to a known caller, or of a failure.
pub(crate) fn log_refusal(route_name: &str, err: &S3Error, identity: Option<&Identity>) {
    let who = identity.map_or("-", |i| i.subject.as_str());
    let why = err.log.as_deref().unwrap_or("");
    if err.status >= 500 && err.status != 501 {
        log::error!(
            "s3 request failed: route={route_name} user={who} {} {}: {why}",
            err.status,
            err.code
        );
    } else {
        log::info!(
            "s3 request refused: route={route_name} user={who} {} {}: {why}",
            err.status,
            err.code
        );
    }
}

/// An S3 XML answer with the request's id.
fn xml_reply(status: u16, body: Bytes, request_id: String) -> Reply {
    Reply {
        status,
        content_type: "application/xml",
        body,
        headers: vec![("x-amz-request-id".into(), request_id)],
    }
}
