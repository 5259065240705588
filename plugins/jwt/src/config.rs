//! The JWT plugin's config section (what users write under `auth: [ {jwt: {...}} ]`), and its
//! static checks. Loading and parsing the key files is `keys.rs`'s job; `validate` calls it so
//! that a broken key file is reported before the gateway starts.

use std::fmt;

use bucketgate_plugin::{ConfigProblem, GrantTemplate};
use serde::Deserialize;

use crate::keys;

/// Default for `leeway_seconds`.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;
/// Largest accepted `leeway_seconds`: clock skew, not a way to accept expired tokens.
pub const MAX_LEEWAY_SECONDS: u64 = 3600;
/// Default for a `jwks_url` entry's `refresh_seconds`.
pub const DEFAULT_REFRESH_SECONDS: u64 = 300;
/// Smallest accepted `refresh_seconds`.
pub const MIN_REFRESH_SECONDS: u64 = 10;
/// Largest accepted `refresh_seconds` (a day).
pub const MAX_REFRESH_SECONDS: u64 = 86_400;
/// Default for `cache_seconds`.
pub const DEFAULT_CACHE_SECONDS: u64 = 60;
/// Largest accepted `cache_seconds`.
pub const MAX_CACHE_SECONDS: u64 = 3600;

/// The `jwt:` section of a route's `auth` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Where verification keys come from; at least one entry.
    pub keys: Vec<KeyConfig>,
    /// When set, the `iss` claim must equal it.
    #[serde(default)]
    pub issuer: Option<String>,
    /// When set, the `aud` claim (a string or an array of strings) must contain it.
    #[serde(default)]
    pub audience: Option<String>,
    /// Clock skew allowed for `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Where to look for the token, in order.
    #[serde(default = "default_token_from")]
    pub token_from: Vec<TokenSource>,
    /// The claim that names the caller; must be a non-empty string in every token.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Grants given to every valid token; `{claim}` placeholders are filled from its claims.
    #[serde(default)]
    pub grants: Vec<GrantTemplate>,
    /// A claim holding a JSON array of `{bucket, prefix, operations}` grants.
    #[serde(default)]
    pub grants_claim: Option<String>,
    /// How long a verified token is remembered (never past its `exp`); 0 verifies every time.
    #[serde(default = "default_cache_seconds")]
    pub cache_seconds: u64,
}

/// One entry of `keys`: exactly one of `pem_file`, `secret`, `jwks_file`, `jwks_url`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// A token whose header names another `kid` is not tried with this key.
    #[serde(default)]
    pub kid: Option<String>,
    /// The one algorithm this key verifies. Required for `pem_file` and `secret`; for a JWKS
    /// entry, the algorithm of JWKs without `alg`, and JWKs naming another `alg` are skipped.
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// A public key in PEM (SPKI `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`).
    #[serde(default)]
    pub pem_file: Option<String>,
    /// An HMAC secret, used as its UTF-8 bytes. The only source of HS256/384/512 keys.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// A JWKS document on disk.
    #[serde(default)]
    pub jwks_file: Option<String>,
    /// A JWKS document over http(s), fetched in the background.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// How often `jwks_url` is fetched again. Only for `jwks_url`.
    #[serde(default)]
    pub refresh_seconds: Option<u64>,
}

impl KeyConfig {
    /// The refresh interval of a `jwks_url` entry.
    pub fn refresh_seconds(&self) -> u64 {
        self.refresh_seconds.unwrap_or(DEFAULT_REFRESH_SECONDS)
    }
}

/// An HMAC secret. Its `Debug` never shows the value.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// A place a token may be found. In YAML: `header`, `{query: NAME}` or `{cookie: NAME}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Header,
    /// A query parameter of this name.
    Query(String),
    /// A cookie of this name.
    Cookie(String),
}

const TOKEN_SOURCE_EXPECTED: &str = "`header`, `{query: NAME}` or `{cookie: NAME}`";

