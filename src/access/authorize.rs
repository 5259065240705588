//! The authorization step of `request_filter`: run the route's auth chain, then check the
//! identity's grants against the planned upstream operation. Answers the client itself on any
//! refusal; the reason goes to the log, never to the body.

use std::net::IpAddr;

use bucketgate_plugin::Identity;
use pingora_error::Result;
use pingora_proxy::Session;

use crate::access::policy;
use crate::access::{self, Outcome};
use crate::frontend::files::ObjectRequest;
use crate::gateway::Gateway;
use crate::limit::Admission;
use crate::reply;

/// What happens next.
pub enum Decision {
    /// Go upstream; the identity is None on public routes and for health keys.
    Proceed(Option<Identity>),
    /// The client has its answer; the identity, if the caller was authenticated, is for the
    /// access log.
    Answered(Option<Identity>),
}

pub async fn authorize(
    session: &mut Session,
    gateway: &Gateway,
    route: usize,
    obj: &ObjectRequest,
    adm: &mut Admission,
) -> Result<Decision> {
    let chain = &gateway.chains[route];
    if chain.is_empty() || obj.is_health_key {
        return Ok(Decision::Proceed(None));
    }
    let route_name = gateway.route_name(route);
    let view = access::view::build(session, &route_name);
    let client = gateway.limits.client_ip(session);
    match chain.run(&view).await {
        Outcome::Authenticated(identity) => {
            let bucket = &gateway.config.routes[route].bucket;
            let op = policy::operation_for(obj.method);
            match policy::check(&identity, op, bucket, &obj.key) {
                Ok(()) => Ok(Decision::Proceed(Some(identity))),
                Err(reason) => {
                    adm.settle_attempt().await;
                    log::warn!(
                        "forbidden: route={route_name} client={} plugin={} {reason}",
                        show(client),
                        identity.plugin
                    );
                    let denial = bucketgate_plugin::Rejection {
                        status: 403,
                        public_message: "you are not allowed to do this".into(),
                        log_reason: reason,
                        headers: Vec::new(),
                    };
                    reply::send_rejection(session, &denial).await?;
                    Ok(Decision::Answered(Some(identity)))
                }
            }
        }
        other => {
            answer(session, gateway, other, &route_name, client, adm).await?;
            Ok(Decision::Answered(None))
        }
    }
}

/// The sign-in step of `frontend: s3` routes: a request without S3 credentials may be for one
/// of the route's plugins (`/<bucket>/?auth`, a callback). True when a plugin answered it; the
/// rest goes on to SigV4.
pub async fn s3_sign_in(session: &mut Session, gateway: &Gateway, route: usize) -> Result<bool> {
    let chain = &gateway.chains[route];
    if chain.is_empty() || crate::s3::verify::carries_credentials(session.req_header()) {
        return Ok(false);
    }
    let route_name = gateway.route_name(route);
    let view = access::view::build(session, &route_name);
    let client = gateway.limits.client_ip(session);
    match chain.respond(&view).await {
        Some(outcome) => {
            // No S3 credentials: no attempt was counted before auth.
            answer(
                session,
                gateway,
                outcome,
                &route_name,
                client,
                &mut Admission::default(),
            )
            .await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Sends every outcome but an authenticated one: a plugin's own answer, or its refusal. Only
/// 401 and 403 count as failed attempts; a redirect to a sign-in page is not one.
async fn answer(
    session: &mut Session,
    gateway: &Gateway,
    outcome: Outcome,
    route_name: &str,
    client: Option<IpAddr>,
    adm: &mut Admission,
) -> Result<()> {
    let failed = matches!(&outcome, Outcome::Reject(r) if matches!(r.status, 401 | 403));
    if !failed {
        adm.settle_attempt().await;
    }
    match outcome {
        Outcome::Respond(resp) => reply::send_local(session, &resp).await,
        Outcome::Reject(rejection) if matches!(rejection.status, 401 | 403) => {
            let failures = match client {
                // The route has a chain: its attempt was counted before auth.
                Some(ip) => access::failures::record(&gateway.limits, ip, true).await,
                None => 0,
            };
            adm.settle_attempt().await;
            log::warn!(
                "auth rejected: route={route_name} client={} failures={failures} {}",
                show(client),
                rejection.log_reason
            );
            reply::send_rejection(session, &rejection).await
        }
        Outcome::Reject(rejection) | Outcome::Challenge(rejection) => {
            log::debug!(
                "auth answered {}: route={route_name} client={} {}",
                rejection.status,
                show(client),
                rejection.log_reason
            );
            reply::send_rejection(session, &rejection).await
        }
        Outcome::Authenticated(_) => Ok(()),
    }
}

/// A client address for the log, `-` when unknown.
pub fn show(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "-".into(), |ip| ip.to_string())
}
