//! The Pingora `ProxyHttp` implementation. It only delegates: each phase calls the module that
//! owns that step, so the whole life of a request reads on one screen.
//!
//! | phase | owner |
//! |---|---|
//! | `request_filter` | [`crate::request::health`], [`crate::gateway::route_table`], then per frontend: [`crate::frontend::files`] and [`crate::access::authorize`] (auth chain, [`crate::access::policy`]), or [`crate::frontend::s3`] (SigV4, grants, local answers) |
//! | `upstream_peer` | [`crate::upstream::pool`] |
//! | `upstream_request_filter` | [`crate::frontend::header_policy`], [`crate::s3::sign`] |
//! | `request_body_filter` | [`crate::frontend::s3::body`] (aws-chunked) |
//! | `upstream_response_filter`, `response_body_filter` | [`crate::frontend::upstream_errors`], [`crate::frontend::header_policy`] |
//! | `fail_to_connect`, `fail_to_proxy` | [`crate::reply::failure`] |
//! | `logging` | [`crate::observe::access_log`], [`crate::observe`] (metrics, upstream log) |

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::modules::http::compression::ResponseCompressionBuilder;
use pingora_core::modules::http::HttpModules;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorSource, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};

use bucketgate_plugin::Identity;

use crate::access::authorize::{self, Decision};
use crate::access::cors::{self, Preflight};
use crate::config::model::Frontend;
use crate::frontend::files::{self, ClientRequest};
use crate::frontend::header_policy;
use crate::frontend::s3::{self, S3Error, S3Request};
use crate::frontend::upstream_errors::{self, MappedError};
use crate::gateway::live::Live;
use crate::gateway::route_table::strip_port;
use crate::gateway::Gateway;
use crate::observe::access_log;
use crate::observe::{self, metrics::InFlight, upstream_log};
use crate::reply::failure;
use crate::reply::{self, Reject};
use crate::request::cors_headers::{CorsHeaders, CorsHeadersBuilder};
use crate::request::health;
use crate::s3::sign::{encode_key_path, normalize_query, UNSIGNED_PAYLOAD};
use crate::upstream::{retry, Pool};

/// The most bytes of an upstream error body kept to find its S3 error code.
const ERROR_BODY_CAP: usize = 4096;

/// Per-request state shared by the phases.
pub struct RequestCtx {
    /// The config this request runs under, fixed at its start even if a reload swaps it.
    pub gw: Arc<Gateway>,
    pub start: Instant,
    /// Index of the matched route.
    pub route: Option<usize>,
    pub object: Option<files::ObjectRequest>,
    pub upstream_host: Option<String>,
    pub upstream_start: Option<Instant>,
    /// Time from choosing a backend to its response head (the latency histogram; the logs
    /// take it in milliseconds, [`RequestCtx::upstream_ms`]).
    pub upstream_time: Option<Duration>,
    /// The upstream request, for `server.upstream_log` (None when that is off).
    pub upstream_call: Option<upstream_log::Call>,
    /// Counts the request in `bucketgate_requests_in_flight` while it lives.
    pub in_flight: InFlight,
    /// Set when the upstream answered an error that the client sees rewritten.
    pub error: Option<ErrorRewrite>,
    /// Who the caller is, on authenticated routes.
    pub identity: Option<Identity>,
    /// The upstream attempts so far, for retries and backend selection.
    pub attempts: crate::upstream::retry::Attempts,
    /// S3 routes: the planned request, once the caller is verified and allowed.
    pub s3: Option<Box<S3Request>>,
    /// S3 routes: what happens to the upstream body.
    pub s3_body: Option<s3::response::BodyState>,
    /// S3 routes: `x-amz-request-id`.
    pub request_id: Option<String>,
    /// S3 routes: why the client's body was refused mid-stream (forged chunk, bad checksum).
    pub s3_failure: Option<S3Error>,
    /// Rate limits: the client address, and this request's places in the concurrency counts
    /// (given back when the request ends and the context drops).
    pub limits: crate::limit::Admission,
}

impl RequestCtx {
    /// [`RequestCtx::upstream_time`] in whole milliseconds, for the logs.
    pub fn upstream_ms(&self) -> Option<u128> {
        self.upstream_time.map(|t| t.as_millis())
    }
}

/// An upstream error being replaced by our own body.
pub struct ErrorRewrite {
    pub upstream_status: u16,
    pub mapped: MappedError,
    /// The start of the upstream body, for the log.
    pub upstream_body: Vec<u8>,
    pub sent: bool,
}

