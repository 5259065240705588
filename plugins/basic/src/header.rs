//! Reading `Authorization: Basic <base64(user:password)>` (RFC 7617, UTF-8): telling apart
//! "no Basic credentials here" from "Basic credentials, but malformed", and holding the decoded
//! password only as long as the request needs it (its buffer is wiped on drop).

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use http::header::AUTHORIZATION;
use http::HeaderMap;
use zeroize::Zeroize;

/// Longer credentials are refused before decoding.
const MAX_TOKEN_BYTES: usize = 4096;

/// Standard base64; some clients drop the padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the `Authorization` headers say, for this plugin.
#[derive(Debug)]
pub enum Parsed {
    /// No `Authorization` header with the Basic scheme.
    NotBasic,
    /// Basic, but unusable; the reason is for the log.
    Malformed(&'static str),
    Credentials(Credentials),
}

/// A decoded `user:password`. `Debug` does not show the password; drop wipes it.
pub struct Credentials {
    /// `user:password`, split at `colon`.
    decoded: String,
    colon: usize,
}

impl Credentials {
    pub fn user(&self) -> &str {
        self.decoded.get(..self.colon).unwrap_or_default()
    }

    pub fn password(&self) -> &[u8] {
        self.decoded
            .as_bytes()
            .get(self.colon + 1..)
            .unwrap_or_default()
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        self.decoded.zeroize();
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user())
            .finish_non_exhaustive()
    }
}

/// Finds the Basic credentials among the `Authorization` headers. Other schemes are not this
/// plugin's business; two Basic headers are malformed (which one would count?).
pub fn parse(headers: &HeaderMap) -> Parsed {
    let mut basic = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| basic_token(v.as_bytes()));
    let Some(token) = basic.next() else {
        return Parsed::NotBasic;
    };
    if basic.next().is_some() {
        return Parsed::Malformed("more than one Basic Authorization header");
    }
    decode(token)
}

/// The token after `Basic ` (scheme case-insensitive), or None for another scheme.
fn basic_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let scheme_end = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    scheme
        .eq_ignore_ascii_case(b"basic")
        .then(|| rest.trim_ascii())
}

fn decode(token: &[u8]) -> Parsed {
    if token.is_empty() {
        return Parsed::Malformed("no credentials after Basic");
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Parsed::Malformed("credentials too long");
    }
    let Ok(mut bytes) = BASE64.decode(token) else {
        return Parsed::Malformed("credentials are not valid base64");
    };
    let decoded = match String::from_utf8(bytes) {
        Ok(decoded) => decoded,
        Err(e) => {
            bytes = e.into_bytes();
            bytes.zeroize();
            return Parsed::Malformed("credentials are not valid UTF-8");
        }
    };
    let colon = decoded.find(':');
    let credentials = Credentials {
        colon: colon.unwrap_or(0),
        decoded,
    };
    match colon {
        Some(_) => Parsed::Credentials(credentials),
        // Dropping `credentials` wipes the buffer.
        None => Parsed::Malformed("credentials have no ':' between user and password"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, http::HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    fn b64(s: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn creds(values: &[&[u8]]) -> (String, Vec<u8>) {
        match parse(&headers(values)) {
            Parsed::Credentials(c) => (c.user().to_owned(), c.password().to_owned()),
            other => panic!("{other:?}"),
        }
    }

    fn malformed(values: &[&[u8]]) -> &'static str {
        match parse(&headers(values)) {
            Parsed::Malformed(why) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_user_and_password() {
        let v = format!("Basic {}", b64(b"igv:pa:ss word"));
        assert_eq!(
            creds(&[v.as_bytes()]),
            ("igv".into(), b"pa:ss word".to_vec())
        );
        let v = format!("bAsIc   {}  ", b64("jörg:pässword".as_bytes()));
        assert_eq!(
            creds(&[v.as_bytes()]),
            ("jörg".into(), "pässword".as_bytes().to_vec())
        );
        let v = format!("Basic {}", b64(b"a:").trim_end_matches('='));
        assert_eq!(creds(&[v.as_bytes()]), ("a".into(), vec![]));
        let v = format!("Basic {}", b64(b":pw"));
        assert_eq!(creds(&[v.as_bytes()]), ("".into(), b"pw".to_vec()));
    }

    #[test]
    fn other_schemes_and_no_header_are_not_basic() {
        assert!(matches!(parse(&HeaderMap::new()), Parsed::NotBasic));
        for v in [
            &b"Bearer abc.def.ghi"[..],
            b"Digest username=\"x\"",
            b"Basicfoo",
            b"AWS4-HMAC-SHA256 Credential=x",
            b"",
        ] {
            assert!(matches!(parse(&headers(&[v])), Parsed::NotBasic), "{v:?}");
        }
        let v = format!("Basic {}", b64(b"u:p"));
        assert_eq!(creds(&[b"Bearer x", v.as_bytes()]).0, "u");
    }

    #[test]
    fn malformed_basic_credentials() {
        assert!(malformed(&[b"Basic"]).contains("no credentials"));
        assert!(malformed(&[b"Basic !!!notbase64"]).contains("base64"));
        let v = format!("Basic {}", b64(b"no-colon"));
        assert!(malformed(&[v.as_bytes()]).contains("':'"));
        let v = format!("Basic {}", b64(b"u:\xff\xfe"));
        assert!(malformed(&[v.as_bytes()]).contains("UTF-8"));
        let v = format!("Basic {}", "A".repeat(MAX_TOKEN_BYTES + 4));
        assert!(malformed(&[v.as_bytes()]).contains("too long"));
        let v = format!("Basic {}", b64(b"u:p"));
        assert!(malformed(&[v.as_bytes(), v.as_bytes()]).contains("more than one"));
        assert!(malformed(&[b"Basic \xc3\xa9"]).contains("base64"));
    }

    #[test]
    fn debug_hides_the_password() {
        let v = format!("Basic {}", b64(b"igv:topsecret"));
        let shown = format!("{:?}", parse(&headers(&[v.as_bytes()])));
        assert!(
            shown.contains("igv") && !shown.contains("topsecret"),
            "{shown}"
        );
    }
}
