//! What the spine hands a frontend for one request: the matched route's parts (its auth chain,
//! its pool, its limits) and the slots the frontend fills (who the caller is).

use std::sync::Arc;

use bucketgate_plugin::Identity;

use crate::access::authorize::Gate;
use crate::access::chain::Chain;
use crate::config::model::Route;
use crate::limit::{Admission, Limits};
use crate::reply::Refusal;
use crate::upstream::Pool;

/// One request as a frontend sees it, after route matching and the per-client limits.
pub struct Exchange<'a> {
    /// The route's index and its name for logs.
    pub route: usize,
    pub route_name: &'a str,
    /// The route as configured.
    pub config: &'a Route,
    pub chain: &'a Chain,
    /// The route's pool (the `s3` frontend's buckets may name others).
    pub pool: &'a Arc<Pool>,
    pub limits: &'a Limits,
    /// This request's place in the limits (its client address, its counted attempt).
    pub admission: &'a mut Admission,
    /// The request host, lower case, without its port.
    pub host: &'a str,
    /// The raw path after the route's prefix, with the query.
    pub rest: &'a str,
    /// The request's id ([`super::Frontend::request_id`]).
    pub request_id: Option<&'a str>,
    /// Who the caller turned out to be, for the access log: set by the frontend.
    pub identity: Option<Identity>,
    /// The object key for the access log when the request is answered here (a forwarded call
    /// names its own, [`super::Forward::log_key`]).
    pub key: Option<String>,
}

impl<'a> Exchange<'a> {
    /// The route's side of authorization, for `access::authorize`.
    pub fn gate(&self) -> Gate<'a> {
        Gate {
            chain: self.chain,
            limits: self.limits,
            route_name: self.route_name,
        }
    }

    /// The per-identity limit, once the caller is known.
    pub async fn check_identity(&mut self, subject: &str) -> Option<Refusal> {
        let refusal = (self.limits)
            .check_identity(self.route, self.route_name, subject, self.admission)
            .await?;
        Some(Refusal::limited(&refusal))
    }
}
