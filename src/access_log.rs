//! One access-log line per request, on the `bucketgate::access` log target.
//!
//! Fields: client, method, route, user (the authenticated subject), key, status, bytes in and out, upstream time to response
//! head, total time, and `aborted=client` when the client hung up. The query string is never
//! logged (it can carry presigned credentials), nor any header.

use pingora_error::Error;
use pingora_proxy::Session;

use crate::failure::is_client_gone;
use crate::gateway::Gateway;
use crate::proxy::RequestCtx;

pub fn log(session: &Session, e: Option<&Error>, ctx: &RequestCtx, gateway: &Gateway) {
    let client = session
        .client_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "-".into());
    let status = session
        .response_written()
        .map(|r| r.status.as_u16())
        .unwrap_or(0);
    let route = ctx
        .route
        .map(|i| gateway.route_name(i))
        .unwrap_or_else(|| "-".into());
    let key = match (ctx.object.as_ref(), ctx.s3.as_ref()) {
        (Some(o), _) => o.key.as_str(),
        (None, Some(s3)) if !s3.key.is_empty() => s3.key.as_str(),
        _ => "-",
    };
    let user = ctx.identity.as_ref().map_or("-", |i| i.subject.as_str());
    let upstream = ctx
        .upstream_ms
        .map(|ms| ms.to_string())
        .unwrap_or_else(|| "-".into());
    let outcome = match e {
        Some(e) if is_client_gone(e) => " aborted=client",
        Some(_) => " failed=true",
        None => "",
    };
    log::info!(
        target: "bucketgate::access",
        "{client} {} route={route} user={user:?} key={key:?} status={status} in={} out={} upstream_ms={upstream} total_ms={}{outcome}",
        session.req_header().method,
        session.body_bytes_read(),
        session.body_bytes_sent(),
        ctx.start.elapsed().as_millis(),
    );
}