pub struct Proxy {
    /// The gateway of the current config; a reload swaps it, and each request keeps the one
    /// it started with (`RequestCtx::gw`).
    pub live: Arc<Live>,
}

#[async_trait]
impl ProxyHttp for Proxy {
    type CTX = RequestCtx;

    fn init_downstream_modules(&self, modules: &mut HttpModules) {
        // Pingora's default: response compression, disabled (bodies stream byte-exact).
        modules.add_module(ResponseCompressionBuilder::enable(0));
        modules.add_module(Box::new(CorsHeadersBuilder));
    }

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            gw: self.live.current(),
            start: Instant::now(),
            route: None,
            object: None,
            upstream_host: None,
            upstream_start: None,
            upstream_time: None,
            upstream_call: None,
            in_flight: InFlight::start(),
            error: None,
            identity: None,
            attempts: Default::default(),
            s3: None,
            s3_body: None,
            request_id: None,
            s3_failure: None,
            limits: Default::default(),
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let gw = ctx.gw.clone();
        if crate::request::tls_version::below_min_version(session, &self.live.tls) {
            session.set_keepalive(None);
            let reject = Reject::new(426, "tls_version_too_old", "this listener requires TLS 1.3");
            reply::send_reject(session, &reject).await?;
            return Ok(true);
        }
        if health::handle(session, &gw).await? {
            return Ok(true);
        }
        let found = match Self::find_route(&gw, session) {
            Ok(found) => found,
            Err(reject) => {
                reply::send_reject(session, &reject).await?;
                return Ok(true);
            }
        };
        ctx.route = Some(found.index);
        let s3 = gw.config.routes[found.index].frontend == Frontend::S3;
        if s3 {
            // One id from here on: every S3 answer and the access log line carry it.
            ctx.request_id = Some(s3::error::new_request_id());
        }
        cors_headers_for_answers(session, &gw, found.index);
        let request_id = ctx.request_id.as_deref();
        if crate::limit::check_client(session, &gw, found.index, request_id, &mut ctx.limits)
            .await?
        {
            return Ok(true);
        }
        if self.cors_preflight(session, &gw, found.index).await? {
            return Ok(true);
        }
        if s3 {
            return self.s3_request(session, ctx, &found).await;
        }
        if let Err(reject) = self.plan_files(session, ctx, &found) {
            reply::send_reject(session, &reject).await?;
            return Ok(true);
        }
        let Some(obj) = ctx.object.as_ref() else {
            return Err(Error::explain(ErrorType::InternalError, "no route planned"));
        };
        match authorize::authorize(session, &gw, found.index, obj, &mut ctx.limits).await? {
            Decision::Proceed(identity) => {
                let refused = match &identity {
                    Some(id) => {
                        let subject = &id.subject;
                        crate::limit::check_identity(
                            session,
                            &gw,
                            found.index,
                            subject,
                            &mut ctx.limits,
                        )
                        .await?
                    }
                    None => false,
                };
                ctx.identity = identity;
                Ok(refused)
            }
            Decision::Answered(identity) => {
                ctx.identity = identity;
                Ok(true)
            }
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(plan) = ctx.s3.as_mut() else {
            return Ok(());
        };
        if let Err(e) = plan.body.body_filter(body, end_of_stream) {
            log::warn!(
                "s3 upload refused mid-body: user={} key={:?}: {e}",
                plan.identity.subject,
                plan.key
            );
            ctx.s3_failure = Some(S3Error::from(e));
            return Err(Error::explain(
                ErrorType::InvalidHTTPHeader,
                "aws-chunked body refused",
            ));
        }
        Ok(())
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let gw = ctx.gw.clone();
        ctx.attempts.count += 1;
        let (Some(route), Some(pool)) = (ctx.route, self.pool(ctx)) else {
            return Err(Error::explain(ErrorType::InternalError, "no route planned"));
        };
        let (bucket, key) = match (ctx.s3.as_ref(), ctx.object.as_ref()) {
            (Some(plan), _) => (&plan.bucket, plan.key.as_str()),
            (None, obj) => (
                &gw.config.routes[route].bucket,
                obj.map_or("", |o| o.key.as_str()),
            ),
        };
        // Like nginx's "no live upstreams": a 502, while /readyz says which pool is down.
        let target = pool
            .pick_for(bucket, key, &ctx.attempts.failed)
            .ok_or_else(|| {
                Error::create(
                    ErrorType::ConnectNoRoute,
                    ErrorSource::Upstream,
                    Some(format!("upstream {}: no healthy backend", pool.name).into()),
                    None,
                )
            })?;
        ctx.upstream_call =
            (gw.upstream_log.as_ref()).map(|_| upstream_log::Call::to(&target.peer));
        ctx.upstream_host = Some(target.host);
        ctx.upstream_start = Some(Instant::now());
        Ok(target.peer)
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let gw = ctx.gw.clone();
        let Some(host) = ctx.upstream_host.as_ref() else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no upstream planned",
            ));
        };
        if let Some(plan) = ctx.s3.as_ref() {
            s3_upstream_request(plan, req, host)?;
            upstream_log::note_request(&mut ctx.upstream_call, req);
            return Ok(());
        }
        let (Some(route), Some(obj), Some(pool)) = (ctx.route, ctx.object.as_ref(), self.pool(ctx))
        else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no upstream planned",
            ));
        };
        let bucket = &gw.config.routes[route].bucket;
        let target = pool.object_path(bucket, &encode_key_path(&obj.key));
        req.set_uri(upstream_uri(target, &obj.query)?);
        header_policy::filter_request(req);
        req.insert_header("host", host.as_str())?;
        pool.signer.sign(req, UNSIGNED_PAYLOAD, SystemTime::now());
        upstream_log::note_request(&mut ctx.upstream_call, req);
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(call) = ctx.upstream_call.as_mut() {
            call.status = Some(resp.status.as_u16());
        }
        if resp.status.as_u16() < 200 {
            return Ok(());
        }
        self.shape_response(resp, ctx)?;
        Ok(())
    }

    fn response_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        let gw = ctx.gw.clone();
        if let (Some(plan), Some(state)) = (ctx.s3.as_ref(), ctx.s3_body.as_mut()) {
            // Object bodies stream through untouched; only rewritten bodies need the rest.
            let passes = matches!(state, s3::response::BodyState::Pass);
            if !passes && session.req_header().method != http::Method::HEAD {
                let resource = s3::error::resource(session);
                let request_id = ctx.request_id.as_deref().unwrap_or("-");
                s3::response::on_body(
                    plan,
                    &gw.markers,
                    state,
                    body,
                    end_of_stream,
                    &resource,
                    request_id,
                );
            }
            return Ok(None);
        }
        let Some(rewrite) = ctx.error.as_mut() else {
            return Ok(None);
        };
        if let Some(chunk) = body.take() {
            let room = ERROR_BODY_CAP.saturating_sub(rewrite.upstream_body.len());
            rewrite
                .upstream_body
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if end_of_stream && !rewrite.sent && session.req_header().method != http::Method::HEAD {
            rewrite.sent = true;
            *body = Some(rewrite.mapped.body.clone());
        } else {
            *body = Some(Bytes::new());
        }
        Ok(None)
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let Some(pool) = self.pool(ctx).cloned() {
            e.set_retry(retry::connect_failed(
                &pool,
                &mut ctx.attempts,
                &peer._address,
            ));
        }
        log_failed_attempt(session, ctx, &e);
        e
    }

    async fn connected_to_upstream(
        &self,
        _session: &mut Session,
        reused: bool,
        peer: &HttpPeer,
        #[cfg(unix)] _fd: std::os::unix::io::RawFd,
        #[cfg(windows)] _sock: std::os::windows::io::RawSocket,
        _digest: Option<&pingora_core::protocols::Digest>,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(pool) = self.pool(ctx) {
            pool.ejection.record_connected(&peer._address, reused);
        }
        Ok(())
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        let failure = retry::ProxyFailure {
            method: &session.req_header().method,
            s3_route: ctx.s3.is_some(),
            body_truncated: session.as_ref().retry_buffer_truncated(),
            response_started: session.response_written().is_some() || ctx.upstream_time.is_some(),
        };
        let max = self.pool(ctx).map_or(0, |p| p.max_retries);
        if retry::retry_allowed(&failure, &ctx.attempts, max) {
            e.retry.decide_reuse(client_reused);
        } else {
            e.set_retry(false);
        }
        log_failed_attempt(session, ctx, &e);
        e
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        if let Some(err) = ctx.s3_failure.take() {
            let request_id = ctx.request_id.as_deref().unwrap_or("-");
            if session.response_written().is_none() {
                if let Err(write_err) = s3::error::send(session, &err, request_id).await {
                    log::debug!("could not send error response: {write_err}");
                }
            }
            return FailToProxy {
                error_code: err.status,
                can_reuse_downstream: false,
            };
        }
        failure::respond(session, e).await
    }

    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, e: &Error) -> bool {
        failure::is_client_gone(e)
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let gw = ctx.gw.clone();
        if let (Some(rewrite), Some(pool)) = (ctx.error.as_ref(), self.pool(ctx)) {
            if rewrite.mapped.our_fault {
                let code = upstream_errors::s3_error_code(&rewrite.upstream_body);
                upstream_errors::report_our_fault(
                    &pool.name,
                    rewrite.upstream_status,
                    code.as_deref(),
                );
            }
        }
        if gw.config.server.access_log {
            access_log::log(session, e, ctx, &gw);
        }
        observe::request::finished(session, e, ctx, &gw);
    }
}

