//! The runtime model of one config: its routes, each with everything a request on it needs
//! (its frontend, auth chain, pool and CORS policy), the route table that matches requests to
//! them, and what the whole config shares (pools, limits, the internal S3 client, the upstream
//! log). Built once from a config that already passed validation; a reload builds a new one
//! and swaps it in ([`live`]).

pub mod live;
pub mod route_table;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pingora_core::connectors::http::Connector;

use crate::access::access_keys::AccessKeyStore;
use crate::access::chain::Chain;
use crate::access::cors::CorsPolicy;
use crate::config::model::Frontend as FrontendKind;
use crate::config::Config;
use crate::frontend::files::Files;
use crate::frontend::s3::markers::MarkerSealer;
use crate::frontend::s3::{S3Route, S3};
use crate::frontend::Frontend;
use crate::limit::Limits;
use crate::observe::upstream_log::UpstreamLog;
use crate::upstream::{Pool, Pools, S3Client};
use route_table::RouteTable;

/// One route, ready to serve.
pub struct Route {
    /// The name for logs and metrics: its `name`, or `route<N>`.
    pub name: String,
    /// The route's own pool (`upstream:`).
    pub pool: Arc<Pool>,
    /// The auth chain; empty on public routes.
    pub chain: Chain,
    /// `cors:`, when set.
    pub cors: Option<CorsPolicy>,
    /// The API the route speaks.
    pub frontend: Box<dyn Frontend>,
}

pub struct Gateway {
    pub config: Config,
    /// Matches a request to its route (an index into `route`).
    pub routes: RouteTable,
    /// The routes, in config order.
    pub route: Vec<Route>,
    pub pools: Pools,
    /// The S3 calls bucketgate makes itself, over `pools`.
    pub client: S3Client,
    /// Set once shutdown begins; `/readyz` then answers 503. Shared by every gateway a reload
    /// builds, so the flag survives a swap.
    pub draining: Arc<AtomicBool>,
    /// Rate and concurrency limits; their counters are process-wide, so a reload keeps them.
    pub limits: Limits,
    /// `server.upstream_log`, opened anew by each config (a reload reopens it).
    pub upstream_log: Option<Arc<UpstreamLog>>,
}

impl Gateway {
    /// `connector`: the process's upstream connector (the internal client's), kept across
    /// reloads.
    pub fn new(
        config: Config,
        pools: Pools,
        chains: Vec<Chain>,
        keys: AccessKeyStore,
        connector: Arc<Connector>,
    ) -> Gateway {
        let markers = Arc::new(MarkerSealer::new(keys.keyring()));
        let keys = Arc::new(keys);
        let pool_of = |name: &str| {
            pools
                .by_name
                .get(name)
                .cloned()
                .expect("config validation checks that every route names an upstream")
        };
        let route = (config.routes.iter().zip(chains).enumerate())
            .map(|(i, (r, chain))| {
                let pool = pool_of(&r.upstream);
                let frontend: Box<dyn Frontend> = match r.frontend {
                    FrontendKind::Files => Box::new(Files::new(&r.bucket, pool.clone())),
                    FrontendKind::S3 => Box::new(S3::new(
                        S3Route::new(r, &pools),
                        keys.clone(),
                        markers.clone(),
                    )),
                };
                Route {
                    name: r.name.clone().unwrap_or_else(|| format!("route{i}")),
                    pool,
                    chain,
                    cors: r.cors.as_ref().map(CorsPolicy::new),
                    frontend,
                }
            })
            .collect();
        let upstream_log =
            (config.server.upstream_log.as_deref()).map(|path| Arc::new(UpstreamLog::open(path)));
        Gateway {
            routes: RouteTable::new(&config.routes),
            route,
            client: S3Client::new(connector, upstream_log.clone()),
            limits: Limits::new(&config),
            upstream_log,
            config,
            pools,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The route's name for logs: its `name`, or `route<N>`.
    pub fn route_name(&self, index: usize) -> &str {
        &self.route[index].name
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
