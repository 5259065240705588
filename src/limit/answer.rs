//! The answer to a request over a limit, in the route's own dialect: `429 Too Many Requests`
//! with a JSON body on `files` routes, `503 SlowDown` S3 XML on `s3` routes (what S3 itself
//! sends, and what every S3 SDK backs off on). Both carry `Retry-After`.

use pingora_error::Result;
use pingora_proxy::Session;

use super::{on_reject, Refusal, Scope};
use crate::config::model::Frontend;
use crate::frontend::s3::error::{self as s3_error, S3Error};
use crate::gateway::Gateway;
use crate::reply::{self, Reject};

/// What the client reads (never which rule, key or count).
fn message(scope: Scope) -> &'static str {
    match scope {
        Scope::FailedAuth => "too many failed sign-in attempts from your address; try again later",
        Scope::Ip => "too many requests from your address; slow down",
        Scope::Identity => "too many requests for your account; slow down",
        Scope::Route => "this service is busy; try again shortly",
    }
}

/// Writes the refusal as the whole response. `request_id`: the S3 request id already given to
/// this request (its log line and answer then agree); a new one when `None`.
pub async fn send(
    session: &mut Session,
    gw: &Gateway,
    route: usize,
    refusal: &Refusal,
    request_id: Option<&str>,
) -> Result<()> {
    on_reject(refusal.scope.as_str(), &gw.route_name(route));
    let retry_after = refusal.retry_after.to_string();
    let s3 = gw
        .config
        .routes
        .get(route)
        .is_some_and(|r| r.frontend == Frontend::S3);
    if s3 {
        let err = S3Error::new(503, "SlowDown", "Please reduce your request rate.");
        let request_id = request_id.map_or_else(s3_error::new_request_id, str::to_owned);
        let body = err.body(&s3_error::resource(session), &request_id);
        return reply::send(
            session,
            503,
            "application/xml",
            body,
            &[
                ("x-amz-request-id", &request_id),
                ("retry-after", &retry_after),
            ],
        )
        .await;
    }
    let mut reject = Reject::new(429, "too_many_requests", message(refusal.scope));
    reject.headers.push(("retry-after", retry_after));
    reply::send_reject(session, &reject).await
}
