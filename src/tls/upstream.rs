//! The upstream side of TLS: an `https` upstream's own CA bundle, client certificate (mutual
//! TLS) and verification switch, loaded once per pool and put on every peer. Pingora's rustls
//! connector (0.9.1) reads `PeerOptions::ca`, `HttpPeer::client_cert_key` and
//! `verify_cert`/`verify_hostname` per connection.

use std::sync::Arc;

use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::utils::tls::{CertKey, WrappedX509};

use super::config::UpstreamTls;
use super::pem::{load_pair, read_certs, Which};

/// What a pool puts on each of its peers.
pub struct PeerTls {
    ca: Option<Arc<[WrappedX509]>>,
    /// A digest of the CA bundle, as the peers' `group_key`: Pingora's connection pool keys on
    /// address, SNI and client certificate but not on the CA, so without it an upstream
    /// could be handed a connection that another upstream's CA verified.
    ca_group: u64,
    client: Option<Arc<CertKey>>,
    verify: bool,
}

/// A problem with one field of `upstreams.<name>.tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl PeerTls {
    /// Reads the files named by `cfg`. Every certificate was parsed once already, so Pingora's
    /// own parsing (which panics on bad input) never sees a bad one.
    pub fn load(cfg: &UpstreamTls) -> Result<PeerTls, FieldError> {
        let mut ca_group = 0;
        let ca = match &cfg.ca_file {
            None => None,
            Some(path) => {
                let certs = read_certs(path).map_err(|message| FieldError {
                    field: "ca_file",
                    message,
                })?;
                ca_group = bundle_digest(certs.iter().map(|c| c.as_ref()));
                let wrapped: Vec<WrappedX509> = certs
                    .into_iter()
                    .map(|c| WrappedX509::new(c.to_vec(), pingora_core::utils::tls::parse_x509))
                    .collect();
                Some(Arc::from(wrapped))
            }
        };
        let client = match (&cfg.client_cert, &cfg.client_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(FieldError {
                    field: "client_cert",
                    message: "needs client_key too".into(),
                })
            }
            (None, Some(_)) => {
                return Err(FieldError {
                    field: "client_key",
                    message: "needs client_cert too".into(),
                })
            }
            (Some(cert), Some(key)) => {
                let pair = load_pair(cert, key).map_err(|e| FieldError {
                    field: match e.which {
                        Which::Cert => "client_cert",
                        Which::Key => "client_key",
                    },
                    message: e.message,
                })?;
                let der = super::pem::read_key(key).map_err(|message| FieldError {
                    field: "client_key",
                    message,
                })?;
                // Pingora re-detects the key's encoding from its DER and panics if it cannot.
                if rustls::pki_types::PrivateKeyDer::try_from(der.secret_der()).is_err() {
                    return Err(FieldError {
                        field: "client_key",
                        message: format!("{key}: unsupported key encoding; convert it to PKCS#8"),
                    });
                }
                let certs = pair.key.cert.iter().map(|c| c.to_vec()).collect();
                Some(Arc::new(CertKey::new(certs, der.secret_der().to_vec())))
            }
        };
        Ok(PeerTls {
            ca,
            ca_group,
            client,
            verify: cfg.verify,
        })
    }

    /// Sets the CA, client certificate and verification of `peer`.
    pub fn apply(&self, peer: &mut HttpPeer) {
        if let Some(ca) = &self.ca {
            peer.options.ca = Some(ca.clone());
            peer.group_key = self.ca_group;
        }
        if let Some(client) = &self.client {
            peer.client_cert_key = Some(client.clone());
        }
        if !self.verify {
            peer.options.verify_cert = false;
            peer.options.verify_hostname = false;
        }
    }
}

/// A non-zero 64-bit digest of the certificates' DER bytes (SHA-256, truncated): equal bundles
/// give equal digests, in every process.
fn bundle_digest<'a>(certs: impl Iterator<Item = &'a [u8]>) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for der in certs {
        h.update((der.len() as u64).to_be_bytes());
        h.update(der);
    }
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first).max(1)
}

/// [`PeerTls::load`] for a pool being built: a file that became unreadable since the config
/// was checked is logged, and the pool falls back to the system's CAs and no client
/// certificate, which fails closed (the handshake is refused) rather than open.
pub fn for_pool(name: &str, cfg: Option<&UpstreamTls>) -> Option<PeerTls> {
    let cfg = cfg?;
    match PeerTls::load(cfg) {
        Ok(t) => Some(t),
        Err(e) => {
            log::error!("upstream {name}: tls.{}: {}", e.field, e.message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bundle_digest;

    #[test]
    fn bundles_have_their_own_digest() {
        let a: &[&[u8]] = &[b"ca one"];
        let b: &[&[u8]] = &[b"ca two"];
        let ab: &[&[u8]] = &[b"ca one", b"ca two"];
        let joined: &[&[u8]] = &[b"ca oneca two"];
        let digest = |v: &[&[u8]]| bundle_digest(v.iter().copied());
        assert_eq!(digest(a), digest(a));
        assert_ne!(digest(a), digest(b));
        assert_ne!(digest(ab), digest(joined), "certificate boundaries count");
        assert_ne!(digest(a), 0, "0 is the group of peers without a CA file");
    }
}
