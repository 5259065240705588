//! A pool of S3 endpoints behind one load balancer, with the signer for its credentials.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingora_core::protocols::l4::socket::SocketAddr;
use pingora_core::services::background::{background_service, GenBackgroundService};
use pingora_core::upstreams::peer::HttpPeer;
use pingora_load_balancing::{Backend, Backends, LoadBalancer};

use super::background::{pool_service, PoolService, Stopper};
use super::discovery::DnsDiscovery;
use super::ejection::Ejection;
use super::health_check::PoolCheck;
use super::selection::{hash_key, Balanced};
use crate::config::model::{Addressing, Endpoint, Scheme, Upstream};
use crate::s3::sign::Signer;

/// One configured upstream, ready to take requests.
pub struct Pool {
    pub name: String,
    lb: Arc<LoadBalancer<Balanced>>,
    /// Backends skipped after consecutive connect failures.
    pub ejection: Ejection,
    /// Retries of one request on another backend.
    pub max_retries: usize,
    idle_timeout: Duration,
    tls: bool,
    addressing: Addressing,
    pub signer: Signer,
    /// Decode `STREAMING-UNSIGNED-PAYLOAD-TRAILER` uploads before they reach this pool.
    pub decodes_trailers: bool,
    connect_timeout: Duration,
    read_timeout: Duration,
    write_timeout: Duration,
    /// Stops the pool's resolution and health checks when the pool is dropped (a reload
    /// changed or removed it).
    _background: Stopper,
    /// `tls`: CA bundle, client certificate, verification (see [`crate::tls::upstream`]).
    peer_tls: Option<crate::tls::upstream::PeerTls>,
    /// Failed checks in a row that mark a backend down (`health_check.fall`).
    fall: usize,
}

/// The chosen backend for one request, with the `Host` header that goes with it.
pub struct Target {
    pub peer: Box<HttpPeer>,
    pub host: String,
}

impl Pool {
    /// Builds the pool and the background service that resolves and health-checks it. The
    /// service must be added to the server, or the pool never gets backends.
    pub fn new(name: &str, cfg: &Upstream) -> (Pool, GenBackgroundService<PoolService>) {
        let creds = cfg
            .credentials
            .as_ref()
            .expect("config loading fills in credentials");
        let discovery = DnsDiscovery {
            pool: name.to_string(),
            endpoints: cfg.endpoints.clone(),
        };
        let mut lb = LoadBalancer::<Balanced>::from_backends_with_config(
            Backends::new(Box::new(discovery)),
            Some(cfg.balance),
        );
        let tls = cfg.scheme == Scheme::Https;
        lb.set_health_check(Box::new(PoolCheck::new(name, cfg, tls)));
        lb.health_check_frequency = Some(Duration::from_secs(cfg.health_check_interval_seconds));
        lb.parallel_health_check = true;
        lb.update_frequency = Some(Duration::from_secs(cfg.resolve_interval_seconds));
        let lb = Arc::new(lb);
        let fall = cfg.health_check.fall.max(1);
        let (task, stopper) = pool_service(lb.clone(), fall);
        let service = background_service(&format!("upstream {name}"), task);
        let pool = Pool {
            name: name.to_string(),
            lb,
            ejection: Ejection::new(&cfg.passive_ejection),
            max_retries: cfg.max_retries,
            idle_timeout: Duration::from_secs(cfg.idle_timeout_seconds),
            tls,
            addressing: cfg.addressing,
            signer: Signer::new(
                &creds.access_key_id,
                &creds.secret_access_key,
                creds.session_token.as_deref(),
                &cfg.region,
            ),
            decodes_trailers: cfg.decodes_trailers(),
            connect_timeout: Duration::from_millis(cfg.connect_timeout_ms),
            read_timeout: Duration::from_millis(cfg.read_timeout_ms),
            write_timeout: Duration::from_millis(cfg.write_timeout_ms),
            _background: stopper,
            peer_tls: crate::tls::upstream::for_pool(name, cfg.tls.as_ref()),
            fall,
        };
        (pool, service)
    }

    /// [`super::background::first_checks`] of this pool (a reload runs them on new pools
    /// before they take traffic). False when they took too long.
    pub async fn check_before_serving(&self) -> bool {
        super::background::first_checks(&self.lb, self.fall).await
    }

