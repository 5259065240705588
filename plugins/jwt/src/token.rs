//! Finding the token in a request (Authorization header, query parameter, cookie), and reading
//! its JOSE header before any key is chosen. Nothing here trusts the token: the header only
//! selects candidate keys, each pinned to its own algorithm.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bucketgate_plugin::RequestView;
use serde_json::Value;

use crate::config::{Algorithm, TokenSource};
use crate::keys::truncate;

/// The longest token read; a longer one is rejected unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The first token found in `sources`, in order. Empty values count as absent. Borrowed from
/// the request unless it had to be decoded (a query parameter).
pub fn find<'r>(req: &'r RequestView, sources: &[TokenSource]) -> Option<Cow<'r, str>> {
    sources.iter().find_map(|source| {
        let token = match source {
            TokenSource::Header => {
                // The constant header name: no parsing of "authorization" per request.
                let value = req.headers.get(http::header::AUTHORIZATION)?;
                Cow::Borrowed(bearer(value.to_str().ok()?)?)
            }
            TokenSource::Query(name) => Cow::Owned(req.query_param(name)?),
            TokenSource::Cookie(name) => Cow::Borrowed(req.cookie(name)?.trim_matches('"')),
        };
        match token {
            Cow::Borrowed(t) => Some(Cow::Borrowed(t.trim())),
            Cow::Owned(t) if t.trim().len() == t.len() => Some(Cow::Owned(t)),
            Cow::Owned(t) => Some(Cow::Owned(t.trim().to_owned())),
        }
        .filter(|t| !t.is_empty())
    })
}

/// The credentials of `Bearer <token>` (the scheme is case-insensitive).
fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// What the JOSE header says about how the token was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// Reads the header of a compact JWS. Errors are log reasons, free of the token itself.
pub fn header(token: &str) -> Result<Header, String> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "token too long ({} bytes, at most {MAX_TOKEN_BYTES})",
            token.len()
        ));
    }
    let segments = token.split('.').count();
    if segments != 3 {
        return Err(format!(
            "malformed token: {segments} segments, a signed JWT has 3"
        ));
    }
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "malformed token: header is not base64url".to_owned())?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| "malformed token: header is not JSON".to_owned())?;
    let obj = value
        .as_object()
        .ok_or("malformed token: header is not a JSON object")?;
    let alg = match obj.get("alg") {
        Some(Value::String(name)) => name,
        Some(_) => return Err("malformed token: alg is not a string".into()),
        None => return Err("malformed token: no alg".into()),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err("alg none is never accepted".into());
    }
    let alg =
        Algorithm::from_name(alg).ok_or_else(|| format!("unsupported alg {:?}", truncate(alg)))?;
    let kid = match obj.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("malformed token: kid is not a string".into()),
    };
    if obj.contains_key("crit") {
        return Err("token header has crit extensions, none are supported".into());
    }
    Ok(Header { alg, kid })
}
