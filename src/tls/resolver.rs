//! Picks the certificate for each TLS handshake on a listener, by the client's SNI, and
//! enforces `min_version: "1.3"`. The certificates sit behind an `ArcSwap`, so a reload swaps
//! in re-read files without touching the listening socket or handshakes in progress.
//!
//! Pingora's rustls acceptor always allows TLS 1.2 and 1.3. A TLS 1.3 handshake needs a TLS 1.3
//! cipher suite, so a `ClientHello` without one can only end in TLS 1.2: with
//! `min_version: "1.3"` the resolver returns no certificate for it and rustls aborts the
//! handshake.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::CipherSuite;

use super::config::{ListenerTls, TlsVersion};
use super::pem::{load_pair, LoadedPair, Which};

/// The certificates of one listener, in config order (the first is the default).
#[derive(Debug)]
pub struct CertSet {
    entries: Vec<LoadedPair>,
    min_version: TlsVersion,
}

impl CertSet {
    /// Reads every pair of `cfg`; the first problem is the error, naming the file.
    pub fn load(cfg: &ListenerTls) -> Result<CertSet, String> {
        if cfg.certificates.is_empty() {
            return Err("no certificates".into());
        }
        let mut entries = Vec::with_capacity(cfg.certificates.len());
        for pair in &cfg.certificates {
            let loaded = load_pair(&pair.cert, &pair.key).map_err(|e| {
                let which = match e.which {
                    Which::Cert => "certificate",
                    Which::Key => "key",
                };
                format!("{which}: {e}")
            })?;
            entries.push(loaded);
        }
        Ok(CertSet {
            entries,
            min_version: cfg.min_version,
        })
    }

    /// The certificate for `sni`: an exact DNS name first, then a wildcard covering it, then
    /// the first certificate.
    /// The oldest TLS version this listener accepts.
    pub fn min_version(&self) -> TlsVersion {
        self.min_version
    }

    pub fn pick(&self, sni: Option<&str>) -> &Arc<CertifiedKey> {
        if let Some(name) = sni.map(|s| s.trim_end_matches('.').to_ascii_lowercase()) {
            if let Some(e) = self.entries.iter().find(|e| e.names.contains(&name)) {
                return &e.key;
            }
            if let Some(e) = self
                .entries
                .iter()
                .find(|e| e.names.iter().any(|n| wildcard_covers(n, &name)))
            {
                return &e.key;
            }
        }
        &self.entries[0].key
    }

    /// The DNS names of each certificate, for logs.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                if e.names.is_empty() {
                    "(no DNS names)".to_string()
                } else {
                    e.names.join(" ")
                }
            })
            .collect();
        names.join(", ")
    }
}

/// `*.example.com` covers `a.example.com`, not `example.com` nor `a.b.example.com`.
fn wildcard_covers(pattern: &str, name: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    match name.split_once('.') {
        Some((first, rest)) => !first.is_empty() && rest == suffix,
        None => false,
    }
}

fn is_tls13_suite(s: &CipherSuite) -> bool {
    matches!(
        s,
        CipherSuite::TLS13_AES_128_GCM_SHA256
            | CipherSuite::TLS13_AES_256_GCM_SHA384
            | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS13_AES_128_CCM_SHA256
            | CipherSuite::TLS13_AES_128_CCM_8_SHA256
    )
}

/// The certificate resolver of one TLS listener.
#[derive(Debug)]
pub struct SniResolver {
    /// The listener it serves, to match it with the listener of a reloaded config.
    pub address: SocketAddr,
    /// Whether ALPN offers h2; fixed once the listener is built.
    pub http2: bool,
    current: ArcSwap<CertSet>,
}

impl SniResolver {
    pub fn new(address: SocketAddr, cfg: &ListenerTls) -> Result<SniResolver, String> {
        Ok(SniResolver {
            address,
            http2: cfg.http2,
            current: ArcSwap::from_pointee(CertSet::load(cfg)?),
        })
    }

    /// The certificates in use now.
    pub fn current(&self) -> Arc<CertSet> {
        self.current.load_full()
    }

    /// Serves `set` from the next handshake on.
    pub fn replace(&self, set: CertSet) {
        self.current.store(Arc::new(set));
    }

    /// Re-reads the files of `cfg`; on any problem the certificates in use stay.
    pub fn reload(&self, cfg: &ListenerTls) -> Result<(), String> {
        self.replace(CertSet::load(cfg)?);
        Ok(())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let set = self.current.load();
        if set.min_version == TlsVersion::V1_3 && !hello.cipher_suites().iter().any(is_tls13_suite)
        {
            log::debug!(
                "TLS handshake on {} refused: the client offers no TLS 1.3 (min_version 1.3)",
                self.address
            );
            return None;
        }
        Some(set.pick(hello.server_name()).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard_covers;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(wildcard_covers("*.example.com", "a.example.com"));
        assert!(!wildcard_covers("*.example.com", "example.com"));
        assert!(!wildcard_covers("*.example.com", "a.b.example.com"));
        assert!(!wildcard_covers("*.example.com", ".example.com"));
        assert!(!wildcard_covers("a.example.com", "a.example.com"));
        assert!(!wildcard_covers("*.example.com", "a.example.org"));
    }
}