    /// True when at least one backend is resolved and passes its health check.
    pub fn is_usable(&self) -> bool {
        let backends = self.lb.backends();
        backends.get_backend().iter().any(|b| backends.ready(b))
    }

    /// Resolved backends (a name may give several addresses); 0 before the first resolution.
    pub fn backend_count(&self) -> usize {
        self.lb.backends().get_backend().len()
    }

    /// Whether a backend passes its health check and is not in `failed` (so a failed connect
    /// has somewhere else to go).
    pub fn has_untried_healthy(&self, failed: &[SocketAddr]) -> bool {
        let backends = self.lb.backends();
        backends
            .get_backend()
            .iter()
            .any(|b| backends.ready(b) && !failed.contains(&b.addr))
    }

    /// Each resolved backend's address and whether it passes its health check (metrics).
    pub fn backend_health(&self) -> Vec<(String, bool)> {
        let backends = self.lb.backends();
        let all = backends.get_backend();
        all.iter()
            .map(|b| (b.addr.to_string(), backends.ready(b)))
            .collect()
    }

    /// Picks a healthy backend and builds the peer for a request to `bucket` (bucket
    /// operations: consistent hashing keys on the bucket alone).
    pub fn pick(&self, bucket: &str) -> Option<Target> {
        self.pick_for(bucket, "", &[])
    }

    /// Picks a backend for `key` in `bucket` (the key only matters to consistent hashing).
    /// In order of preference: healthy, not ejected and not in `failed` (backends this
    /// request already failed on); then healthy and not in `failed`, even if ejected. A
    /// backend in `failed` is never picked again. `None` when no such backend exists.
    pub fn pick_for(&self, bucket: &str, key: &str, failed: &[SocketAddr]) -> Option<Target> {
        let hashed = hash_key(bucket, key);
        let now = Instant::now();
        let fresh = |b: &Backend| !failed.contains(&b.addr);
        let backend = self
            .lb
            .select_with(&hashed, 256, |b, healthy| {
                healthy && fresh(b) && !self.ejection.is_ejected(&b.addr, now)
            })
            .or_else(|| {
                self.lb
                    .select_with(&hashed, 256, |b, healthy| healthy && fresh(b))
            })?;
        Some(self.target(&backend, bucket))
    }

    fn target(&self, backend: &Backend, bucket: &str) -> Target {
        let ep = backend
            .ext
            .get::<Endpoint>()
            .cloned()
            .unwrap_or_else(|| Endpoint {
                host: backend.addr.to_string(),
                port: 0,
                weight: 1,
            });
        let default_port = if self.tls { 443 } else { 80 };
        let name = match self.addressing {
            Addressing::Path => ep.host.clone(),
            Addressing::Virtual => format!("{bucket}.{}", ep.host),
        };
        let host = if ep.port == default_port {
            bracket_v6(&name)
        } else {
            format!("{}:{}", bracket_v6(&name), ep.port)
        };
        let mut peer = Box::new(HttpPeer::new(backend.addr.clone(), self.tls, name));
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.read_timeout = Some(self.read_timeout);
        peer.options.write_timeout = Some(self.write_timeout);
        peer.options.idle_timeout = Some(self.idle_timeout);
        if let Some(t) = &self.peer_tls {
            t.apply(&mut peer);
        }
        Target { peer, host }
    }

    /// The upstream request path for `key` (already encoded) in `bucket`.
    pub fn object_path(&self, bucket: &str, encoded_key: &str) -> String {
        match self.addressing {
            Addressing::Path => format!("/{bucket}/{encoded_key}"),
            Addressing::Virtual => format!("/{encoded_key}"),
        }
    }
}

