//! Background name resolution for a pool's endpoints.
//!
//! Pingora's static discovery resolves names synchronously and panics on failure; S3 endpoints
//! change addresses, so names are resolved here, on the load balancer's update interval, never on
//! the request path. Each backend carries the [`Endpoint`] it came from, so the request can use the
//! configured host name for `Host`, SNI and the signature.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use pingora_core::protocols::l4::socket::SocketAddr;
use pingora_error::{Error, ErrorType, Result};
use pingora_load_balancing::discovery::ServiceDiscovery;
use pingora_load_balancing::Backend;

use crate::config::model::Endpoint;

/// Resolves every endpoint of a pool; a name with several addresses gives several backends.
pub struct DnsDiscovery {
    pub pool: String,
    pub endpoints: Vec<Endpoint>,
}

#[async_trait]
impl ServiceDiscovery for DnsDiscovery {
    async fn discover(&self) -> Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        let mut backends = BTreeSet::new();
        for ep in &self.endpoints {
            match tokio::net::lookup_host((ep.host.as_str(), ep.port)).await {
                Ok(addrs) => {
                    for addr in addrs {
                        let mut backend = Backend {
                            addr: SocketAddr::Inet(addr),
                            weight: ep.weight.max(1) as usize,
                            ext: Default::default(),
                        };
                        backend.ext.insert(ep.clone());
                        backends.insert(backend);
                    }
                }
                Err(e) => log::warn!("upstream {}: cannot resolve {ep}: {e}", self.pool),
            }
        }
        if backends.is_empty() {
            // An error keeps the previous set, which beats dropping every backend on a DNS blip.
            return Err(Error::explain(
                ErrorType::ConnectNoRoute,
                format!("upstream {}: no endpoint resolved", self.pool),
            ));
        }
        Ok((backends, HashMap::new()))
    }
}
