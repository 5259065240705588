//! What the client gets when proxying fails outright (no backend, refused connection, timeout),
//! and which failures are not worth an error log (the client hung up).

use pingora_error::{Error, ErrorSource, ErrorType};
use pingora_proxy::{FailToProxy, Session};

use crate::reply::{self, Reject};

/// True when the failure is the client going away: a video player or genome viewer that has
/// read enough and closed the connection. That is normal and must not be logged as an error.
pub fn is_client_gone(e: &Error) -> bool {
    e.esource() == &ErrorSource::Downstream
        && matches!(
            e.etype(),
            ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed
        )
}

/// The client-facing answer for a proxy failure.
pub fn reject_for(e: &Error) -> Option<Reject> {
    use ErrorType::*;
    if is_client_gone(e) {
        return None;
    }
    Some(match e.etype() {
        HTTPStatus(code) => Reject::new(*code, "error", "the request failed"),
        ConnectTimedout | ReadTimedout | WriteTimedout => Reject::new(
            504,
            "upstream_timeout",
            "the storage did not answer in time",
        ),
        _ if e.esource() == &ErrorSource::Downstream => {
            Reject::bad_request("bad_request", "the request could not be read")
        }
        _ if e.esource() == &ErrorSource::Upstream => Reject::new(
            502,
            "upstream_unreachable",
            "the storage could not be reached",
        ),
        _ => Reject::new(500, "internal_error", "the gateway failed; see its log"),
    })
}

/// Writes the answer if nothing was sent yet, and reports the status for the log.
pub async fn respond(session: &mut Session, e: &Error) -> FailToProxy {
    let reject = reject_for(e);
    let code = reject.as_ref().map_or(0, |r| r.status);
    if let Some(reject) = reject {
        if session.response_written().is_none() {
            if let Err(write_err) = reply::send_reject(session, &reject).await {
                log::debug!("could not send error response: {write_err}");
            }
        }
    }
    FailToProxy {
        error_code: code,
        can_reuse_downstream: false,
    }
}
