//! The per-request context the proxy phases share. Nothing in it belongs to one frontend: the
//! frontend's own state for a forwarded call lives in its [`Forward`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketgate_plugin::Identity;

use crate::frontend::Forward;
use crate::gateway::{Gateway, Route};
use crate::limit::Admission;
use crate::observe::metrics::InFlight;
use crate::observe::record::Record;
use crate::observe::upstream_log;
use crate::reply::Refusal;
use crate::upstream::retry::Attempts;

pub struct RequestCtx {
    /// The config this request runs under, fixed at its start even if a reload swaps it.
    pub gw: Arc<Gateway>,
    pub start: Instant,
    /// Index of the matched route.
    pub route: Option<usize>,
    /// The API's request id, made when the route matched (S3's `x-amz-request-id`).
    pub request_id: Option<String>,
    /// Who the caller is, once the frontend knows.
    pub identity: Option<Identity>,
    /// The object key for the access log, when the frontend answered without forwarding.
    pub key: Option<String>,
    /// The call on its way upstream, when the frontend forwards.
    pub forward: Option<Box<dyn Forward>>,
    /// Why the frontend aborted the call mid-body (a forged chunk, a bad checksum).
    pub refusal: Option<Refusal>,
    /// The `Host` header for the chosen backend.
    pub upstream_host: Option<String>,
    pub upstream_start: Option<Instant>,
    /// Time from choosing a backend to its response head.
    pub upstream_time: Option<Duration>,
    /// The upstream request, for `server.upstream_log` (None when that is off).
    pub upstream_call: Option<upstream_log::Call>,
    /// Counts the request in `bucketgate_requests_in_flight` while it lives.
    pub _in_flight: InFlight,
    /// The upstream attempts so far, for retries and backend selection.
    pub attempts: Attempts,
    /// Rate limits: the client address, and this request's places in the concurrency counts
    /// (given back when the request ends and the context drops).
    pub limits: Admission,
}

impl RequestCtx {
    pub fn new(gw: Arc<Gateway>) -> RequestCtx {
        RequestCtx {
            gw,
            start: Instant::now(),
            route: None,
            request_id: None,
            identity: None,
            key: None,
            forward: None,
            refusal: None,
            upstream_host: None,
            upstream_start: None,
            upstream_time: None,
            upstream_call: None,
            _in_flight: InFlight::start(),
            attempts: Attempts::default(),
            limits: Admission::default(),
        }
    }

    /// The matched route.
    pub fn route(&self) -> Option<&Route> {
        self.route.map(|i| &self.gw.route[i])
    }

    /// What the logs and metrics are told about the request.
    pub fn record(&self) -> Record<'_> {
        Record {
            route: (self.route).map(|i| (i, self.gw.config.routes[i].name.as_deref())),
            user: self.identity.as_ref().map_or("-", |i| i.subject.as_str()),
            key: (self.forward.as_ref())
                .and_then(|f| f.log_key())
                .or(self.key.as_deref())
                .unwrap_or("-"),
            request_id: self.request_id.as_deref(),
            start: self.start,
            upstream_time: self.upstream_time,
        }
    }
}
