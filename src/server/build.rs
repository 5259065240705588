//! Builds the Pingora server from a validated config: the listeners, the proxy service and the
//! background services (upstream resolution and health checks, drain watch), then runs it.

use std::path::Path;
use std::sync::Arc;

use pingora_core::connectors::http::Connector;
use pingora_core::connectors::ConnectorOptions;
use pingora_core::server::configuration::{Opt, ServerConf};
use pingora_core::server::{RunArgs, Server};
use pingora_core::services::background::background_service;

use crate::access;
use crate::config::Config;
use crate::gateway::live::Live;
use crate::gateway::Gateway;
use crate::request::spine::Proxy;
use crate::server::drain::DrainWatch;
use crate::server::signals::Signals;
use crate::upstream::Pools;

/// Flags from the command line that Pingora understands.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFlags {
    pub daemon: bool,
    pub upgrade: bool,
    pub test: bool,
}

/// Pingora's settings from ours.
pub fn server_conf(cfg: &Config, flags: RunFlags) -> ServerConf {
    let s = &cfg.server;
    ServerConf {
        daemon: flags.daemon,
        pid_file: s.pid_file.clone(),
        upgrade_sock: s.upgrade_sock.clone(),
        error_log: s.error_log.clone(),
        threads: s.threads.unwrap_or_else(num_threads),
        grace_period_seconds: Some(s.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(s.graceful_shutdown_timeout_seconds),
        upstream_keepalive_pool_size: s.upstream_keepalive_pool_size,
        ..ServerConf::default()
    }
}

fn num_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Builds the server; nothing listens until [`Server::run_forever`]. Fails (before anything
/// listens) only when an auth plugin or the access keys cannot load what `check` validated a
/// moment ago.
pub fn build(cfg: Config, flags: RunFlags, config_path: &Path) -> Result<Built, String> {
    let chains = access::build::chains(&cfg)?;
    let keys = crate::access::access_keys::AccessKeyStore::from_config(&cfg.access_keys)?;
    let conf = server_conf(&cfg, flags);
    let opt = Opt {
        upgrade: flags.upgrade,
        daemon: flags.daemon,
        nocapture: false,
        test: flags.test,
        conf: None,
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let (pools, pool_services) = Pools::new(&cfg.upstreams);
    let endpoints = crate::server::listeners::Endpoints::build(&cfg.listeners)?;
    let metrics = cfg.metrics.clone();
    // One connector for the internal S3 client, from the server's settings (keep-alive pool
    // size), for the life of the process: every reloaded config hands it on.
    let connector = Arc::new(Connector::new(Some(ConnectorOptions::from_server_conf(
        &server.configuration,
    ))));
    let gateway = Arc::new(Gateway::new(cfg, pools, chains, keys, connector));
    let draining = gateway.draining.clone();
    let mut live = Live::new(gateway, config_path.to_path_buf());
    live.tls = endpoints.resolvers();
    let live = Arc::new(live);

    let mut proxy = pingora_proxy::http_proxy_service_with_name(
        &server.configuration,
        Proxy { live: live.clone() },
        "bucketgate",
    );
    endpoints.add_to(&mut proxy);
    let pool_handles: Vec<_> = pool_services
        .into_iter()
        .map(|service| server.add_service(service))
        .collect();
    server.add_service(background_service("drain watch", DrainWatch(draining)));
    if let Some(m) = metrics {
        let address = m.address.0.to_string();
        server.add_service(crate::server::exposition::service(
            live.clone(),
            &address,
            &m.path,
        ));
    }
    // Listeners open only after every pool's first name resolution, so the first requests
    // never meet an empty pool.
    server.add_service(proxy).add_dependencies(&pool_handles);
    Ok(Built { server, live })
}

/// A server ready to run, and the handle its signals reload.
pub struct Built {
    pub server: Server,
    pub live: Arc<Live>,
}

impl Built {
    /// Serves until a shutdown signal (see [`crate::server::signals`]) has run its course.
    pub fn run(self) {
        self.server.run(RunArgs {
            shutdown_signal: Box::new(Signals {
                live: self.live,
                reloading: Default::default(),
            }),
        });
    }
}
