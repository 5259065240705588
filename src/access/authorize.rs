//! The authorization step a frontend runs: the route's auth chain, then the identity's grants
//! against the operation the frontend planned. It decides and logs; the frontend answers (a
//! refusal in its API's format, a plugin's own page as the plugin wrote it). The reason goes to
//! the log, never to the body.

use std::net::IpAddr;

use bucketgate_plugin::{Identity, LocalResponse, Operation};
use pingora_proxy::Session;

use super::chain::{Chain, Outcome};
use super::{failures, policy, view};
use crate::limit::{Admission, Limits};
use crate::reply::Refusal;

/// The route's side of authorization.
pub struct Gate<'a> {
    pub chain: &'a Chain,
    pub limits: &'a Limits,
    pub route_name: &'a str,
}

/// What happens next.
pub enum Decision {
    /// Go on; the identity is None on public routes and for health keys.
    Proceed(Option<Identity>),
    /// A plugin answers the request itself (a login page, a callback, a redirect).
    Respond(LocalResponse),
    /// Refused; the identity, if the caller was authenticated, is for the access log.
    Refused(Refusal, Option<Identity>),
}

/// The operation a frontend asks to authorize.
pub struct Asked<'a> {
    pub op: Operation,
    pub bucket: &'a str,
    pub key: &'a str,
    /// The route's public object (its health key): no credentials needed.
    pub public: bool,
}

/// Runs the chain, then checks the grants for `asked`.
pub async fn authorize(
    session: &Session,
    gate: &Gate<'_>,
    asked: &Asked<'_>,
    adm: &mut Admission,
) -> Decision {
    if gate.chain.is_empty() || asked.public {
        return Decision::Proceed(None);
    }
    let view = view::build(session, gate.route_name);
    let client = gate.limits.client_ip(session);
    match gate.chain.run(&view).await {
        Outcome::Authenticated(identity) => {
            match policy::check(&identity, asked.op, asked.bucket, asked.key) {
                Ok(()) => Decision::Proceed(Some(identity)),
                Err(reason) => {
                    adm.settle_attempt().await;
                    log::warn!(
                        "forbidden: route={} client={} plugin={} {reason}",
                        gate.route_name,
                        show(client),
                        identity.plugin
                    );
                    Decision::Refused(Refusal::denied(reason), Some(identity))
                }
            }
        }
        other => settle(gate, other, client, adm).await,
    }
}

/// The sign-in step of routes whose API carries its own credentials (`frontend: s3`): a
/// request without them may be for one of the route's plugins (`/<bucket>/?auth`, a callback).
/// Some when a plugin answers it; None lets the frontend check its own credentials.
pub async fn sign_in(session: &Session, gate: &Gate<'_>) -> Option<Decision> {
    if gate.chain.is_empty() {
        return None;
    }
    let view = view::build(session, gate.route_name);
    let client = gate.limits.client_ip(session);
    let outcome = gate.chain.respond(&view).await?;
    // No API credentials: no attempt was counted before auth.
    Some(settle(gate, outcome, client, &mut Admission::default()).await)
}

/// Every outcome but an authenticated one: a plugin's own answer, or its refusal. Only 401 and
/// 403 count as failed attempts; a redirect to a sign-in page is not one.
async fn settle(
    gate: &Gate<'_>,
    outcome: Outcome,
    client: Option<IpAddr>,
    adm: &mut Admission,
) -> Decision {
    let failed = matches!(&outcome, Outcome::Reject(r) if matches!(r.status, 401 | 403));
    if !failed {
        adm.settle_attempt().await;
    }
    match outcome {
        Outcome::Respond(resp) => Decision::Respond(resp),
        Outcome::Reject(rejection) if matches!(rejection.status, 401 | 403) => {
            let failures = match client {
                // The route has a chain: its attempt was counted before auth.
                Some(ip) => failures::record(gate.limits, ip, true).await,
                None => 0,
            };
            adm.settle_attempt().await;
            log::warn!(
                "auth rejected: route={} client={} failures={failures} {}",
                gate.route_name,
                show(client),
                rejection.log_reason
            );
            Decision::Refused(Refusal::from_plugin(&rejection), None)
        }
        Outcome::Reject(rejection) | Outcome::Challenge(rejection) => {
            log::debug!(
                "auth answered {}: route={} client={} {}",
                rejection.status,
                gate.route_name,
                show(client),
                rejection.log_reason
            );
            Decision::Refused(Refusal::from_plugin(&rejection), None)
        }
        Outcome::Authenticated(identity) => Decision::Proceed(Some(identity)),
    }
}

/// A client address for the log, `-` when unknown.
pub fn show(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "-".into(), |ip| ip.to_string())
}
