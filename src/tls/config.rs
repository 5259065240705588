//! The `tls` settings of a listener and of an upstream, as written in `bucketgate.yaml`. Kept
//! apart from `config/model.rs` so the TLS shapes and their defaults live next to the code
//! that uses them.

use std::fmt;

use serde::{de, Deserialize, Deserializer};

/// `listeners[].tls`: HTTPS on this listener.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// Certificate chains with their keys. The first is served when the client sends no SNI or
    /// a name no certificate covers; the others are picked by their DNS names.
    pub certificates: Vec<CertificatePair>,
    /// The oldest TLS version accepted: `"1.2"` (default) or `"1.3"`.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// Offer HTTP/2 through ALPN (`h2`, then `http/1.1`). `false`: HTTP/1.1 only.
    #[serde(default = "yes")]
    pub http2: bool,
}

/// One certificate chain file and its private key file, both PEM.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatePair {
    /// The leaf certificate first, then its intermediates.
    pub cert: String,
    /// PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
    pub key: String,
}

/// A TLS protocol version. YAML reads an unquoted `1.2` as a number, so both forms are taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsVersion {
    #[default]
    V1_2,
    V1_3,
}

impl TlsVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = TlsVersion;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a TLS version, \"1.2\" or \"1.3\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TlsVersion, E> {
                match v.trim() {
                    "1.2" => Ok(TlsVersion::V1_2),
                    "1.3" => Ok(TlsVersion::V1_3),
                    other => Err(E::custom(format!(
                        "unsupported TLS version {other:?}: use \"1.2\" or \"1.3\""
                    ))),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TlsVersion, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TlsVersion, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TlsVersion, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// `upstreams.<name>.tls`, for `scheme: https` upstreams.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTls {
    /// PEM bundle of the CAs that may sign the upstream's certificate. Omitted: the system's
    /// trust store (and `SSL_CERT_FILE` / `SSL_CERT_DIR`).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// PEM certificate chain presented to the upstream (mutual TLS); needs `client_key`.
    #[serde(default)]
    pub client_cert: Option<String>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<String>,
    /// Check the upstream's certificate and name. `false` accepts any certificate: for tests
    /// only.
    #[serde(default = "yes")]
    pub verify: bool,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_strings_or_numbers() {
        for (yaml, want) in [
            ("\"1.2\"", TlsVersion::V1_2),
            ("1.2", TlsVersion::V1_2),
            ("'1.3'", TlsVersion::V1_3),
            ("1.3", TlsVersion::V1_3),
        ] {
            assert_eq!(serde_yaml::from_str::<TlsVersion>(yaml).unwrap(), want);
        }
        for bad in ["1.1", "\"1.0\"", "2", "tls13", "[1]"] {
            assert!(serde_yaml::from_str::<TlsVersion>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listener_defaults() {
        let t: ListenerTls =
            serde_yaml::from_str("certificates: [{cert: a.pem, key: a.key}]").unwrap();
        assert_eq!(t.min_version, TlsVersion::V1_2);
        assert!(t.http2);
        let u: UpstreamTls = serde_yaml::from_str("ca_file: ca.pem").unwrap();
        assert!(u.verify);
        assert!(u.client_cert.is_none());
    }
}
