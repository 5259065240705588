//! The one refusal type. Every "no" bucketgate says, whoever decides it (route matching, the
//! rate limits, an auth plugin, the grants, a frontend's own input checks, the upstream pool),
//! is a [`Refusal`]; the route's frontend renders it in its API's format (JSON for `files`,
//! S3 XML for `s3`), and [`Refusal::json`] is the rendering before a route is known.
//!
//! A refusal says what happened ([`Cause`]) besides its default status and code, so a frontend
//! can answer in its own terms: a rate limit is `429 too_many_requests` in JSON and
//! `503 SlowDown` to an S3 SDK, which backs off on exactly that.

use std::borrow::Cow;

use bytes::Bytes;
use pingora_error::{Error, ErrorSource, ErrorType};

use crate::limit::{Refusal as LimitRefusal, Scope};
use crate::upstream::client::ClientError;
use crate::util::client_gone::is_client_gone;

/// What happened, for frontends that answer some causes in their own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The request itself is wrong: bad path, method, length, body.
    Input,
    /// An auth plugin's own answer (a challenge, a refusal, a sign-in redirect's 401): rendered
    /// as the plugin wrote it on every frontend, since the plugin speaks for itself.
    Plugin,
    /// Authenticated, but no grant allows it.
    Denied,
    /// Over a rate or concurrency limit.
    Limited(Scope),
    /// No backend of the route's pool is healthy.
    NoBackend,
    /// The upstream could not be reached or failed mid-way.
    Upstream,
    /// The upstream did not answer in time.
    Timeout,
    /// The storage answered a call of the internal client with an S3 error: `status` and `code`
    /// are S3's own, for the frontend to map into its API's terms.
    Storage,
    /// bucketgate itself failed.
    Internal,
    /// Already in the frontend's own terms (an S3 error code from the `s3` frontend).
    Api,
}

/// A request refused before (or instead of) an upstream answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub cause: Cause,
    pub status: u16,
    /// The error code: the JSON `error` field, or the API's own code (`Cause::Api`).
    pub code: Cow<'static, str>,
    /// Safe to show the client.
    pub message: String,
    /// Extra response headers, such as `Allow`, `Retry-After` or `WWW-Authenticate`.
    pub headers: Vec<(Cow<'static, str>, String)>,
    /// For the operator only: why exactly (never sent to the client).
    pub log: Option<String>,
}

impl Refusal {
    pub fn new(status: u16, code: &'static str, message: &str) -> Refusal {
        Refusal::of(Cause::Input, status, code, message)
    }

    /// A refusal with a given cause.
    pub fn of(
        cause: Cause,
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: &str,
    ) -> Refusal {
        Refusal {
            cause,
            status,
            code: code.into(),
            message: message.to_string(),
            headers: Vec::new(),
            log: None,
        }
    }

    pub fn bad_request(code: &'static str, message: &str) -> Refusal {
        Refusal::new(400, code, message)
    }

