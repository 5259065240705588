//! Frontends: the APIs that clients speak, each turned into S3 work. A route names one
//! (`frontend: files | s3`), and the spine (`request::spine`) hands it the request once the
//! route matched and the per-client limits passed.
//!
//! A frontend decides, from the request head, one [`Step`]:
//! - **answer** it locally (a listing of buckets, a refusal, a plugin's sign-in page);
//! - **forward** it as one S3 call through Pingora's phases ([`Forward`]): the frontend then
//!   owns the upstream request head, and the request and response bodies and heads as they
//!   stream, and can abort the call with a refusal;
//! - **drive** the exchange itself ([`Drive`]): read the client body, make any number of S3
//!   calls through the internal client (`upstream::client`), and write the answer.
//!
//! Authentication is the frontend's call too, because some APIs carry their own credentials:
//! `files` runs the route's auth chain and checks the grants (`access::authorize`); `s3` lets
//! the chain answer sign-in requests, then verifies SigV4 itself. Every refusal is a
//! [`Refusal`], and the frontend renders it in its API's format ([`Frontend::render`]).
//!
//! - [`files`]: plain HTTP object paths, JSON errors;
//! - [`s3`]: the S3 REST API, S3 XML errors;
//! - [`exchange`]: what a frontend gets to work with;
//! - [`header_policy`]: which headers cross the proxy in each direction;
//! - [`upstream_errors`]: how `files` shows an upstream error.

pub mod exchange;
pub mod files;
pub mod header_policy;
pub mod s3;
pub mod upstream_errors;

use std::sync::Arc;

use async_trait::async_trait;
use bucketgate_plugin::LocalResponse;
use bytes::Bytes;
use pingora_error::Result;
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::Session;

pub use exchange::Exchange;

use crate::access::chain::Chain;
use crate::reply::{Refusal, Reply};
use crate::upstream::{Pool, S3Client};

/// One API that clients speak.
#[async_trait]
pub trait Frontend: Send + Sync {
    /// An id for this request's answers and log line, when the API has them (S3's
    /// `x-amz-request-id`). Made once, when the route matched.
    fn request_id(&self) -> Option<String> {
        None
    }

    /// Whether the request counts as an authentication attempt while in flight (the
    /// failed-auth lockout counts attempts before auth runs). By default, every request that
    /// reaches a chain able to refuse a credential: only its plugins know which carry one.
    fn carries_credentials(&self, _req: &RequestHeader, chain: &Chain) -> bool {
        chain.counts_attempts()
    }

    /// Decides what to do with the request.
    async fn request(&self, session: &mut Session, ex: &mut Exchange<'_>) -> Result<Step>;

    /// `refusal` as this API's answer to `req`.
    fn render(&self, refusal: &Refusal, req: &RequestHeader, request_id: Option<&str>) -> Reply;
}

/// What a frontend decided.
pub enum Step {
    /// Answer with this refusal (rendered by the frontend).
    Refuse(Refusal),
    /// Answer with an auth plugin's own response (a sign-in page, a callback's redirect).
    Plugin(LocalResponse),
    /// Answer with this complete reply.
    Reply(Reply),
    /// Send one S3 call upstream through the proxy phases.
    Forward(Box<dyn Forward>),
    /// Run the exchange with the internal S3 client.
    Drive(Box<dyn Drive>),
}

/// A request on its way upstream as one S3 call: what each later proxy phase asks of its
/// frontend. Made per request by [`Frontend::request`].
pub trait Forward: Send + Sync {
    /// The pool the call goes to.
    fn pool(&self) -> &Arc<Pool>;

    /// The upstream bucket and key (the backend choice hashes on them).
    fn target(&self) -> (&str, &str);

    /// The key for the access log, when the call names one.
    fn log_key(&self) -> Option<&str>;

    /// Whether the request body passes through a filter with state (aws-chunked decoding):
    /// such a body cannot be replayed on another backend after a failure.
    fn filters_body(&self) -> bool {
        false
    }

    /// Turns the client's request head into the signed upstream request for `host`.
    fn upstream_request(&mut self, req: &mut RequestHeader, host: &str) -> Result<()>;

    /// A piece of the client's body on its way upstream; a refusal aborts the call.
    fn request_body(&mut self, _body: &mut Option<Bytes>, _end: bool) -> Result<(), Refusal> {
        Ok(())
    }

    /// The upstream response head (status 200 or more), as the client will see it.
    fn response_head(&mut self, resp: &mut ResponseHeader) -> Result<()>;

    /// A piece of the upstream body on its way to the client's request `req`.
    fn response_body(&mut self, _body: &mut Option<Bytes>, _end: bool, _req: &RequestHeader) {}

    /// The request is over (the logging phase).
    fn finished(&self) {}
}

/// An exchange a frontend runs itself with the internal S3 client.
#[async_trait]
pub trait Drive: Send {
    /// Reads what it needs from the client, calls S3, and writes the answer; or refuses (the
    /// spine renders the refusal, which must come before any byte of an answer was written).
    async fn run(
        self: Box<Self>,
        session: &mut Session,
        client: &S3Client,
    ) -> Result<std::result::Result<(), Refusal>>;
}
