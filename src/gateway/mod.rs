//! The state every request reads: the loaded config, the route table and the upstream pools.
//! Built once at start-up from a config that already passed validation.

pub mod live;
pub mod route_table;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pingora_core::connectors::http::Connector;

use crate::access::access_keys::AccessKeyStore;
use crate::access::cors::CorsPolicy;
use crate::access::Chain;
use crate::config::model::Frontend;
use crate::config::Config;
use crate::frontend::s3::markers::MarkerSealer;
use crate::frontend::s3::S3Route;
use crate::gateway::route_table::RouteTable;
use crate::upstream::{Pool, Pools};

pub struct Gateway {
    pub config: Config,
    pub routes: RouteTable,
    pub pools: Pools,
    /// The pool of each route, by route index.
    pub route_pools: Vec<Arc<Pool>>,
    /// The auth chain of each route, by route index; empty for public routes.
    pub chains: Vec<Chain>,
    /// The bucket table of each `frontend: s3` route, by route index.
    pub s3_routes: Vec<Option<S3Route>>,
    /// The CORS policy of each route, by route index; None without `cors:`.
    pub cors: Vec<Option<CorsPolicy>>,
    /// The access keys S3 routes accept.
    pub keys: AccessKeyStore,
    /// Seals listing markers for S3 clients.
    pub markers: MarkerSealer,
    /// Upstream connections bucketgate opens itself (DeleteObjects), outside the proxy flow.
    pub connector: Connector,
    /// Set once shutdown begins; `/readyz` then answers 503. Shared by every gateway a reload
    /// builds, so the flag survives a swap.
    pub draining: Arc<AtomicBool>,
    /// Rate and concurrency limits; their counters are process-wide, so a reload keeps them.
    pub limits: crate::limit::Limits,
    /// `server.upstream_log`, opened anew by each config (a reload reopens it).
    pub upstream_log: Option<crate::observe::upstream_log::UpstreamLog>,
}

impl Gateway {
    pub fn new(config: Config, pools: Pools, chains: Vec<Chain>, keys: AccessKeyStore) -> Gateway {
        let route_pools = config
            .routes
            .iter()
            .map(|r| {
                pools
                    .by_name
                    .get(&r.upstream)
                    .cloned()
                    .expect("config validation checks that every route names an upstream")
            })
            .collect();
        let s3_routes = config
            .routes
            .iter()
            .map(|r| (r.frontend == Frontend::S3).then(|| S3Route::new(r, &pools)))
            .collect();
        let cors = config
            .routes
            .iter()
            .map(|r| r.cors.as_ref().map(CorsPolicy::new))
            .collect();
        Gateway {
            routes: RouteTable::new(&config.routes),
            cors,
            s3_routes,
            markers: MarkerSealer::new(keys.keyring()),
            keys,
            connector: Connector::new(None),
            limits: crate::limit::Limits::new(&config),
            upstream_log: (config.server.upstream_log.as_deref())
                .map(crate::observe::upstream_log::UpstreamLog::open),
            config,
            pools,
            route_pools,
            chains,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The route's name for logs: its `name`, or `route<N>`.
    pub fn route_name(&self, index: usize) -> String {
        self.config.routes[index]
            .name
            .clone()
            .unwrap_or_else(|| format!("route{index}"))
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
