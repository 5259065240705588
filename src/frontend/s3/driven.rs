//! What the `s3` frontend's driven exchanges (DeleteObjects, key listings) share: why one
//! fails, and how its outcome is answered and logged, so each exchange only computes its body.

use bytes::Bytes;
use pingora_error::Result;
use pingora_proxy::Session;

use super::log_refusal;
use super::plan::S3Request;
use super::S3Error;
use crate::reply::{self, Refusal};
use crate::upstream::client::ClientError;

/// Why a driven exchange gets no answer body.
pub enum Failed {
    /// Refused in S3's terms (a bad body, a key outside the grants, an upstream S3 error, an
    /// answer that could not be rewritten).
    S3(S3Error),
    /// The buffer budget cannot hold what the exchange needs ([`crate::limit::memory`]):
    /// `503 SlowDown`.
    Busy(crate::limit::Refusal),
    /// The upstream gave no answer.
    Upstream(ClientError),
}

/// Whose exchange it is, for the answer and the log lines.
pub struct Driven<'a> {
    /// The exchange's name in the log: `DeleteObjects`, `s3 listing`.
    pub what: &'static str,
    pub route_name: &'a str,
    pub request_id: &'a str,
    pub plan: &'a S3Request,
}

/// Sends the 200 XML body, or logs the failure and hands its refusal to the spine.
pub async fn answer(
    session: &mut Session,
    d: &Driven<'_>,
    outcome: std::result::Result<Bytes, Failed>,
) -> Result<std::result::Result<(), Refusal>> {
    match outcome {
        Ok(body) => {
            let request_id = [("x-amz-request-id", d.request_id)];
            reply::send(session, 200, "application/xml", body, &request_id).await?;
            Ok(Ok(()))
        }
        Err(Failed::S3(err)) => {
            log_refusal(d.route_name, &err, Some(&d.plan.identity));
            Ok(Err(Refusal::from(err)))
        }
        Err(Failed::Busy(limit)) => {
            log::info!(
                "{} refused: user={} the buffer budget cannot hold it",
                d.what,
                d.plan.identity.subject
            );
            Ok(Err(Refusal::limited(&limit)))
        }
        Err(Failed::Upstream(e)) => {
            log::warn!("{} upstream {} failed: {e}", d.what, d.plan.pool.name);
            Ok(Err(Refusal::from_client_error(&e)))
        }
    }
}