    pub fn method_not_allowed(allow: &str) -> Refusal {
        Refusal::new(
            405,
            "method_not_allowed",
            &format!("this route allows {allow}"),
        )
        .with_header("allow", allow)
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Refusal {
        self.headers.push((Cow::Borrowed(name), value.into()));
        self
    }

    /// Adds a reason for the log.
    pub fn logged(mut self, why: impl Into<String>) -> Refusal {
        self.log = Some(why.into());
        self
    }

    /// The grants do not allow what was asked; `why` goes to the log only.
    pub fn denied(why: impl Into<String>) -> Refusal {
        Refusal::of(
            Cause::Denied,
            403,
            "forbidden",
            "you are not allowed to do this",
        )
        .logged(why)
    }

    /// A rate or concurrency limit refused the request (`Retry-After` in seconds).
    pub fn limited(limit: &LimitRefusal) -> Refusal {
        let message = match limit.scope {
            Scope::FailedAuth => {
                "too many failed sign-in attempts from your address; try again later"
            }
            Scope::Ip => "too many requests from your address; slow down",
            Scope::Identity => "too many requests for your account; slow down",
            Scope::Route => "this service is busy; try again shortly",
            Scope::Memory => "the gateway is busy; try again shortly",
        };
        Refusal::of(
            Cause::Limited(limit.scope),
            429,
            "too_many_requests",
            message,
        )
        .with_header("retry-after", limit.retry_after.to_string())
    }

    /// An auth plugin's refusal: its status and headers, and only its public message.
    pub fn from_plugin(rejection: &bucketgate_plugin::Rejection) -> Refusal {
        let code = match rejection.status {
            401 => "unauthorized",
            403 => "forbidden",
            429 => "too_many_requests",
            500..=599 => "internal_error",
            _ => "rejected",
        };
        let mut refusal = Refusal::of(
            Cause::Plugin,
            rejection.status,
            code,
            &rejection.public_message,
        )
        .logged(rejection.log_reason.clone());
        refusal.headers = (rejection.headers.iter())
            .map(|(k, v)| (Cow::Owned(k.clone()), v.clone()))
            .collect();
        refusal
    }

    /// The client-facing refusal for a proxy failure (no backend, refused connection, timeout);
    /// None when the failure is the client going away (nobody to answer).
    pub fn from_proxy_error(e: &Error) -> Option<Refusal> {
        use ErrorType::*;
        if is_client_gone(e) {
            return None;
        }
        Some(match e.etype() {
            HTTPStatus(code) => Refusal::of(Cause::Internal, *code, "error", "the request failed"),
            ConnectTimedout | ReadTimedout | WriteTimedout => Refusal::of(
                Cause::Timeout,
                504,
                "upstream_timeout",
                "the storage did not answer in time",
            ),
            _ if e.esource() == &ErrorSource::Downstream => {
                Refusal::bad_request("bad_request", "the request could not be read")
            }
            ConnectNoRoute if e.esource() == &ErrorSource::Upstream => Refusal::of(
                Cause::NoBackend,
                502,
                "upstream_unreachable",
                "the storage could not be reached",
            ),
            _ if e.esource() == &ErrorSource::Upstream => Refusal::of(
                Cause::Upstream,
                502,
                "upstream_unreachable",
                "the storage could not be reached",
            ),
            _ => Refusal::of(
                Cause::Internal,
                500,
                "internal_error",
                "the gateway failed; see its log",
            ),
        })
    }

    /// The refusal for a call of the internal S3 client that got no S3 answer.
    pub fn from_client_error(e: &ClientError) -> Refusal {
        let unreachable = |cause| {
            Refusal::of(
                cause,
                502,
                "upstream_unreachable",
                "the storage could not be reached",
            )
        };
        match e {
            ClientError::Denied(why) => Refusal::denied(why.clone()),
            ClientError::NoBackend(_) => unreachable(Cause::NoBackend),
            ClientError::Status {
                status,
                code,
                message,
            } => Refusal::of(Cause::Storage, *status, code.clone(), message)
                .logged(format!("the storage answered {status} {code}")),
            ClientError::Failed(err) => {
                Refusal::from_proxy_error(err).unwrap_or_else(|| unreachable(Cause::Upstream))
            }
            other => unreachable(Cause::Upstream).logged(other.to_string()),
        }
    }

    /// The JSON body: `{"error": CODE, "message": TEXT}`.
    pub fn body(&self) -> Bytes {
        json_error(&self.code, &self.message)
    }

    /// The refusal as a JSON answer: the rendering of `files` and of requests no route took.
    pub fn json(&self) -> Reply {
        Reply {
            status: self.status,
            content_type: "application/json",
            body: self.body(),
            headers: self.headers.clone(),
        }
    }
}

/// A whole small answer, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: Vec<(Cow<'static, str>, String)>,
}

/// `{"error":CODE,"message":TEXT}` as bytes.
pub fn json_error(code: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "error": code, "message": message }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_failures_are_classified_for_the_frontends() {
        let no_backend =
            Error::create(ErrorType::ConnectNoRoute, ErrorSource::Upstream, None, None);
        let r = Refusal::from_proxy_error(&no_backend).expect("answered");
        assert_eq!(
            (r.cause, r.status, &*r.code),
            (Cause::NoBackend, 502, "upstream_unreachable")
        );
        let refused = Error::create(ErrorType::ConnectRefused, ErrorSource::Upstream, None, None);
        let r = Refusal::from_proxy_error(&refused).expect("answered");
        assert_eq!((r.cause, r.status), (Cause::Upstream, 502));
        let late = Error::create(ErrorType::ReadTimedout, ErrorSource::Upstream, None, None);
        assert_eq!(
            Refusal::from_proxy_error(&late).map(|r| r.status),
            Some(504)
        );
        let gone = Error::create(ErrorType::WriteError, ErrorSource::Downstream, None, None);
        assert!(
            Refusal::from_proxy_error(&gone).is_none(),
            "the client hung up"
        );
    }

    #[test]
    fn limits_and_plugins_keep_their_headers() {
        let r = Refusal::limited(&LimitRefusal {
            scope: Scope::Ip,
            retry_after: 7,
        });
        assert_eq!((r.status, &*r.code), (429, "too_many_requests"));
        assert!(r
            .headers
            .contains(&(Cow::Borrowed("retry-after"), "7".into())));
        let challenge = bucketgate_plugin::Rejection::unauthorized("Bearer", "no token");
        let r = Refusal::from_plugin(&challenge);
        assert_eq!(
            (r.cause, r.status, &*r.code),
            (Cause::Plugin, 401, "unauthorized")
        );
        assert_eq!(r.headers[0].0, "www-authenticate");
        assert_eq!(r.log.as_deref(), Some("no token"));
        let json: serde_json::Value = serde_json::from_slice(&r.json().body).unwrap();
        assert_eq!(json["message"], "authentication required");
    }
}