/// `server.upstream_log`: a line for an upstream attempt that failed before the request's end:
/// a connection that could not be made (always), or a request on a connection that broke and
/// is retried on another (its line would otherwise be lost when the retry notes its own). A
/// failure that is not retried is logged by the logging phase, with the request's numbers.
fn log_failed_attempt(session: &Session, ctx: &mut RequestCtx, e: &Error) {
    let gw = ctx.gw.clone();
    let Some(log) = gw.upstream_log.as_ref() else {
        return;
    };
    let retrying = matches!(e.retry, pingora_error::RetryType::Decided(true));
    let sent = ctx.upstream_call.as_ref().is_some_and(|c| c.was_sent());
    if sent && !retrying {
        return;
    }
    let Some(mut call) = ctx.upstream_call.take() else {
        return;
    };
    if !sent {
        call.connect_failed(session.req_header().method.as_str());
    }
    let route = observe::request::route_label(&gw, ctx.route);
    log.write(
        &call,
        &upstream_log::Done {
            upstream_ms: ctx.upstream_start.map(|t| t.elapsed().as_millis()),
            sent: if sent {
                session.upstream_body_bytes_sent()
            } else {
                Some(0)
            },
            received: if sent {
                session.upstream_body_bytes_received()
            } else {
                0
            },
            route: &route,
            error: Some(e),
            retrying,
        },
    );
}

