//! Turns the `listeners` of the config into Pingora endpoints: plain TCP, or TLS with an
//! [`SniResolver`] and ALPN. The resolvers stay reachable (through [`crate::gateway::live::Live`]) so a
//! reload can re-read their certificate files.

use std::sync::Arc;

use pingora_core::listeners::tls::TlsSettings;
use pingora_core::listeners::ALPN;
use pingora_core::services::listening::Service;

use crate::config::model::Listener;
use crate::tls::resolver::{CertSet, SniResolver};

/// The listeners of one config, certificates loaded.
pub struct Endpoints {
    list: Vec<(String, Option<Arc<SniResolver>>)>,
}

impl Endpoints {
    /// Loads the certificates of every TLS listener; the error names the listener and file.
    pub fn build(listeners: &[Listener]) -> Result<Endpoints, String> {
        let mut list = Vec::with_capacity(listeners.len());
        for l in listeners {
            let addr = l.address.0;
            let resolver = match &l.tls {
                None => None,
                Some(tls) => {
                    let r = SniResolver::new(addr, tls)
                        .map_err(|e| format!("listener {addr}: TLS {e}"))?;
                    log::info!(
                        "listener {addr}: TLS (min {}, {}), certificates: {}",
                        tls.min_version.as_str(),
                        if tls.http2 {
                            "h2 + http/1.1"
                        } else {
                            "http/1.1"
                        },
                        r.current().describe()
                    );
                    Some(Arc::new(r))
                }
            };
            list.push((addr.to_string(), resolver));
        }
        Ok(Endpoints { list })
    }

    /// The resolvers of the TLS listeners, for [`reload`].
    pub fn resolvers(&self) -> Vec<Arc<SniResolver>> {
        self.list.iter().filter_map(|(_, r)| r.clone()).collect()
    }

    /// Adds every listener to `service`.
    pub fn add_to<A>(&self, service: &mut Service<A>) {
        for (addr, resolver) in &self.list {
            match resolver {
                None => service.add_tcp(addr),
                Some(r) => service.add_tls_with_settings(addr, None, settings(r.clone())),
            }
        }
    }
}

fn settings(resolver: Arc<SniResolver>) -> TlsSettings {
    // Empty paths: with a resolver set, Pingora never reads them.
    let mut s = TlsSettings::intermediate("", "").expect("TlsSettings::intermediate never fails");
    if resolver.http2 {
        s.enable_h2();
    } else {
        s.set_alpn(ALPN::H1);
    }
    s.set_cert_resolver(resolver);
    s
}

/// Re-reads the certificate files of every TLS listener from `listeners` (the new config),
/// all or nothing: on any problem no listener changes and the error says why. What only an
/// upgrade can change (TLS added or removed, `http2`) is logged as such.
pub fn reload(resolvers: &[Arc<SniResolver>], listeners: &[Listener]) -> Result<(), String> {
    let mut staged: Vec<(&Arc<SniResolver>, CertSet)> = Vec::new();
    for r in resolvers {
        let Some(l) = listeners.iter().find(|l| l.address.0 == r.address) else {
            continue; // A removed listener is reported with the other address changes.
        };
        let Some(tls) = &l.tls else {
            log::warn!(
                "reload: listener {} lost its tls section; it keeps serving TLS until an upgrade (SIGQUIT + run -u) or a restart",
                r.address
            );
            continue;
        };
        if tls.http2 != r.http2 {
            log::warn!(
                "reload: listener {} tls.http2 changed; it takes effect only after an upgrade (SIGQUIT + run -u) or a restart",
                r.address
            );
        }
        let set = CertSet::load(tls)
            .map_err(|e| format!("listener {}: TLS {e}; old certificates kept", r.address))?;
        staged.push((r, set));
    }
    for l in listeners {
        if l.tls.is_some() && !resolvers.iter().any(|r| r.address == l.address.0) {
            log::warn!(
                "reload: listener {} gained a tls section; it takes effect only after an upgrade (SIGQUIT + run -u) or a restart",
                l.address.0
            );
        }
    }
    for (r, set) in staged {
        log::info!(
            "reload: listener {}: TLS certificates re-read: {}",
            r.address,
            set.describe()
        );
        r.replace(set);
    }
    Ok(())
}
