//! CORS in the request phase: preflights answered before authentication (browsers send them
//! without credentials), and the headers every other answer to an allowed origin carries
//! (set on the [`CorsHeaders`] module, which adds them to whatever response goes out).

use bytes::Bytes;
use pingora_error::Result;
use pingora_proxy::Session;

use super::cors_headers::CorsHeaders;
use crate::access::cors::{self, Preflight};
use crate::gateway::Route;
use crate::reply::{self, Refusal};

/// Answers a CORS preflight (true), or leaves the request alone (false).
pub async fn preflight(session: &mut Session, route: &Route) -> Result<bool> {
    let Some(policy) = route.cors.as_ref() else {
        return Ok(false);
    };
    let req = session.req_header();
    let Some(origin) = cors::preflight_origin(req) else {
        return Ok(false);
    };
    match policy.preflight(req, origin) {
        Preflight::Allowed(headers) => {
            let extra: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            reply::send(session, 204, "text/plain", Bytes::new(), &extra).await?;
        }
        Preflight::Refused(why) => {
            log::info!("cors preflight refused: route={} {why}", route.name);
            let refusal = Refusal::new(403, "cors_refused", &why);
            reply::send_reply(session, &refusal.json()).await?;
        }
    }
    Ok(true)
}

/// When the route has a policy and the request (not a preflight) comes from an allowed
/// `Origin`, every answer to it, ours or the upstream's, carries the CORS headers.
pub fn headers_for_answers(session: &mut Session, route: &Route) {
    let Some(policy) = route.cors.as_ref() else {
        return;
    };
    let req = session.req_header();
    if cors::preflight_origin(req).is_some() {
        return;
    }
    let Some(headers) = cors::origin(req)
        .filter(|o| policy.allows_origin(o))
        .map(|o| policy.response_headers(o))
    else {
        return;
    };
    if let Some(module) = session.downstream_modules_ctx.get_mut::<CorsHeaders>() {
        module.set(headers);
    }
}
