//! The `logging` phase's part for observability: count the finished request in the metrics and
//! write its upstream log line. One call from the spine (`request::spine`).

use pingora_error::Error;
use pingora_proxy::Session;

use super::metrics::{self, Finished};
use super::record::Record;
use super::upstream_log::{Call, Done, UpstreamLog};

/// Counts the request and logs its upstream request (`call`, when one was sent and
/// `server.upstream_log` is on).
pub fn finished(
    session: &Session,
    e: Option<&Error>,
    rec: &Record<'_>,
    call: Option<&Call>,
    log: Option<&UpstreamLog>,
) {
    let route = rec.route_label();
    metrics::record_request(&Finished {
        route: &route,
        method: &session.req_header().method,
        status: session.response_written().map(|r| r.status.as_u16()),
        total: rec.start.elapsed(),
        upstream: rec.upstream_time,
        bytes_in: session.body_bytes_read(),
        bytes_out: session.body_bytes_sent(),
    });
    let call = call.filter(|c| c.was_sent());
    if let (Some(log), Some(call)) = (log, call) {
        log.write(
            call,
            &Done {
                upstream_ms: rec.upstream_ms(),
                sent: session.upstream_body_bytes_sent(),
                received: session.upstream_body_bytes_received(),
                route: &route,
                error: e,
                retrying: false,
            },
        );
    }
}
