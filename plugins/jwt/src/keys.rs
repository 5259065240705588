//! Verification keys: turning a PEM file, a secret or one JWK into a [`VerifyKey`] pinned to one
//! algorithm. The parsing is strict (the RustCrypto crates, not a loose ASN.1 walk), so a key
//! that loads is a key that verifies.
//!
//! HS-with-a-public-key confusion is impossible by construction: an HMAC key is made only from a
//! `secret` ([`secret_key`]); a PEM or JWK for an HMAC algorithm is refused, and every key
//! verifies only the one algorithm it is pinned to.

use std::io::Read;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bucketgate_plugin::ConfigProblem;
use jsonwebtoken::DecodingKey;
use serde_json::Value;

use crate::config::{Algorithm, KeyConfig};
use crate::hmac_key::HmacKey;
use crate::jwks;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest key file read (PEM or JWKS).
pub const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// One key, pinned to one algorithm.
#[derive(Clone)]
pub struct VerifyKey {
    /// The key's id: from config for a PEM or secret, from the JWK for a JWKS.
    pub kid: Option<String>,
    /// The only algorithm this key verifies.
    pub alg: Algorithm,
    pub key: KeyMaterial,
}

/// What verifies: an HMAC key keyed once, or a public key for jsonwebtoken.
#[derive(Clone)]
pub enum KeyMaterial {
    Hmac(Box<HmacKey>),
    Public(DecodingKey),
}

/// Whether two key lists are the same keys in the same order (ids, algorithms and key
/// material). Only public keys are compared by value: HMAC keys come from `secret` alone and
/// never change at run time, so two HMAC keys never count as the same here.
pub fn same_keys(a: &[VerifyKey], b: &[VerifyKey]) -> bool {
    use jsonwebtoken::DecodingKeyKind as K;
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.kid == y.kid
                && x.alg == y.alg
                && match (&x.key, &y.key) {
                    (KeyMaterial::Public(x), KeyMaterial::Public(y)) => {
                        x.family() == y.family()
                            && match (x.kind(), y.kind()) {
                                (K::SecretOrDer(x), K::SecretOrDer(y)) => x == y,
                                (
                                    K::RsaModulusExponent { n: xn, e: xe },
                                    K::RsaModulusExponent { n: yn, e: ye },
                                ) => xn == yn && xe == ye,
                                _ => false,
                            }
                    }
                    _ => false,
                }
        })
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The keys of `keys[index]` that need no network: a secret, a PEM file, a JWKS file. A
/// `jwks_url` entry yields none here. Assumes the entry passed the static checks.
pub fn load_static(index: usize, entry: &KeyConfig) -> Result<Vec<VerifyKey>, ConfigProblem> {
    let path = |field: &str| format!("keys[{index}].{field}");
    if let (Some(secret), Some(alg)) = (&entry.secret, entry.algorithm) {
        let key = secret_key(secret.0.as_bytes(), alg)
            .map_err(|why| ConfigProblem::new(path("secret"), why))?;
        return Ok(vec![VerifyKey {
            kid: entry.kid.clone(),
            alg,
            key: KeyMaterial::Hmac(Box::new(key)),
        }]);
    }
    if let (Some(file), Some(alg)) = (&entry.pem_file, entry.algorithm) {
        let text = read_key_file(file).map_err(|why| ConfigProblem::new(path("pem_file"), why))?;
        let key = public_pem_key(&text, alg)
            .map_err(|why| ConfigProblem::new(path("pem_file"), format!("{file}: {why}")))?;
        return Ok(vec![VerifyKey {
            kid: entry.kid.clone(),
            alg,
            key: KeyMaterial::Public(key),
        }]);
    }
    if let Some(file) = &entry.jwks_file {
        let text = read_key_file(file).map_err(|why| ConfigProblem::new(path("jwks_file"), why))?;
        let doc = jwks::parse(&text, entry.algorithm)
            .map_err(|why| ConfigProblem::new(path("jwks_file"), format!("{file}: {why}")))?;
        if let Some(why) = doc.rejected.first() {
            return Err(ConfigProblem::new(
                path("jwks_file"),
                format!("{file}: {why}"),
            ));
        }
        if doc.keys.is_empty() {
            return Err(ConfigProblem::new(
                path("jwks_file"),
                format!("{file}: no usable signature key"),
            ));
        }
        return Ok(doc.keys);
    }
    Ok(Vec::new())
}

