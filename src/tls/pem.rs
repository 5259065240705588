//! Reads PEM certificate chains and private keys and checks that they belong together, for
//! `bucketgate check`, start-up and reload alike, so a file that would fail a handshake is
//! refused with a message naming the file and what is wrong with it (never its contents).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Which of the two files of a pair a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Cert,
    Key,
}

/// A problem with one file of a certificate pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairError {
    pub which: Which,
    pub message: String,
}

impl std::fmt::Display for PairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A certificate chain and key that match, with the DNS names of the leaf.
#[derive(Debug)]
pub struct LoadedPair {
    pub key: Arc<CertifiedKey>,
    /// The leaf's DNS subject alternative names, lower-case (wildcards as `*.example.com`).
    pub names: Vec<String>,
}

/// Every certificate in the PEM file at `path`, in order; at least one.
pub fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path}: not a valid PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{path}: no certificate in it (expected -----BEGIN CERTIFICATE-----)"
        ));
    }
    for (i, c) in certs.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(c.as_ref()) {
            return Err(format!(
                "{path}: certificate {} is not valid X.509: {e}",
                i + 1
            ));
        }
    }
    Ok(certs)
}

/// The first private key in the PEM file at `path`. Error messages never quote the file.
pub fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{path}: no private key in it (expected -----BEGIN PRIVATE KEY-----, \
             -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)"
        ),
        _ => format!("{path}: not a valid PEM private key file"),
    })
}

/// Reads `cert` and `key` and checks that the key is usable and signs for the leaf.
pub fn load_pair(cert: &str, key: &str) -> Result<LoadedPair, PairError> {
    let cert_err = |message| PairError {
        which: Which::Cert,
        message,
    };
    let key_err = |message| PairError {
        which: Which::Key,
        message,
    };
    let chain = read_certs(cert).map_err(cert_err)?;
    let der = read_key(key).map_err(key_err)?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| key_err(format!("{key}: unsupported private key: {e}")))?;
    let names = dns_names(&chain[0]);
    let certified = CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(key_err(format!(
                "{key} is not the private key of the certificate in {cert}"
            )))
        }
        Err(e) => return Err(cert_err(format!("{cert}: {e}"))),
    }
    Ok(LoadedPair {
        key: Arc::new(certified),
        names,
    })
}

/// The DNS names of a certificate's subject alternative names, lower-case.
pub fn dns_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}
