//! The spine: Pingora's `ProxyHttp` phases, each delegating in a few lines to the layer that
//! owns the step, so the whole life of a request reads on one screen. Nothing here knows one
//! frontend from another: the route's [`crate::frontend::Frontend`] decides, and a forwarded call's
//! [`crate::frontend::Forward`] owns its heads and bodies.
//!
//! | phase | owner |
//! |---|---|
//! | `request_filter` | [`super::tls_version`], [`super::health`], [`super::route`], [`crate::limit`] (per client), [`super::cors`], then the route's [`crate::frontend::Frontend::request`] (auth, grants, per-identity limit; answer, forward or drive) |
//! | `upstream_peer` | [`crate::upstream::Pool`] (backend choice, avoiding failed ones) |
//! | `upstream_request_filter` | the forward: path, header policy, SigV4 |
//! | `request_body_filter` | the forward (aws-chunked checks on `s3`) |
//! | `upstream_response_filter`, `response_body_filter` | the forward (header policy, error and listing rewrites) |
//! | `fail_to_connect`, `error_while_proxy` | [`crate::upstream::retry`] |
//! | `fail_to_proxy` | the frontend renders the [`Refusal`] |
//! | `logging` | [`crate::observe`] (access log, metrics, upstream log) |

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::modules::http::compression::ResponseCompressionBuilder;
use pingora_core::modules::http::HttpModules;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorSource, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};

use super::cors_headers::CorsHeadersBuilder;
use super::ctx::RequestCtx;
use super::route::{self, Found};
use super::{cors, health};
use crate::frontend::{Exchange, Step};
use crate::gateway::live::Live;
use crate::observe::{self, upstream_log};
use crate::reply::{self, Refusal};
use crate::upstream::retry;
use crate::util::client_gone::is_client_gone;

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
        RequestCtx::new(self.live.current())
    }

    /// Admission (up to the route's limits and CORS), then the route's frontend decides, then
    /// the spine carries out its step.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let Some(found) = self.admit(session, ctx).await? else {
            return Ok(true);
        };
        let step = self.decide(session, ctx, &found).await?;
        self.take_step(session, ctx, step).await
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(forward) = ctx.forward.as_mut() else {
            return Ok(());
        };
        if let Err(refusal) = forward.request_body(body, end_of_stream) {
            ctx.refusal = Some(refusal);
            return Err(Error::explain(
                ErrorType::InvalidHTTPHeader,
                "request body refused",
            ));
        }
        Ok(())
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        ctx.attempts.count += 1;
        let Some(forward) = ctx.forward.as_ref() else {
            return Err(Error::explain(ErrorType::InternalError, "no route planned"));
        };
        let pool = forward.pool();
        let (bucket, key) = forward.target();
        // Like nginx's "no live upstreams", while /readyz says which pool is down.
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
            (ctx.gw.upstream_log.as_ref()).map(|_| upstream_log::Call::to(&target.peer));
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
        let (Some(forward), Some(host)) = (ctx.forward.as_mut(), ctx.upstream_host.as_ref()) else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no upstream planned",
            ));
        };
        forward.upstream_request(req, host)?;
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
        ctx.upstream_time = ctx.upstream_start.map(|t| t.elapsed());
        match ctx.forward.as_mut() {
            Some(forward) => forward.response_head(resp),
            None => Ok(()),
        }
    }

    fn response_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(forward) = ctx.forward.as_mut() {
            forward.response_body(body, end_of_stream, session.req_header());
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
        if let Some(pool) = ctx.forward.as_ref().map(|f| f.pool().clone()) {
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
        if let Some(forward) = ctx.forward.as_ref() {
            forward
                .pool()
                .ejection
                .record_connected(&peer._address, reused);
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
            filtered_body: ctx.forward.as_ref().is_some_and(|f| f.filters_body()),
            body_truncated: session.as_ref().retry_buffer_truncated(),
            response_started: session.response_written().is_some() || ctx.upstream_time.is_some(),
        };
        let max = ctx.forward.as_ref().map_or(0, |f| f.pool().max_retries);
        if retry::retry_allowed(&failure, &ctx.attempts, max) {
            e.retry.decide_reuse(client_reused);
        } else {
            e.set_retry(false);
        }
        log_failed_attempt(session, ctx, &e);
        e
    }

    /// The refusal the frontend set mid-body, or the one for the failure, in the route's
    /// format (JSON before a route matched).
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let refusal = ctx.refusal.take().or_else(|| Refusal::from_proxy_error(e));
        let Some(refusal) = refusal else {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        let answer = self.render(session, ctx, &refusal);
        if session.response_written().is_none() {
            if let Err(write_err) = reply::send_reply(session, &answer).await {
                log::debug!("could not send error response: {write_err}");
            }
        }
        FailToProxy {
            error_code: answer.status,
            can_reuse_downstream: false,
        }
    }

    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, e: &Error) -> bool {
        is_client_gone(e)
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        if let Some(forward) = ctx.forward.as_ref() {
            forward.finished();
        }
        let gw = &ctx.gw;
        let record = ctx.record();
        if gw.config.server.access_log {
            observe::access_log::log(session, e, &record, gw.config.server.access_log_format);
        }
        let log = gw.upstream_log.as_deref();
        observe::request::finished(session, e, &record, ctx.upstream_call.as_ref(), log);
    }
}

