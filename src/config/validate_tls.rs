//! Checks of the `tls` sections: the certificate and key files are read and parsed, and each
//! key must belong to its certificate, so `bucketgate check` (and start-up, and a reload)
//! refuses what would only fail at the first handshake.

use super::model::{Listener, Scheme, Upstream};
use super::path::Path;
use super::problem::Reporter;
use crate::tls::pem::{load_pair, Which};
use crate::tls::upstream::PeerTls;

/// `listeners[i].tls` of every listener that typed.
pub fn check_listeners(listeners: &[(usize, Listener)], r: &mut Reporter) {
    for (i, l) in listeners {
        let Some(tls) = &l.tls else { continue };
        let at = Path::root().key("listeners").index(*i).key("tls");
        if tls.certificates.is_empty() {
            r.at(
                &at.key("certificates"),
                "list at least one certificate, for example [{cert: /etc/bucketgate/cert.pem, key: /etc/bucketgate/key.pem}]",
            );
        }
        for (j, pair) in tls.certificates.iter().enumerate() {
            let at = at.key("certificates").index(j);
            if let Err(e) = load_pair(&pair.cert, &pair.key) {
                let field = match e.which {
                    Which::Cert => "cert",
                    Which::Key => "key",
                };
                r.at(&at.key(field), e.message);
            }
        }
    }
}

/// `upstreams.<name>.tls`.
pub fn check_upstream(name: &str, u: &Upstream, r: &mut Reporter) {
    let Some(tls) = &u.tls else { return };
    let at = Path::root()
        .key("upstreams")
        .key(name.to_string())
        .key("tls");
    if u.scheme != Scheme::Https {
        r.at(
            &at,
            format!("upstream `{name}` is plain HTTP: set `scheme: https` to use tls settings"),
        );
        return;
    }
    if let Err(e) = PeerTls::load(tls) {
        r.at(&at.key(e.field), e.message);
    }
}