// By hand: serde_yaml wants `!query NAME` for an enum, users write `{query: NAME}`.
impl<'de> Deserialize<'de> for TokenSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TokenSource;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(TOKEN_SOURCE_EXPECTED)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TokenSource, E> {
                match v {
                    "header" => Ok(TokenSource::Header),
                    other => Err(E::custom(format!(
                        "unknown token source {other:?}, expected {TOKEN_SOURCE_EXPECTED}"
                    ))),
                }
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<TokenSource, M::Error> {
                use serde::de::Error as _;
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(M::Error::custom(format!(
                        "empty map, expected {TOKEN_SOURCE_EXPECTED}"
                    )));
                };
                let source = match kind.as_str() {
                    "query" => TokenSource::Query(map.next_value()?),
                    "cookie" => TokenSource::Cookie(map.next_value()?),
                    other => {
                        return Err(M::Error::custom(format!(
                            "unknown token source {other:?}, expected {TOKEN_SOURCE_EXPECTED}"
                        )))
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(M::Error::custom(format!(
                        "one place per entry, expected {TOKEN_SOURCE_EXPECTED}"
                    )));
                }
                Ok(source)
            }
        }

        d.deserialize_any(Visitor)
    }
}

/// A signature algorithm a key may be pinned to. `none` does not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Algorithm {
    /// The algorithm of a JOSE `alg` name; None for `none` and anything unsupported.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Whether this is an HMAC algorithm (keys only from `secret`).
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    /// The shortest secret accepted for an HMAC algorithm: its hash's output size.
    pub fn min_secret_len(self) -> usize {
        match self {
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => 32,
        }
    }

    /// jsonwebtoken's name for it.
    pub fn to_jwt(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as J;
        match self {
            Algorithm::HS256 => J::HS256,
            Algorithm::HS384 => J::HS384,
            Algorithm::HS512 => J::HS512,
            Algorithm::RS256 => J::RS256,
            Algorithm::RS384 => J::RS384,
            Algorithm::RS512 => J::RS512,
            Algorithm::PS256 => J::PS256,
            Algorithm::PS384 => J::PS384,
            Algorithm::PS512 => J::PS512,
            Algorithm::ES256 => J::ES256,
            Algorithm::ES384 => J::ES384,
            Algorithm::EdDSA => J::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_SECONDS
}

fn default_cache_seconds() -> u64 {
    DEFAULT_CACHE_SECONDS
}

fn default_token_from() -> Vec<TokenSource> {
    vec![TokenSource::Header]
}

fn default_subject_claim() -> String {
    "sub".into()
}

impl JwtConfig {
    /// Every problem of this section: static checks, then loading and parsing every key file.
    /// Paths are relative to the section (`keys[1].pem_file`). Messages never hold a secret.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.keys.is_empty() {
            problems.push(ConfigProblem::new(
                "keys",
                "at least one key entry is required (pem_file, secret, jwks_file or jwks_url)",
            ));
        }
        for (i, key) in self.keys.iter().enumerate() {
            let before = problems.len();
            check_key_entry(&format!("keys[{i}]"), key, &mut problems);
            // Load the files only when the entry itself is sound.
            if problems.len() == before {
                if let Err(p) = keys::load_static(i, key) {
                    problems.push(p);
                }
            }
        }
        check_non_empty("issuer", self.issuer.as_deref(), &mut problems);
        check_non_empty("audience", self.audience.as_deref(), &mut problems);
        if self.leeway_seconds > MAX_LEEWAY_SECONDS {
            problems.push(ConfigProblem::new(
                "leeway_seconds",
                format!("at most {MAX_LEEWAY_SECONDS} seconds"),
            ));
        }
        if self.cache_seconds > MAX_CACHE_SECONDS {
            problems.push(ConfigProblem::new(
                "cache_seconds",
                format!("at most {MAX_CACHE_SECONDS} seconds (0 disables the cache)"),
            ));
        }
        if self.token_from.is_empty() {
            problems.push(ConfigProblem::new(
                "token_from",
                "name at least one place: header, {query: NAME} or {cookie: NAME}",
            ));
        }
        for (i, source) in self.token_from.iter().enumerate() {
            match source {
                TokenSource::Header => {}
                TokenSource::Query(name) | TokenSource::Cookie(name) => {
                    if name.is_empty() || name.contains(['=', ';', '&']) || name.contains(' ') {
                        problems.push(ConfigProblem::new(
                            format!("token_from[{i}]"),
                            "the name must be non-empty, without spaces, '=', ';' or '&'",
                        ));
                    }
                }
            }
        }
        if self.subject_claim.is_empty() {
            problems.push(ConfigProblem::new("subject_claim", "must not be empty"));
        }
        check_non_empty("grants_claim", self.grants_claim.as_deref(), &mut problems);
        for (i, grant) in self.grants.iter().enumerate() {
            for (field, template) in [("bucket", &grant.bucket), ("prefix", &grant.prefix)] {
                if let Err(why) = check_placeholders(template) {
                    problems.push(ConfigProblem::new(format!("grants[{i}].{field}"), why));
                }
            }
            if grant.bucket.is_empty() {
                problems.push(ConfigProblem::new(
                    format!("grants[{i}].bucket"),
                    "must not be empty (`*` is any bucket)",
                ));
            }
        }
        problems
    }
}