/// The matched route and the request's host and raw path remainder.
struct Found {
    index: usize,
    /// The host without its port.
    host: String,
    /// The raw path after the route prefix, with the query.
    rest: String,
}

impl Proxy {
    /// The upstream pool of the request: the S3 bucket's, or the route's.
    fn pool<'a>(&'a self, ctx: &'a RequestCtx) -> Option<&'a Arc<Pool>> {
        if let Some(plan) = ctx.s3.as_ref() {
            return Some(&plan.pool);
        }
        ctx.route.map(|i| &ctx.gw.route_pools[i])
    }

    /// Matches the route by host and raw path.
    /// The response head the client gets from an upstream head: S3 rewrites, the response
    /// header policy, or our own error head.
    fn shape_response(&self, resp: &mut ResponseHeader, ctx: &mut RequestCtx) -> Result<()> {
        let status = resp.status.as_u16();
        ctx.upstream_time = ctx.upstream_start.map(|t| t.elapsed());
        if let Some(plan) = ctx.s3.as_ref() {
            let request_id = ctx.request_id.as_deref().unwrap_or("-");
            ctx.s3_body = Some(s3::response::on_head(plan, resp, request_id)?);
            return Ok(());
        }
        if status < 300 || status == 304 {
            header_policy::filter_response(resp);
            return Ok(());
        }
        let mapped = upstream_errors::map_status(status);
        *resp = error_head(&mapped)?;
        ctx.error = Some(ErrorRewrite {
            upstream_status: status,
            mapped,
            upstream_body: Vec::new(),
            sent: false,
        });
        Ok(())
    }

    /// CORS preflights: answered here (true), before authentication (browsers send them
    /// without credentials).
    async fn cors_preflight(
        &self,
        session: &mut Session,
        gw: &Gateway,
        route: usize,
    ) -> Result<bool> {
        let Some(policy) = gw.cors[route].as_ref() else {
            return Ok(false);
        };
        let req = session.req_header();
        let Some(origin) = cors::preflight_origin(req) else {
            return Ok(false);
        };
        match policy.preflight(req, origin) {
            Preflight::Allowed(headers) => {
                let extra: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                reply::send(session, 204, "text/plain", Bytes::new(), &extra).await?;
            }
            Preflight::Refused(why) => {
                log::info!(
                    "cors preflight refused: route={} {why}",
                    gw.route_name(route)
                );
                let reject = Reject::new(403, "cors_refused", &why);
                reply::send_reject(session, &reject).await?;
            }
        }
        Ok(true)
    }

