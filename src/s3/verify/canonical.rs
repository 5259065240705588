//! The verifier's side of canonicalization: which canonical URIs a received path may have been
//! signed as, and S3's rules on the signed-header list.
//!
//! Path: S3 signs the *decoded* path re-encoded with its own URI encoding (every byte except
//! `A-Za-z0-9-._~/` as upper-case `%XX`, no dot-segment or slash normalization): AWS's own
//! PUT Object example sends `/test$file.text` and signs `/test%24file.text`. awscli and boto3
//! send exactly that encoding, so for them the two are the same. Some clients (curl's
//! `--aws-sigv4`) send characters such as `=`, `(`, `!` unencoded and sign the path as sent; the
//! path as sent is tried second, like s3s does. Both spellings decode to the same key, so
//! either way the signature covers the key the proxy will use.

use std::borrow::Cow;

use http::HeaderMap;
use percent_encoding::{percent_decode_str, percent_encode};

use super::error::S3AuthError;
use crate::s3::sign::{self, PATH_ENCODE_SET};

/// S3's canonical URI for a received (still encoded) path.
pub(super) fn canonical_path(raw: &str) -> Cow<'_, str> {
    if raw.is_empty() {
        return Cow::Borrowed("/");
    }
    let decoded: Cow<'_, [u8]> = percent_decode_str(raw).into();
    let encoded: Cow<'_, str> = percent_encode(&decoded, PATH_ENCODE_SET).into();
    if encoded == raw {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(encoded.into_owned())
    }
}

/// The canonical URIs to try, S3's first, then the path as sent if it differs.
pub(super) fn path_candidates(raw: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let canonical = canonical_path(raw);
    let as_sent = (canonical != raw && !raw.is_empty()).then_some(Cow::Borrowed(raw));
    std::iter::once(canonical).chain(as_sent)
}

/// Parses `SignedHeaders` (`host;range;x-amz-date`): lower-case header names separated by `;`,
/// each once, `host` among them. The order is kept: it is the order the client signed in.
pub(super) fn parse_signed_headers(list: &str) -> Result<Vec<&str>, &'static str> {
    let mut names: Vec<&str> = Vec::new();
    for name in list.split(';') {
        let valid = !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            });
        if !valid {
            return Err("SignedHeaders must be lower-case header names separated by ';'.");
        }
        if names.contains(&name) {
            return Err("SignedHeaders names a header twice.");
        }
        names.push(name);
    }
    if !names.contains(&"host") {
        return Err("'Host' must be a 'SignedHeader' in the AWS Authorization.");
    }
    Ok(names)
}

/// S3 refuses a request carrying an `x-amz-*` header it did not sign (an attacker could
/// otherwise add one, such as `x-amz-copy-source` or `x-amz-meta-*`, to a captured request).
pub(super) fn check_amz_headers_signed(
    headers: &HeaderMap,
    signed: &[&str],
) -> Result<(), S3AuthError> {
    let unsigned = headers
        .keys()
        .map(|name| name.as_str())
        .any(|name| name.starts_with("x-amz-") && !signed.contains(&name));
    if unsigned {
        return Err(S3AuthError::AccessDenied {
            reason: "There were headers present in the request which were not signed",
        });
    }
    Ok(())
}

/// Decodes a hex signature (64 digits, either case).
pub(super) fn parse_signature(hex: &str) -> Result<[u8; 32], &'static str> {
    sign::parse_signature(hex.as_bytes()).ok_or("the Signature must be 64 hexadecimal digits.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("/test.txt", "/test.txt"),
            // AWS's PUT Object example: sent raw, signed encoded.
            ("/test$file.text", "/test%24file.text"),
            ("/test%24file.text", "/test%24file.text"),
            // Lower-case escapes are re-encoded upper-case.
            ("/caf%c3%a9", "/caf%C3%A9"),
            // Unreserved characters sent encoded are decoded.
            ("/%41%7E", "/A~"),
            // No normalization of dot segments or slashes.
            ("/a//b/../c/./", "/a//b/../c/./"),
            // An encoded slash is a slash.
            ("/b/a%2Fb", "/b/a/b"),
            ("/a b+c", "/a%20b%2Bc"),
            (
                "/raw=chars(1)!$,;:@.txt",
                "/raw%3Dchars%281%29%21%24%2C%3B%3A%40.txt",
            ),
            // Invalid escapes stay literal, so their `%` is encoded.
            ("/100%", "/100%25"),
            ("/%zz", "/%25zz"),
            // Non-UTF-8 bytes survive byte for byte.
            ("/%FF%fe", "/%FF%FE"),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_path(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn candidates() {
        let all = |raw| {
            path_candidates(raw)
                .map(Cow::into_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(all("/a%20b"), ["/a%20b"]);
        assert_eq!(all(""), ["/"]);
        assert_eq!(all("/x=1"), ["/x%3D1", "/x=1"]);
        assert_eq!(all("/caf%c3%a9"), ["/caf%C3%A9", "/caf%c3%a9"]);
    }

    #[test]
    fn signed_header_lists() {
        assert_eq!(
            parse_signed_headers("host;range;x-amz-date").unwrap(),
            ["host", "range", "x-amz-date"]
        );
        assert_eq!(
            parse_signed_headers("x-amz-date;host").unwrap(),
            ["x-amz-date", "host"]
        );
        for bad in [
            "",
            "host;",
            ";host",
            "host;;x-amz-date",
            "Host;x-amz-date",
            "host;x amz",
            "host;host",
            "x-amz-date",
            "host:x",
        ] {
            assert!(parse_signed_headers(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unsigned_amz_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-date", "d".parse().unwrap());
        h.insert("user-agent", "u".parse().unwrap());
        assert!(check_amz_headers_signed(&h, &["host", "x-amz-date"]).is_ok());
        h.insert("x-amz-meta-a", "v".parse().unwrap());
        let err = check_amz_headers_signed(&h, &["host", "x-amz-date"]).unwrap_err();
        assert_eq!(err.code(), "AccessDenied");
        // x-amzn-* (trace ids) are not x-amz-*.
        let mut h = HeaderMap::new();
        h.insert("x-amzn-trace-id", "t".parse().unwrap());
        assert!(check_amz_headers_signed(&h, &["host"]).is_ok());
    }

    #[test]
    fn signatures() {
        let sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        assert_eq!(parse_signature(sig).unwrap()[0], 0xf0);
        assert_eq!(
            parse_signature(&sig.to_ascii_uppercase()).unwrap(),
            parse_signature(sig).unwrap()
        );
        for bad in [
            "",
            &sig[1..],
            &format!("{sig}0"),
            &sig.replace('f', "g"),
            "é",
        ] {
            assert!(parse_signature(bad).is_err(), "{bad:?}");
        }
    }
}
