//! Requests recorded byte for byte from real clients (awscli, boto3, curl; see
//! tests/data/sigv4/README.md), verified at the clock time they were recorded at, then
//! tampered with in every way that must fail.

use std::path::PathBuf;

use pingora_http::RequestHeader;

use super::{assert_clean, at, keys, try_request, Keys};
use crate::s3::verify::{verify_request, AuthMethod, PayloadHash, S3AuthError, Verified};

const LONG: &str = "AKIDTESTBUCKETGATE01";
const LONG_SECRET: &str = "bgTest/Secret+Key/0123456789abcdefEXAMPLE";
const TEMP: &str = "ASIATESTBUCKETGATE02";
const TEMP_SECRET: &str = "bgTemp/Secret+Key/9876543210ZYXWVUexample";
const TEMP_TOKEN: &str = "FwoGZXIvYXdzEBgaDEXAMPLE+session/token==";

fn store() -> Keys {
    keys(&[
        (LONG, LONG_SECRET, None, "long-term"),
        (TEMP, TEMP_SECRET, Some(TEMP_TOKEN), "temporary"),
    ])
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigv4")
}

/// One recording: the request head as received, and when.
#[derive(Clone, Debug)]
struct Recording {
    file: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    recorded_at: u64,
    presigned: bool,
}

impl Recording {
    fn build(&self) -> RequestHeader {
        try_request(&self.method, self.target.as_bytes(), &self.headers)
            .unwrap_or_else(|| panic!("{}: not a valid request", self.file))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn set_header(&mut self, name: &str, value: String) {
        let slot = self
            .headers
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{}: no {name}", self.file));
        slot.1 = value;
    }

    fn access_key_id(&self) -> &'static str {
        if self.target.contains(TEMP)
            || self
                .header("authorization")
                .is_some_and(|a| a.contains(TEMP))
        {
            TEMP
        } else {
            LONG
        }
    }

    fn signature(&self) -> String {
        let source = if self.presigned {
            self.target.as_str()
        } else {
            self.header("authorization").unwrap()
        };
        let at = source.find("Signature=").unwrap() + "Signature=".len();
        source[at..at + 64].to_owned()
    }

    /// The signed header names.
    fn signed_headers(&self) -> Vec<String> {
        let list = if self.presigned {
            let at = self.target.find("X-Amz-SignedHeaders=").unwrap() + 20;
            self.target[at..]
                .split('&')
                .next()
                .unwrap()
                .replace("%3B", ";")
        } else {
            let auth = self.header("authorization").unwrap();
            let at = auth.find("SignedHeaders=").unwrap() + 14;
            auth[at..].split(',').next().unwrap().to_owned()
        };
        list.split(';').map(str::to_owned).collect()
    }

    fn verify(&self, keys: &Keys, now: u64) -> Result<Verified<&'static str>, S3AuthError> {
        let result = verify_request(&self.build(), keys, at(now)).map(|v| v.expect("signed"));
        if let Err(e) = &result {
            let sig = self.signature();
            assert_clean(e, &[LONG_SECRET, TEMP_SECRET, TEMP_TOKEN, &sig]);
        }
        result
    }

    fn expect(&self, keys: &Keys, now: u64, want: &str, what: &str) {
        match self.verify(keys, now) {
            Ok(_) => panic!("{}: {what}: verified", self.file),
            Err(e) => assert_eq!(e.code(), want, "{}: {what}: {e}", self.file),
        }
    }
}

/// Parses a raw HTTP/1.1 request head (the body, if any, is ignored).
fn parse_raw(file: &str, raw: &[u8]) -> (String, String, Vec<(String, String)>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{file}: no end of head"));
    let head = std::str::from_utf8(&raw[..end]).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap().to_owned();
    assert_eq!(request_line.next(), Some("HTTP/1.1"), "{file}");
    let headers = lines
        .map(|line| {
            let (k, v) = line.split_once(':').unwrap();
            // Like an HTTP parser: optional whitespace around the value is not part of it.
            (k.to_owned(), v.trim_matches([' ', '\t']).to_owned())
        })
        .collect();
    (method, target, headers)
}