    fn find_route(gw: &Gateway, session: &Session) -> Result<Found, Reject> {
        let req = session.req_header();
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri.host())
            .unwrap_or("");
        let raw = req.raw_path();
        let path_end = raw.iter().position(|&b| b == b'?').unwrap_or(raw.len());
        let path = std::str::from_utf8(&raw[..path_end])
            .map_err(|_| Reject::bad_request("invalid_key", "path is not valid UTF-8"))?;
        let (index, rest) = gw
            .routes
            .find(host, path)
            .ok_or_else(|| Reject::new(404, "no_route", "no route serves this path"))?;
        let rest_start = path.len() - rest.len();
        let rest = std::str::from_utf8(&raw[rest_start..])
            .map_err(|_| Reject::bad_request("invalid_key", "query is not valid UTF-8"))?;
        Ok(Found {
            index,
            host: strip_port(host).to_ascii_lowercase(),
            rest: rest.to_string(),
        })
    }

    /// Plans the object operation of a `files` route, storing it in `ctx`.
    fn plan_files(
        &self,
        session: &Session,
        ctx: &mut RequestCtx,
        found: &Found,
    ) -> Result<(), Reject> {
        let req = session.req_header();
        let client = ClientRequest {
            method: req.method.as_str(),
            rest: found.rest.as_bytes(),
            content_length: req
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()),
            chunked: req.headers.contains_key(http::header::TRANSFER_ENCODING),
        };
        let route = &ctx.gw.config.routes[found.index];
        ctx.object = Some(files::plan(route, &client)?);
        Ok(())
    }

    /// The request phase of an S3 route.
    async fn s3_request(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        found: &Found,
    ) -> Result<bool> {
        let gw = ctx.gw.clone();
        if authorize::s3_sign_in(session, &gw, found.index).await? {
            return Ok(true);
        }
        let request_id = ctx
            .request_id
            .clone()
            .unwrap_or_else(s3::error::new_request_id);
        let decision = s3::handle(
            session,
            &gw,
            found.index,
            &found.host,
            &found.rest,
            &request_id,
            &mut ctx.limits,
        )
        .await;
        ctx.request_id = Some(request_id);
        match decision? {
            s3::Decision::Forward(plan) => {
                ctx.identity = Some(plan.identity.clone());
                ctx.s3 = Some(plan);
                Ok(false)
            }
            s3::Decision::Answered(identity) => {
                ctx.identity = identity;
                Ok(true)
            }
        }
    }
}

/// CORS: when the route has a policy and the request (not a preflight) comes from an allowed
/// `Origin`, every answer to it, ours or the upstream's, carries the CORS headers.
fn cors_headers_for_answers(session: &mut Session, gw: &Gateway, route: usize) {
    let Some(policy) = gw.cors[route].as_ref() else {
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

/// The upstream request of an S3 route: path, query, headers, body framing, signature.
fn s3_upstream_request(plan: &S3Request, req: &mut RequestHeader, host: &str) -> Result<()> {
    req.set_uri(upstream_uri(plan.upstream_path(), &plan.query)?);
    header_policy::filter_s3_request(req);
    if let Some(source) = &plan.copy_source {
        req.insert_header("x-amz-copy-source", source.as_str())?;
    }
    plan.body.edit_headers(req)?;
    req.insert_header("host", host)?;
    plan.pool
        .signer
        .sign(req, &plan.body.payload_hash, SystemTime::now());
    Ok(())
}

/// `path?query`, with the query normalized the way the signer canonicalizes it.
fn upstream_uri(mut target: String, raw_query: &str) -> Result<http::Uri> {
    let query = normalize_query(raw_query);
    if !query.is_empty() {
        target.push('?');
        target.push_str(&query);
    }
    http::Uri::try_from(target)
        .map_err(|e| Error::because(ErrorType::InternalError, "building upstream uri", e))
}

/// The response head that replaces an upstream error: only our status, body type and length.
fn error_head(mapped: &MappedError) -> Result<ResponseHeader> {
    let mut head = ResponseHeader::build(mapped.status, Some(4))?;
    head.insert_header("content-type", "application/json")?;
    head.insert_header("content-length", mapped.body.len().to_string())?;
    head.insert_header("cache-control", "no-store")?;
    if let Some(secs) = mapped.retry_after {
        head.insert_header("retry-after", secs)?;
    }
    Ok(head)
}