/// A file's text, refusing anything larger than a key file can be.
fn read_key_file(file: &str) -> Result<String, String> {
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_KEY_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {file}: {e}"))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(format!("{file} is larger than {MAX_KEY_FILE_BYTES} bytes"));
    }
    Ok(text)
}

/// An HMAC key from a configured secret; the only way an HMAC key is made.
pub fn secret_key(secret: &[u8], alg: Algorithm) -> Result<HmacKey, String> {
    if !alg.is_hmac() {
        return Err(format!("{alg} is not an HMAC algorithm"));
    }
    if secret.len() < alg.min_secret_len() {
        return Err(format!(
            "too short for {alg}: {} bytes, at least {} required",
            secret.len(),
            alg.min_secret_len()
        ));
    }
    HmacKey::new(secret, alg).ok_or_else(|| format!("{alg} is not an HMAC algorithm"))
}

/// A public key in PEM for `alg`: SPKI (`PUBLIC KEY`) for every family, or PKCS#1
/// (`RSA PUBLIC KEY`) for RSA.
pub fn public_pem_key(pem: &str, alg: Algorithm) -> Result<DecodingKey, String> {
    use ed25519_dalek::pkcs8::DecodePublicKey as _;
    use rsa::pkcs1::DecodeRsaPublicKey as _;

    if pem.contains("PRIVATE KEY-----") {
        return Err(
            "holds a private key; give the public key instead (openssl pkey -pubout)".into(),
        );
    }
    if pem.contains("BEGIN CERTIFICATE") {
        return Err(
            "holds a certificate; give its public key instead (openssl x509 -pubkey -noout)".into(),
        );
    }
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Err(format!(
            "{alg} keys come only from `secret`, never from a public key"
        )),
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            let key = if pem.contains("BEGIN RSA PUBLIC KEY") {
                rsa::RsaPublicKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())
            } else {
                rsa::RsaPublicKey::from_public_key_pem(pem).map_err(|e| e.to_string())
            }
            .map_err(|e| format!("not an RSA public key in PEM (for {alg}): {e}"))?;
            rsa_key(&key)
        }
        Algorithm::ES256 => {
            let key = p256::PublicKey::from_public_key_pem(pem)
                .map_err(|e| format!("not an EC P-256 public key in PEM (for ES256): {e}"))?;
            Ok(p256_key(&key))
        }
        Algorithm::ES384 => {
            let key = p384::PublicKey::from_public_key_pem(pem)
                .map_err(|e| format!("not an EC P-384 public key in PEM (for ES384): {e}"))?;
            Ok(p384_key(&key))
        }
        Algorithm::EdDSA => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                .map_err(|e| format!("not an Ed25519 public key in PEM (for EdDSA): {e}"))?;
            Ok(DecodingKey::from_ed_der(key.as_bytes()))
        }
    }
}

fn rsa_key(key: &rsa::RsaPublicKey) -> Result<DecodingKey, String> {
    use rsa::traits::PublicKeyParts as _;
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA key of {bits} bits; at least {MIN_RSA_BITS} required"
        ));
    }
    Ok(DecodingKey::from_rsa_raw_components(
        &key.n().to_bytes_be(),
        &key.e().to_bytes_be(),
    ))
}

fn p256_key(key: &p256::PublicKey) -> DecodingKey {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    DecodingKey::from_ec_der(key.to_encoded_point(false).as_bytes())
}

fn p384_key(key: &p384::PublicKey) -> DecodingKey {
    use p384::elliptic_curve::sec1::ToEncodedPoint as _;
    DecodingKey::from_ec_der(key.to_encoded_point(false).as_bytes())
}

/// What became of one JWK.
#[derive(Debug)]
pub enum JwkOutcome {
    Key(Box<VerifyKey>),
    /// Not for us, quietly: an encryption key, or another algorithm than the entry's pin.
    Skipped(String),
    /// Unusable: the reason.
    Rejected(String),
}