fn bracket_v6(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Every pool of the config, by name, plus the background services that keep them fresh.
pub struct Pools {
    pub by_name: BTreeMap<String, Arc<Pool>>,
    /// The config each pool was built from, so a reload keeps the pools that did not change
    /// (with their health state and connections).
    pub configs: BTreeMap<String, Upstream>,
}

impl Pools {
    /// Every pool's backends and their health, for the metrics exposition.
    pub fn health(&self) -> Vec<(String, Vec<(String, bool)>)> {
        (self.by_name.iter())
            .map(|(name, pool)| (name.clone(), pool.backend_health()))
            .collect()
    }

    pub fn new(
        upstreams: &BTreeMap<String, Upstream>,
    ) -> (Pools, Vec<GenBackgroundService<PoolService>>) {
        let mut by_name = BTreeMap::new();
        let mut services = Vec::new();
        for (name, cfg) in upstreams {
            let (pool, service) = Pool::new(name, cfg);
            by_name.insert(name.clone(), Arc::new(pool));
            services.push(service);
        }
        let configs = upstreams.clone();
        (Pools { by_name, configs }, services)
    }

    /// The pools of a reloaded config: unchanged ones are shared with `old`, new or changed ones
    /// are built with their background loop spawned on the current runtime.
    pub fn rebuild(upstreams: &BTreeMap<String, Upstream>, old: &Pools) -> Pools {
        let mut by_name = BTreeMap::new();
        for (name, cfg) in upstreams {
            let kept = old
                .by_name
                .get(name)
                .filter(|_| old.configs.get(name) == Some(cfg));
            let pool = match kept {
                Some(pool) => pool.clone(),
                None => {
                    let (pool, service) = Pool::new(name, cfg);
                    super::background::spawn(service.task());
                    log::info!("upstream {name}: new or changed, resolving its endpoints");
                    Arc::new(pool)
                }
            };
            by_name.insert(name.clone(), pool);
        }
        Pools {
            by_name,
            configs: upstreams.clone(),
        }
    }

    /// Names of pools with no usable backend; empty when all are ready.
    pub fn unready(&self) -> Vec<&str> {
        self.by_name
            .values()
            .filter(|p| !p.is_usable())
            .map(|p| p.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of `endpoints` (TCP health check, one failure marks a backend down).
    pub(crate) fn pool(endpoints: &[String]) -> Pool {
        let yaml = format!(
            "endpoints: [{}]\ncredentials: {{access_key_id: k, secret_access_key: s}}\nmax_retries: 5\n",
            endpoints.join(", ")
        );
        let cfg: Upstream = serde_yaml::from_str(&yaml).unwrap();
        Pool::new("p", &cfg).0
    }

    fn inet(s: &str) -> SocketAddr {
        SocketAddr::Inet(s.parse().unwrap())
    }

    #[tokio::test]
    async fn a_failed_backend_is_never_retried_when_the_rest_are_down() {
        // A accepts connections (so it passes the TCP health check) but the requests fail
        // to connect to it; B refuses, so the health check takes it out.
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a_addr = a.local_addr().unwrap().to_string();
        let b_addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let pool = pool(&[a_addr.clone(), b_addr.clone()]);
        pool.lb.update().await.unwrap();
        pool.lb.backends().run_health_check(false).await;
        let mut health = pool.backend_health();
        health.sort_by_key(|(addr, _)| addr != &a_addr);
        assert_eq!(
            health,
            vec![(a_addr.clone(), true), (b_addr.clone(), false)]
        );

        let mut attempts = super::super::retry::Attempts::default();
        let first = pool.pick_for("bkt", "k", &attempts.failed).unwrap();
        assert_eq!(
            first.peer._address,
            inet(&a_addr),
            "A is the only healthy one"
        );
        attempts.count += 1;
        assert!(
            !super::super::retry::connect_failed(&pool, &mut attempts, &inet(&a_addr)),
            "no healthy backend is left untried: no retry"
        );
        assert!(
            pool.pick_for("bkt", "k", &attempts.failed).is_none(),
            "A failed for this request and must not be picked again"
        );
        drop(a);
    }

    #[tokio::test]
    async fn a_connect_failure_retries_on_the_other_healthy_backend() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addrs = [a.local_addr().unwrap(), b.local_addr().unwrap()].map(|x| x.to_string());
        let pool = pool(&addrs);
        pool.lb.update().await.unwrap();
        pool.lb.backends().run_health_check(false).await;
        let mut attempts = super::super::retry::Attempts::default();
        let first = pool.pick_for("bkt", "k", &[]).unwrap().peer._address;
        attempts.count += 1;
        assert!(super::super::retry::connect_failed(
            &pool,
            &mut attempts,
            &first
        ));
        for _ in 0..20 {
            let next = pool.pick_for("bkt", "k", &attempts.failed).unwrap();
            assert_ne!(next.peer._address, first, "the failed backend came back");
        }
    }
}
