//! Which proxy failures are the client going away, a normal end that no log calls an error.

use pingora_error::{Error, ErrorSource, ErrorType};

/// True when the failure is the client going away: a video player or genome viewer that has
/// read enough and closed the connection. That is normal and must not be logged as an error.
pub fn is_client_gone(e: &Error) -> bool {
    e.esource() == &ErrorSource::Downstream
        && matches!(
            e.etype(),
            ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed
        )
}