fn check_non_empty(path: &str, value: Option<&str>, problems: &mut Vec<ConfigProblem>) {
    if value == Some("") {
        problems.push(ConfigProblem::new(
            path,
            "must not be empty (leave it out instead)",
        ));
    }
}

/// The checks of one `keys` entry that need no file.
fn check_key_entry(path: &str, key: &KeyConfig, problems: &mut Vec<ConfigProblem>) {
    let sources = [
        key.pem_file.is_some(),
        key.secret.is_some(),
        key.jwks_file.is_some(),
        key.jwks_url.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if sources != 1 {
        problems.push(ConfigProblem::new(
            path,
            format!(
                "exactly one of pem_file, secret, jwks_file, jwks_url is required (found {sources})"
            ),
        ));
        return;
    }
    if key.refresh_seconds.is_some() && key.jwks_url.is_none() {
        problems.push(ConfigProblem::new(
            format!("{path}.refresh_seconds"),
            "only a jwks_url entry is refreshed",
        ));
    }
    if key.kid.as_deref() == Some("") {
        problems.push(ConfigProblem::new(
            format!("{path}.kid"),
            "must not be empty (leave it out instead)",
        ));
    }
    if let Some(secret) = &key.secret {
        match key.algorithm {
            None => problems.push(ConfigProblem::new(
                format!("{path}.algorithm"),
                "required with secret: HS256, HS384 or HS512",
            )),
            Some(alg) if !alg.is_hmac() => problems.push(ConfigProblem::new(
                format!("{path}.algorithm"),
                format!("{alg} is not an HMAC algorithm; a secret is for HS256, HS384 or HS512"),
            )),
            Some(alg) if secret.0.len() < alg.min_secret_len() => {
                problems.push(ConfigProblem::new(
                    format!("{path}.secret"),
                    format!(
                        "too short for {alg}: {} bytes, at least {} required",
                        secret.0.len(),
                        alg.min_secret_len()
                    ),
                ))
            }
            Some(_) => {}
        }
    } else if let Some(alg) = key.algorithm.filter(|a| a.is_hmac()) {
        problems.push(ConfigProblem::new(
            format!("{path}.algorithm"),
            format!("{alg} keys come only from `secret`, never from a public key"),
        ));
    }
    if key.pem_file.is_some() && key.algorithm.is_none() {
        problems.push(ConfigProblem::new(
            format!("{path}.algorithm"),
            "required with pem_file (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA)",
        ));
    }
    if let Some(file) = key.pem_file.as_deref().or(key.jwks_file.as_deref()) {
        if file.is_empty() {
            let field = if key.pem_file.is_some() {
                "pem_file"
            } else {
                "jwks_file"
            };
            problems.push(ConfigProblem::new(
                format!("{path}.{field}"),
                "must name a file",
            ));
        }
    }
    if key.kid.is_some() && (key.jwks_file.is_some() || key.jwks_url.is_some()) {
        problems.push(ConfigProblem::new(
            format!("{path}.kid"),
            "a JWKS entry takes each key's kid from the JWK itself",
        ));
    }
    if let Some(url) = &key.jwks_url {
        if let Err(why) = crate::remote::check_url(url) {
            problems.push(ConfigProblem::new(format!("{path}.jwks_url"), why));
        }
        if !(MIN_REFRESH_SECONDS..=MAX_REFRESH_SECONDS).contains(&key.refresh_seconds()) {
            problems.push(ConfigProblem::new(
                format!("{path}.refresh_seconds"),
                format!("at least {MIN_REFRESH_SECONDS} and at most {MAX_REFRESH_SECONDS} seconds"),
            ));
        }
    }
}

/// A grant template's `{claim}` placeholders must be closed and named.
fn check_placeholders(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find(['{', '}']) {
        if rest[start..].starts_with('}') {
            return Err(format!("unmatched '}}' in {template:?}"));
        }
        let Some(len) = rest[start + 1..].find(['{', '}']) else {
            return Err(format!("unclosed '{{' in {template:?}"));
        };
        let end = start + 1 + len;
        if rest[end..].starts_with('{') {
            return Err(format!("nested '{{' in {template:?}"));
        }
        if end == start + 1 {
            return Err(format!("empty placeholder '{{}}' in {template:?}"));
        }
        rest = &rest[end + 1..];
    }
    Ok(())
}
