//! The `s3` frontend: the S3 REST API, so awscli, boto3, rclone, s3cmd and the SDKs work
//! against bucketgate as against S3. The caller signs with its own access key; bucketgate
//! verifies that signature ([`crate::s3::verify`]), maps the key to an identity with grants
//! ([`crate::access::access_keys`]), checks the grants per operation, and re-signs upstream.
//!
//! - [`address`]: path-style and virtual-host addressing;
//! - [`buckets`]: client bucket names → upstream pool, bucket and key prefix;
//! - [`operation`]: which S3 operation a request is; everything else is `NotImplemented`;
//! - [`plan`]: signature, grants, upstream path and query;
//! - [`body`]: payload hashes and aws-chunked bodies;
//! - [`multi_delete`]: DeleteObjects, checked key by key;
//! - [`response`]: listings filtered to the grants, errors as S3 XML;
//! - [`markers`]: listing markers sealed, so they never name a key outside the grants;
//! - [`error`]: S3 XML errors.

pub mod address;
pub mod body;
pub mod buckets;
pub mod error;
pub mod markers;
pub mod multi_delete;
pub mod operation;
pub mod plan;
pub mod response;
pub mod xml;

use std::time::SystemTime;

use bucketgate_plugin::Identity;
use bytes::Bytes;
use pingora_error::Result;
use pingora_proxy::Session;

pub use buckets::S3Route;
pub use error::S3Error;
pub use plan::S3Request;

use crate::gateway::Gateway;
use crate::limit::Admission;
use crate::reply;

/// What the request phase decided.
pub enum Decision {
    /// Go upstream with this plan.
    Forward(Box<S3Request>),
    /// The client has its answer; the identity (if verified) is for the log.
    Answered(Option<Identity>),
}

/// Plans a request on S3 route `route`, answering it locally when that is the whole job
/// (errors, ListBuckets, GetBucketLocation, DeleteObjects).
pub async fn handle(
    session: &mut Session,
    gateway: &Gateway,
    route: usize,
    host: &str,
    rest: &str,
    request_id: &str,
    adm: &mut Admission,
) -> Result<Decision> {
    let Some(s3_route) = gateway.s3_routes[route].as_ref() else {
        return Err(pingora_error::Error::explain(
            pingora_error::ErrorType::InternalError,
            "S3 route without its bucket table",
        ));
    };
    let incoming = plan::Incoming {
        req: session.req_header(),
        host,
        rest,
    };
    let planned = plan::plan(
        &incoming,
        s3_route,
        &gateway.keys,
        &gateway.markers,
        SystemTime::now(),
    );
    crate::observe::auth::s3(session.req_header(), &planned);
    if let Ok(verified) = &planned {
        // Verified: the attempt counted before auth goes back before any answer, and the
        // per-identity limit applies to every operation, the ones answered here included.
        adm.settle_attempt().await;
        let identity = verified.identity();
        if let Some(refusal) = gateway
            .limits
            .after_auth(route, &identity.subject, adm)
            .await
        {
            let identity = identity.clone();
            crate::limit::answer::send(session, gateway, route, &refusal, Some(request_id)).await?;
            return Ok(Decision::Answered(Some(identity)));
        }
    }
    match planned {
        Ok(plan::Planned::Forward(request)) => Ok(Decision::Forward(request)),
        Ok(plan::Planned::Answer { identity, body }) => {
            send_xml(session, 200, body, request_id).await?;
            Ok(Decision::Answered(Some(identity)))
        }
        Ok(plan::Planned::DeleteObjects(request)) => {
            match multi_delete::handle(session, &request, &gateway.connector).await? {
                multi_delete::Outcome::Done { status, body } => {
                    send_xml(session, status, body, request_id).await?;
                }
                multi_delete::Outcome::Refused(err) => {
                    refuse(
                        session,
                        gateway,
                        route,
                        &err,
                        Some(&request.identity),
                        request_id,
                        adm,
                    )
                    .await?;
                }
            }
            Ok(Decision::Answered(Some(request.identity)))
        }
        Err(refusal) => {
            let plan::Refusal { error, identity } = *refusal;
            refuse(
                session,
                gateway,
                route,
                &error,
                identity.as_ref(),
                request_id,
                adm,
            )
            .await?;
            Ok(Decision::Answered(identity))
        }
    }
}

/// Logs and sends an S3 error.
async fn refuse(
    session: &mut Session,
    gateway: &Gateway,
    route: usize,
    err: &S3Error,
    identity: Option<&Identity>,
    request_id: &str,
    adm: &mut Admission,
) -> Result<()> {
    let client = gateway.limits.client_ip(session);
    let who = identity.map_or("-", |i| i.subject.as_str());
    let why = err.log.as_deref().unwrap_or("");
    if err.status == 403 && identity.is_none() {
        let failures = match client {
            Some(ip) => {
                let pending = crate::s3::verify::carries_credentials(session.req_header());
                crate::access::failures::record(&gateway.limits, ip, pending).await
            }
            None => 0,
        };
        adm.settle_attempt().await;
        log::warn!(
            "s3 auth rejected: route={} client={} failures={failures} {}: {why}",
            gateway.route_name(route),
            crate::access::authorize::show(client),
            err.code
        );
    } else if err.status >= 500 && err.status != 501 {
        log::error!(
            "s3 request failed: route={} user={who} {} {}: {why}",
            gateway.route_name(route),
            err.status,
            err.code
        );
    } else {
        log::info!(
            "s3 request refused: route={} user={who} {} {}: {why}",
            gateway.route_name(route),
            err.status,
            err.code
        );
    }
    error::send(session, err, request_id).await
}

async fn send_xml(session: &mut Session, status: u16, body: Bytes, request_id: &str) -> Result<()> {
    reply::send(
        session,
        status,
        "application/xml",
        body,
        &[("x-amz-request-id", request_id)],
    )
    .await
}
