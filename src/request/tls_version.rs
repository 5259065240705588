//! The second half of `min_version: "1.3"`. The resolver ([`crate::tls::resolver`]) refuses a
//! handshake whose `ClientHello` offers no TLS 1.3 cipher suite, which stops every real TLS 1.2
//! client; but a hand-made `ClientHello` can list a TLS 1.3 suite without the
//! `supported_versions` extension and still land on TLS 1.2 (Pingora's rustls acceptor always
//! allows 1.2, and the resolver cannot see the versions offered). Such a connection is caught
//! here, on its first request, from the version rustls actually negotiated.

use std::net::SocketAddr;
use std::sync::Arc;

use pingora_proxy::Session;

use crate::tls::config::TlsVersion;
use crate::tls::SniResolver;

/// True when `session` came over a TLS listener that requires 1.3 but negotiated less.
pub fn below_min_version(session: &Session, resolvers: &[Arc<SniResolver>]) -> bool {
    if resolvers.is_empty() {
        return false;
    }
    let Some(digest) = session.digest() else {
        return false;
    };
    let Some(tls) = digest.ssl_digest.as_ref() else {
        return false;
    };
    let Some(local) = digest
        .socket_digest
        .as_ref()
        .and_then(|s| s.local_addr())
        .and_then(|a| a.as_inet().copied())
    else {
        return false;
    };
    let Some(resolver) = resolvers.iter().find(|r| serves(r.address, local)) else {
        return false;
    };
    resolver.current().min_version() == TlsVersion::V1_3 && !is_tls13(&tls.version)
}

/// Whether a listener bound to `listen` accepted a connection on `local`.
fn serves(listen: SocketAddr, local: SocketAddr) -> bool {
    listen.port() == local.port()
        && (listen.ip().is_unspecified() || listen.ip().to_canonical() == local.ip().to_canonical())
}

/// rustls names versions `TLSv1_3`; accept the dotted form too.
fn is_tls13(version: &str) -> bool {
    matches!(version, "TLSv1_3" | "TLSv1.3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_matching_and_version_names() {
        let any: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        let one: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        assert!(serves(any, local));
        assert!(serves(one, local));
        assert!(!serves(one, "127.0.0.2:8443".parse().unwrap()));
        assert!(!serves(any, "127.0.0.1:9443".parse().unwrap()));
        assert!(is_tls13("TLSv1_3"));
        assert!(!is_tls13("TLSv1_2"));
        assert!(!is_tls13(""));
    }
}