fn recordings() -> Vec<Recording> {
    let manifest = std::fs::read_to_string(data_dir().join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let entries = manifest["recordings"].as_array().unwrap();
    let out: Vec<Recording> = entries
        .iter()
        .map(|e| {
            let file = e["file"].as_str().unwrap().to_owned();
            let raw = std::fs::read(data_dir().join(&file)).unwrap();
            let (method, target, headers) = parse_raw(&file, &raw);
            Recording {
                method,
                target,
                headers,
                recorded_at: e["recorded_at"].as_u64().unwrap(),
                presigned: e["auth"] == "presigned",
                file,
            }
        })
        .collect();
    assert!(out.len() >= 8, "{} recordings", out.len());
    out
}

#[test]
fn recorded_requests_verify() {
    let mut presigned = 0;
    for r in recordings() {
        let v = r
            .verify(&store(), r.recorded_at)
            .unwrap_or_else(|e| panic!("{}: {e}", r.file));
        let akid = r.access_key_id();
        assert_eq!(v.access_key_id, akid, "{}", r.file);
        assert_eq!(
            v.identity,
            if akid == TEMP {
                "temporary"
            } else {
                "long-term"
            }
        );
        assert_eq!(v.scope.region, "us-east-1");
        assert_eq!(v.seed_signature, r.signature(), "{}", r.file);
        assert_eq!(v.signed_headers, r.signed_headers(), "{}", r.file);
        if r.presigned {
            presigned += 1;
            assert!(
                matches!(v.method, AuthMethod::Presigned { .. }),
                "{}",
                r.file
            );
            assert_eq!(v.payload_hash, PayloadHash::Unsigned, "{}", r.file);
        } else {
            assert_eq!(v.method, AuthMethod::Header);
            let declared = r.header("x-amz-content-sha256").unwrap();
            assert_eq!(
                Some(v.payload_hash),
                PayloadHash::parse(declared),
                "{}",
                r.file
            );
        }
    }
    assert!(presigned >= 2);
}

/// The payload modes the recordings cover: real clients send all of these.
#[test]
fn recorded_payload_modes() {
    let modes: Vec<PayloadHash> = recordings()
        .iter()
        .map(|r| r.verify(&store(), r.recorded_at).unwrap().payload_hash)
        .collect();
    assert!(modes.contains(&PayloadHash::Unsigned));
    assert!(modes.contains(&PayloadHash::StreamingUnsignedTrailer));
    assert!(modes.iter().any(|m| matches!(m, PayloadHash::Sha256(_))));
    let chunked = recordings()
        .into_iter()
        .find(|r| r.header("x-amz-content-sha256") == Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
        .unwrap();
    let v = chunked.verify(&store(), chunked.recorded_at).unwrap();
    assert_eq!(v.decoded_content_length, Some(19));
}

#[test]
fn wrong_secret() {
    let wrong = keys(&[
        (LONG, "bgTest/Secret+Key/0123456789abcdefEXAMPLF", None, "x"),
        (
            TEMP,
            "bgTemp/Secret+Key/9876543210ZYXWVUexamplf",
            Some(TEMP_TOKEN),
            "x",
        ),
    ]);
    for r in recordings() {
        r.expect(
            &wrong,
            r.recorded_at,
            "SignatureDoesNotMatch",
            "wrong secret",
        );
    }
}

#[test]
fn unknown_access_key() {
    let other = keys(&[("AKIDSOMEONEELSE", LONG_SECRET, None, "x")]);
    for r in recordings() {
        r.expect(&other, r.recorded_at, "InvalidAccessKeyId", "unknown key");
    }
}

#[test]
fn changed_signed_header_value() {
    for r in recordings() {
        for name in r.signed_headers() {
            if matches!(
                name.as_str(),
                "x-amz-date" | "x-amz-content-sha256" | "x-amz-security-token"
            ) {
                continue;
            }
            let mut m = r.clone();
            let value = m.header(&name).unwrap().to_owned();
            let changed = if name == "host" {
                "127.0.0.1:1".to_owned()
            } else if value.bytes().all(|b| b.is_ascii_digit()) {
                format!("{value}0")
            } else {
                format!("{value}x")
            };
            m.set_header(&name, changed);
            m.expect(&store(), r.recorded_at, "SignatureDoesNotMatch", &name);
        }
    }
}

#[test]
fn changed_path() {
    for r in recordings() {
        let mut m = r.clone();
        let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
        m.target = if query.is_empty() {
            format!("{path}x")
        } else {
            format!("{path}x?{query}")
        };
        m.expect(&store(), r.recorded_at, "SignatureDoesNotMatch", "path");
        // A path that decodes differently, with the same bytes on the wire otherwise.
        if let Some(pos) = path.find("%20") {
            let mut m = r.clone();
            m.target = format!("{}%2B{}", &path[..pos], &r.target[pos + 3..]);
            m.expect(
                &store(),
                r.recorded_at,
                "SignatureDoesNotMatch",
                "%20 -> %2B",
            );
        }
    }
}

#[test]
fn changed_query() {
    for r in recordings() {
        let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
        let mut pieces: Vec<String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        match pieces.iter_mut().find(|p| !p.starts_with("X-Amz-")) {
            Some(p) if p.contains('=') => p.push('x'),
            Some(p) => p.push_str("=1"),
            None => pieces.push("versionId=1".to_owned()),
        }
        let mut m = r.clone();
        m.target = format!("{path}?{}", pieces.join("&"));
        m.expect(&store(), r.recorded_at, "SignatureDoesNotMatch", "query");
    }
}

#[test]
fn clock_too_far() {
    for r in recordings().into_iter().filter(|r| !r.presigned) {
        let later = r.recorded_at + 16 * 60;
        r.expect(&store(), later, "RequestTimeTooSkewed", "16 minutes later");
        let earlier = r.recorded_at - 16 * 60;
        r.expect(
            &store(),
            earlier,
            "RequestTimeTooSkewed",
            "16 minutes earlier",
        );
        // 14 minutes is fine.
        assert!(
            r.verify(&store(), r.recorded_at + 14 * 60).is_ok(),
            "{}",
            r.file
        );
    }
}

#[test]
fn presigned_expiry() {
    for r in recordings().into_iter().filter(|r| r.presigned) {
        let v = r.verify(&store(), r.recorded_at).unwrap();
        let AuthMethod::Presigned { expires_at } = v.method else {
            panic!("{}", r.file)
        };
        let expires = expires_at.duration_since(at(0)).unwrap().as_secs();
        assert!(expires > r.recorded_at, "{}", r.file);
        assert!(r.verify(&store(), expires).is_ok(), "{}", r.file);
        let err = r.verify(&store(), expires + 1).unwrap_err();
        assert_eq!(
            err,
            S3AuthError::AccessDenied {
                reason: "Request has expired"
            },
            "{}",
            r.file
        );
        assert_eq!(err.http_status(), 403);
    }
}

#[test]
fn mangled_credential() {
    for r in recordings() {
        let want = if r.presigned {
            "AuthorizationQueryParametersError"
        } else {
            "AuthorizationHeaderMalformed"
        };
        let manglings: [(&str, &str); 3] = if r.presigned {
            [
                ("%2Faws4_request", "%2Faws4_reques"),
                ("%2Fus-east-1%2F", "%2F"),
                ("%2Fs3%2F", "%2Fs4%2F"),
            ]
        } else {
            [
                ("/aws4_request", "/aws4_reques"),
                ("/us-east-1/", "/"),
                ("/s3/", "/s4/"),
            ]
        };
        for (from, to) in manglings {
            let mut m = r.clone();
            if r.presigned {
                m.target = r.target.replacen(from, to, 1);
            } else {
                let auth = r.header("authorization").unwrap().replacen(from, to, 1);
                m.set_header("authorization", auth);
            }
            m.expect(&store(), r.recorded_at, want, from);
        }
    }
}

#[test]
fn credential_date_must_match_request_date() {
    for r in recordings().into_iter().filter(|r| !r.presigned) {
        let date = &r.header("x-amz-date").unwrap()[..8];
        let mut m = r.clone();
        let auth =
            r.header("authorization")
                .unwrap()
                .replacen(&format!("/{date}/"), "/20200101/", 1);
        m.set_header("authorization", auth);
        m.expect(
            &store(),
            r.recorded_at,
            "AuthorizationHeaderMalformed",
            "date",
        );
    }
}

#[test]
fn unsigned_amz_header_added() {
    for r in recordings() {
        let mut m = r.clone();
        m.headers
            .push(("x-amz-meta-injected".to_owned(), "1".to_owned()));
        m.expect(
            &store(),
            r.recorded_at,
            "AccessDenied",
            "unsigned x-amz-meta",
        );
    }
}

#[test]
fn session_tokens() {
    let recorded: Vec<Recording> = recordings()
        .into_iter()
        .filter(|r| r.access_key_id() == TEMP)
        .collect();
    assert_eq!(recorded.len(), 2, "one header, one presigned");
    for r in recorded {
        // The store's token differs.
        let other = keys(&[(TEMP, TEMP_SECRET, Some("another-token-value"), "x")]);
        r.expect(&other, r.recorded_at, "InvalidToken", "other token");
        // The key is long-term in the store: a token is not expected.
        let long = keys(&[(TEMP, TEMP_SECRET, None, "x")]);
        r.expect(&long, r.recorded_at, "InvalidToken", "unexpected token");
        // The request lost its token.
        let mut m = r.clone();
        if r.presigned {
            let start = m.target.find("&X-Amz-Security-Token=").unwrap();
            let end = m.target[start + 1..].find('&').unwrap() + start + 1;
            m.target.replace_range(start..end, "");
        } else {
            m.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("x-amz-security-token"));
        }
        m.expect(&store(), r.recorded_at, "InvalidToken", "token removed");
    }
    // A long-term key's request with a token added.
    let r = recordings()
        .into_iter()
        .find(|r| r.presigned && r.access_key_id() == LONG)
        .unwrap();
    let mut m = r.clone();
    m.target = m.target.replacen(
        "&X-Amz-Signature=",
        "&X-Amz-Security-Token=abc&X-Amz-Signature=",
        1,
    );
    m.expect(&store(), r.recorded_at, "InvalidToken", "token added");
}

#[test]
fn curl_raw_path_is_accepted_as_sent() {
    // curl signs `/test-bucket/raw=chars(1)!$,;:@.txt` unencoded; S3's canonical form would
    // encode `=()!$,;:@`. The as-sent fallback accepts it; changing a byte still fails.
    let r = recordings()
        .into_iter()
        .find(|r| r.file.contains("curl"))
        .unwrap();
    assert!(r.target.contains("raw=chars(1)!$,;:@.txt"));
    assert!(r.verify(&store(), r.recorded_at).is_ok());
    let mut m = r.clone();
    m.target = r.target.replacen("(1)", "(2)", 1);
    m.expect(&store(), r.recorded_at, "SignatureDoesNotMatch", "(2)");
    // The same path, encoded the canonical way on the wire, was not what curl signed.
    let mut m = r.clone();
    m.target = r
        .target
        .replacen("raw=chars(1)!", "raw%3Dchars%281%29%21", 1);
    m.expect(&store(), r.recorded_at, "SignatureDoesNotMatch", "encoded");
}

#[test]
fn presigned_signature_is_not_signed_and_expires_is() {
    for r in recordings().into_iter().filter(|r| r.presigned) {
        // Moving X-Amz-Signature to the front changes nothing.
        let (path, query) = r.target.split_once('?').unwrap();
        let (sig, rest): (Vec<&str>, Vec<&str>) = query
            .split('&')
            .partition(|p| p.starts_with("X-Amz-Signature="));
        let mut m = r.clone();
        m.target = format!("{path}?{}&{}", sig[0], rest.join("&"));
        assert!(m.verify(&store(), r.recorded_at).is_ok(), "{}", r.file);
        // Extending X-Amz-Expires breaks the signature.
        let mut m = r.clone();
        let at = m.target.find("X-Amz-Expires=").unwrap() + 14;
        m.target.insert(at, '1');
        let long_enough = m.target[at..]
            .split('&')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap();
        assert!(long_enough <= 604_800);
        m.expect(&store(), r.recorded_at, "SignatureDoesNotMatch", "expires");
    }
}
