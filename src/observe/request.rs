//! The `logging` phase's part for observability: count the finished request in the metrics and
//! write its upstream log line. One call from src/proxy.rs.

use std::borrow::Cow;

use pingora_error::Error;
use pingora_proxy::Session;

use super::metrics::{self, Finished, NO_ROUTE};
use super::upstream_log::Done;
use crate::gateway::Gateway;
use crate::request::spine::RequestCtx;

/// The route's metrics label: its name, `route<N>`, or `-` when none matched.
pub fn route_label(gw: &Gateway, route: Option<usize>) -> Cow<'_, str> {
    match route {
        Some(i) => match gw.config.routes.get(i).and_then(|r| r.name.as_deref()) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("route{i}")),
        },
        None => Cow::Borrowed(NO_ROUTE),
    }
}

/// Counts the request and logs its upstream request.
pub fn finished(session: &Session, e: Option<&Error>, ctx: &RequestCtx, gw: &Gateway) {
    let route = route_label(gw, ctx.route);
    metrics::record_request(&Finished {
        route: &route,
        method: &session.req_header().method,
        status: session.response_written().map(|r| r.status.as_u16()),
        total: ctx.start.elapsed(),
        upstream: ctx.upstream_time,
        bytes_in: session.body_bytes_read(),
        bytes_out: session.body_bytes_sent(),
    });
    let call = ctx.upstream_call.as_ref().filter(|c| c.was_sent());
    if let (Some(log), Some(call)) = (gw.upstream_log.as_ref(), call) {
        log.write(
            call,
            &Done {
                upstream_ms: ctx.upstream_ms(),
                sent: session.upstream_body_bytes_sent(),
                received: session.upstream_body_bytes_received(),
                route: &route,
                error: e,
                retrying: false,
            },
        );
    }
}
