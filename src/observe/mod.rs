//! Observability: Prometheus metrics ([`metrics`], served by [`exposition`] on a listener of its
//! own) and the upstream request log ([`upstream_log`]). The access log stays in
//! [`crate::observe::access_log`].
//!
//! Everything counted lives in process-wide statics, so a config reload (which builds a new
//! [`crate::gateway::Gateway`]) keeps every counter; only what is read at scrape time (backend
//! health) comes from the gateway serving at that moment.

pub mod access_log;
pub mod auth;
pub mod metrics;
pub mod record;
pub mod request;
pub mod upstream_log;