/// One JWK (a JSON object) as a key. `pin` is the `algorithm` of the config entry: the
/// algorithm of a JWK without `alg`, and the only algorithm accepted.
pub fn jwk_key(jwk: &Value, pin: Option<Algorithm>) -> JwkOutcome {
    match jwk_key_inner(jwk, pin) {
        Ok(key) => JwkOutcome::Key(Box::new(key)),
        Err(Skip::Quietly(why)) => JwkOutcome::Skipped(why),
        Err(Skip::Bad(why)) => JwkOutcome::Rejected(why),
    }
}

enum Skip {
    Quietly(String),
    Bad(String),
}

fn bad(why: impl Into<String>) -> Skip {
    Skip::Bad(why.into())
}

fn jwk_key_inner(jwk: &Value, pin: Option<Algorithm>) -> Result<VerifyKey, Skip> {
    let obj = jwk.as_object().ok_or_else(|| bad("not a JSON object"))?;
    let text = |name: &str| -> Result<Option<&str>, Skip> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(bad(format!("`{name}` is not a string"))),
        }
    };
    let required = |name: &str| -> Result<&str, Skip> {
        text(name)?.ok_or_else(|| bad(format!("`{name}` is missing")))
    };
    if let Some(usage) = text("use")? {
        if usage != "sig" {
            return Err(Skip::Quietly(format!("`use` is {usage:?}, not \"sig\"")));
        }
    }
    let kid = text("kid")?.map(str::to_owned);
    let kty = required("kty")?;
    let alg = match (text("alg")?, pin) {
        (Some(name), pin) => {
            let alg = Algorithm::from_name(name)
                .ok_or_else(|| bad(format!("unsupported alg {:?}", truncate(name))))?;
            if pin.is_some_and(|p| p != alg) {
                return Err(Skip::Quietly(format!(
                    "alg {alg} is not the entry's algorithm"
                )));
            }
            alg
        }
        (None, Some(pin)) => pin,
        (None, None) => {
            return Err(bad(
                "no `alg` (set `algorithm` on the keys entry to give it one)",
            ))
        }
    };
    if alg.is_hmac() || kty == "oct" {
        return Err(bad(
            "symmetric (HS*/oct) keys are accepted only from `secret`, never from a JWKS",
        ));
    }
    let b64 = |name: &str| -> Result<Vec<u8>, Skip> {
        URL_SAFE_NO_PAD
            .decode(required(name)?.trim_end_matches('='))
            .map_err(|_| bad(format!("`{name}` is not base64url")))
    };
    let key = match (kty, alg) {
        (
            "RSA",
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => {
            let n = rsa::BigUint::from_bytes_be(&b64("n")?);
            let e = rsa::BigUint::from_bytes_be(&b64("e")?);
            let key = rsa::RsaPublicKey::new(n, e)
                .map_err(|e| bad(format!("not a usable RSA key: {e}")))?;
            rsa_key(&key).map_err(bad)?
        }
        ("EC", Algorithm::ES256 | Algorithm::ES384) => {
            let crv = required("crv")?;
            let mut point = vec![4u8];
            point.extend(b64("x")?);
            point.extend(b64("y")?);
            match (crv, alg) {
                ("P-256", Algorithm::ES256) => p256_key(
                    &p256::PublicKey::from_sec1_bytes(&point)
                        .map_err(|_| bad("not a point on P-256"))?,
                ),
                ("P-384", Algorithm::ES384) => p384_key(
                    &p384::PublicKey::from_sec1_bytes(&point)
                        .map_err(|_| bad("not a point on P-384"))?,
                ),
                _ => {
                    return Err(bad(format!(
                        "curve {:?} does not fit alg {alg}",
                        truncate(crv)
                    )))
                }
            }
        }
        ("OKP", Algorithm::EdDSA) => {
            let crv = required("crv")?;
            if crv != "Ed25519" {
                return Err(bad(format!(
                    "curve {:?} is not supported (only Ed25519)",
                    truncate(crv)
                )));
            }
            let x: [u8; 32] = b64("x")?
                .try_into()
                .map_err(|_| bad("`x` is not 32 bytes"))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| bad("not an Ed25519 public key"))?;
            DecodingKey::from_ed_der(key.as_bytes())
        }
        _ => {
            return Err(bad(format!(
                "kty {:?} does not fit alg {alg}",
                truncate(kty)
            )))
        }
    };
    Ok(VerifyKey {
        kid,
        alg,
        key: KeyMaterial::Public(key),
    })
}

/// A bounded, printable prefix of an untrusted string, for messages and logs.
pub fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}