impl Proxy {
    /// Everything before the frontend: the TLS gate, health endpoints, route matching, the
    /// per-client limits and CORS preflights. `None` when the request was answered here.
    async fn admit(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Option<Found>> {
        let gw = ctx.gw.clone();
        if super::tls_version::below_min_version(session, &self.live.tls) {
            session.set_keepalive(None);
            let refusal =
                Refusal::new(426, "tls_version_too_old", "this listener requires TLS 1.3");
            reply::send_reply(session, &refusal.json()).await?;
            return Ok(None);
        }
        if health::handle(session, &gw).await? {
            return Ok(None);
        }
        let found = match route::find(&gw, session) {
            Ok(found) => found,
            Err(refusal) => {
                reply::send_reply(session, &refusal.json()).await?;
                return Ok(None);
            }
        };
        let r = &gw.route[found.index];
        ctx.route = Some(found.index);
        // One id from here on: every answer and the access log line carry it.
        ctx.request_id = r.frontend.request_id();
        cors::headers_for_answers(session, r);
        let attempt = (r.frontend).carries_credentials(session.req_header(), &r.chain);
        if let Some(limited) = (gw.limits)
            .check_client(session, found.index, &r.name, attempt, &mut ctx.limits)
            .await
        {
            self.refuse(session, ctx, &Refusal::limited(&limited))
                .await?;
            return Ok(None);
        }
        if cors::preflight(session, r).await? {
            return Ok(None);
        }
        Ok(Some(found))
    }

    /// The route's frontend decides what to do with the request.
    async fn decide(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        found: &Found,
    ) -> Result<Step> {
        let gw = ctx.gw.clone();
        let r = &gw.route[found.index];
        let mut ex = Exchange {
            route: found.index,
            route_name: &r.name,
            config: &gw.config.routes[found.index],
            chain: &r.chain,
            pool: &r.pool,
            limits: &gw.limits,
            admission: &mut ctx.limits,
            host: &found.host,
            rest: &found.rest,
            request_id: ctx.request_id.as_deref(),
            identity: None,
            key: None,
        };
        let step = r.frontend.request(session, &mut ex).await;
        ctx.identity = ex.identity.take();
        ctx.key = ex.key.take();
        step
    }

    /// Carries out the frontend's step; true when the request was answered here.
    async fn take_step(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        step: Step,
    ) -> Result<bool> {
        match step {
            Step::Forward(forward) => {
                ctx.forward = Some(forward);
                Ok(false)
            }
            Step::Refuse(refusal) => self.refuse(session, ctx, &refusal).await,
            Step::Plugin(resp) => reply::send_local(session, &resp).await.map(|_| true),
            Step::Reply(answer) => reply::send_reply(session, &answer).await.map(|_| true),
            Step::Drive(drive) => match drive.run(session, &ctx.gw.client).await? {
                Ok(()) => Ok(true),
                Err(refusal) => self.refuse(session, ctx, &refusal).await,
            },
        }
    }

    /// Answers `refusal` in the route's format; the request is over (true).
    async fn refuse(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        refusal: &Refusal,
    ) -> Result<bool> {
        let answer = self.render(session, ctx, refusal);
        reply::send_reply(session, &answer).await?;
        Ok(true)
    }

    /// `refusal` rendered by the route's frontend, or as JSON when no route matched.
    fn render(&self, session: &Session, ctx: &RequestCtx, refusal: &Refusal) -> reply::Reply {
        let request_id = ctx.request_id.as_deref();
        match ctx.route() {
            Some(r) => r.frontend.render(refusal, session.req_header(), request_id),
            None => refusal.json(),
        }
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
    let route = observe::record::route_label(ctx.record().route);
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
