//! Hostile and malformed input: which S3 error each shape of bad request gets, and that no
//! input (random edits of valid requests, huge values, extreme clocks) makes the verifier
//! panic or put secret material into an error.

use std::time::{Duration, UNIX_EPOCH};

use super::{assert_clean, at, header_pairs, keys, request, try_request, Keys};
use crate::s3::verify::{verify_header, verify_presigned, verify_request, S3AuthError};
use crate::s3::{Signer, UNSIGNED_PAYLOAD};

const AK: &str = "AKIDHOSTILE";
const SK: &str = "hostile/secret+key";
const NOW: u64 = 1_700_000_000;

fn store() -> Keys {
    keys(&[(AK, SK, None, "h")])
}

/// A request our signer signed, as (target, headers).
fn signed(target: &str, extra: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut headers = vec![("Host", "h.example")];
    headers.extend_from_slice(extra);
    let mut req = request("PUT", target, &headers);
    Signer::new(AK, SK, None, "us-east-1").sign(&mut req, UNSIGNED_PAYLOAD, at(NOW));
    (target.to_owned(), header_pairs(&req))
}

fn code_of(target: &str, headers: &[(String, String)]) -> &'static str {
    let req = try_request("PUT", target.as_bytes(), headers).expect("a valid request");
    match verify_request(&req, &store(), at(NOW)) {
        Ok(Some(_)) => "OK",
        Ok(None) => "NONE",
        Err(e) => {
            assert_clean(&e, &[SK]);
            e.code()
        }
    }
}

fn edit(
    headers: &[(String, String)],
    name: &str,
    f: impl Fn(&str) -> String,
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            if k == name {
                (k.clone(), f(v))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

fn without(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers.iter().filter(|(k, _)| k != name).cloned().collect()
}

#[test]
fn dispatch() {
    let (target, headers) = signed("/b/k", &[]);
    assert_eq!(code_of(&target, &headers), "OK");
    assert_eq!(code_of("/b/k", &[]), "NONE");
    assert_eq!(code_of("/b/k?list-type=2", &[]), "NONE");
    // Both mechanisms at once.
    assert_eq!(
        code_of("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", &headers),
        "InvalidArgument"
    );
    // SigV2, header and query.
    let v2 = vec![(
        "authorization".to_owned(),
        "AWS AKIDHOSTILE:frJIUN8DYpKDtOLCwo//yllqDzg=".to_owned(),
    )];
    assert_eq!(code_of("/b/k", &v2), "InvalidArgument");
    assert_eq!(
        code_of("/b/k?AWSAccessKeyId=AK&Expires=1&Signature=x", &[]),
        "InvalidArgument"
    );
    // Called directly without the credentials they need.
    let bare = request("GET", "/b/k", &[]);
    assert_eq!(
        verify_header(&bare, &store(), at(NOW)).unwrap_err().code(),
        "AccessDenied"
    );
    assert_eq!(
        verify_presigned(&bare, &store(), at(NOW))
            .unwrap_err()
            .code(),
        "AuthorizationQueryParametersError"
    );
}

#[test]
fn header_rules() {
    let (target, headers) = signed("/b/k", &[("x-amz-meta-a", "1")]);
    let cases: Vec<(&str, Vec<(String, String)>)> = vec![
        ("InvalidRequest", without(&headers, "x-amz-content-sha256")),
        (
            "InvalidArgument",
            edit(&headers, "x-amz-content-sha256", |_| "0123".to_owned()),
        ),
        (
            "AccessDenied",
            edit(&headers, "x-amz-date", |_| {
                "2023-11-14T22:13:20Z".to_owned()
            }),
        ),
        // Without x-amz-date there is no Date either.
        (
            "AccessDenied",
            without(&without(&headers, "x-amz-date"), "x-amz-meta-a"),
        ),
        (
            "AuthorizationHeaderMalformed",
            edit(&headers, "authorization", |a| {
                a.replace("SignedHeaders=host;", "SignedHeaders=")
            }),
        ),
        (
            "AuthorizationHeaderMalformed",
            edit(&headers, "authorization", |a| {
                a.replace("Signature=", "Signature=0")
            }),
        ),
        (
            "AuthorizationHeaderMalformed",
            edit(&headers, "authorization", |a| {
                a.replace("Signature=", "Signature=zz")[..a.len()].to_owned()
            }),
        ),
        (
            "AuthorizationHeaderMalformed",
            edit(&headers, "authorization", |a| a.replace(", ", " ")),
        ),
        (
            "InvalidArgument",
            edit(&headers, "authorization", |a| {
                a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")
            }),
        ),
        // An x-amz-* header dropped from the signed list: present but unsigned.
        (
            "AccessDenied",
            edit(&headers, "authorization", |a| {
                a.replace(";x-amz-meta-a", "")
            }),
        ),
        ("InvalidToken", {
            let mut h = headers.clone();
            h.push(("x-amz-security-token".to_owned(), "t1".to_owned()));
            h.push(("x-amz-security-token".to_owned(), "t2".to_owned()));
            h
        }),
        ("AuthorizationHeaderMalformed", {
            let mut h = headers.clone();
            let auth = h
                .iter()
                .find(|(k, _)| k == "authorization")
                .unwrap()
                .clone();
            h.push(auth);
            h
        }),
        // A signed header that was dropped: its canonical value is empty.
        ("SignatureDoesNotMatch", without(&headers, "x-amz-meta-a")),
        (
            "SignatureDoesNotMatch",
            edit(&headers, "x-amz-meta-a", |_| "2".to_owned()),
        ),
    ];
    for (want, h) in cases {
        assert_eq!(code_of(&target, &h), want, "{h:?}");
    }
    // Header values are compared trimmed and with inner runs of spaces folded.
    let (target, headers) = signed("/b/k", &[("x-amz-meta-a", "a  b")]);
    let spaced = edit(&headers, "x-amz-meta-a", |_| "a b".to_owned());
    assert_eq!(code_of(&target, &spaced), "OK");
    let spaced = edit(&headers, "x-amz-meta-a", |_| "a   b  ".to_owned());
    assert_eq!(code_of(&target, &spaced), "OK");
    let tabbed = edit(&headers, "x-amz-meta-a", |_| "a\tb".to_owned());
    assert_eq!(code_of(&target, &tabbed), "SignatureDoesNotMatch");
}

#[test]
fn presigned_rules() {
    let good = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDHOSTILE%2F20231114%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20231114T221320Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let host = vec![("host".to_owned(), "h.example".to_owned())];
    assert_eq!(code_of(good, &host), "SignatureDoesNotMatch");
    let cases = [
        (
            "X-Amz-Expires=600",
            "X-Amz-Expires=0",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-Expires=600",
            "X-Amz-Expires=604801",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-Expires=600",
            "X-Amz-Expires=ten",
            "AuthorizationQueryParametersError",
        ),
        (
            "&X-Amz-Expires=600",
            "",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Date=20231114",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Date=20231115T000000Z",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA1",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-SignedHeaders=host",
            "X-Amz-SignedHeaders=range",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-Signature=0000",
            "X-Amz-Signature=000",
            "AuthorizationQueryParametersError",
        ),
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "AuthorizationQueryParametersError",
        ),
        ("AKIDHOSTILE", "AKIDNOBODY", "InvalidAccessKeyId"),
        (
            "X-Amz-SignedHeaders=host",
            "X-Amz-SignedHeaders=host&X-Amz-Content-Sha256=STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "InvalidRequest",
        ),
        (
            "X-Amz-SignedHeaders=host",
            "X-Amz-SignedHeaders=host&X-Amz-Content-Sha256=nope",
            "InvalidArgument",
        ),
    ];
    for (from, to, want) in cases {
        let target = good.replacen(from, to, 1);
        assert_eq!(code_of(&target, &host), want, "{to}");
    }
    // Expired, and not yet valid.
    let req = request("GET", good, &[("host", "h.example")]);
    let signed = at(NOW);
    assert_eq!(
        verify_presigned(&req, &store(), signed + Duration::from_secs(601)).unwrap_err(),
        S3AuthError::AccessDenied {
            reason: "Request has expired"
        }
    );
    assert_eq!(
        verify_presigned(&req, &store(), signed - Duration::from_secs(901))
            .unwrap_err()
            .message(),
        "Request is not valid yet"
    );
}

/// Header names and raw values, mutated byte by byte.
type RawHeaders = Vec<(String, Vec<u8>)>;

/// xorshift64*: deterministic, dependency-free randomness for the edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Deletes, inserts, replaces or duplicates a few bytes.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8] = b"aZ09 /;,=&%+-_.~\t\"\\:?#\x00\x7f\xc3\xa9\xff";
        let mut out = input.to_vec();
        for _ in 0..=self.below(3) {
            let at = self.below(out.len() + 1);
            let byte = ALPHABET[self.below(ALPHABET.len())];
            match self.below(4) {
                0 if at < out.len() => {
                    out.remove(at);
                }
                1 => out.insert(at, byte),
                2 if at < out.len() => out[at] = byte,
                _ => {
                    let end = (at + self.below(16)).min(out.len());
                    let copy = out[at..end].to_vec();
                    out.splice(at..at, copy);
                }
            }
        }
        out
    }
}

#[test]
fn random_edits_never_panic() {
    let (header_target, header_headers) =
        signed("/b/k%20x?list-type=2&prefix=a+b", &[("x-amz-meta-a", "1")]);
    let presigned = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDHOSTILE%2F20231114%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20231114T221320Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host%3Bx-amz-date\
        &X-Amz-Security-Token=a%2Bb\
        &X-Amz-Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let bases: Vec<(String, RawHeaders)> = vec![
        (
            header_target,
            header_headers
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect(),
        ),
        (
            presigned.to_owned(),
            vec![
                ("host".to_owned(), b"h.example".to_vec()),
                ("x-amz-date".to_owned(), b"20231114T221320Z".to_vec()),
            ],
        ),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut verdicts = std::collections::BTreeMap::new();
    for _ in 0..4000 {
        let (target, headers) = &bases[rng.below(bases.len())];
        let mut target = target.as_bytes().to_vec();
        let mut headers = headers.clone();
        if rng.below(3) == 0 {
            target = rng.mutate(&target);
        } else {
            let i = rng.below(headers.len());
            headers[i].1 = rng.mutate(&headers[i].1);
        }
        let Some(req) = try_request("GET", &target, &headers) else {
            continue;
        };
        for now in [at(NOW), UNIX_EPOCH, at(253_402_300_799 + 86_400 * 365)] {
            let code = match verify_request(&req, &store(), now) {
                Ok(_) => "OK",
                Err(e) => {
                    assert_clean(&e, &[SK]);
                    e.code()
                }
            };
            *verdicts.entry(code).or_insert(0u32) += 1;
        }
    }
    // The edits reached deep into the verifier, not just the first parser.
    for code in [
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
        "RequestTimeTooSkewed",
    ] {
        assert!(verdicts.contains_key(code), "{verdicts:?}");
    }
}

#[test]
fn huge_inputs() {
    let (target, headers) = signed("/b/k", &[]);
    let many = (0..5000)
        .map(|i| format!("x-h{i}"))
        .collect::<Vec<_>>()
        .join(";");
    let huge = [
        edit(&headers, "authorization", |a| {
            a.replace("SignedHeaders=", &format!("SignedHeaders={many};"))
        }),
        edit(&headers, "authorization", |a| {
            format!("{a}{}", " ".repeat(1 << 20))
        }),
        edit(&headers, "authorization", |a| {
            a.replace(
                "Credential=",
                &format!("Credential={}", "A".repeat(1 << 20)),
            )
        }),
    ];
    for h in huge {
        let _ = code_of(&target, &h);
    }
    // As many query parameters as the request line takes.
    let mut n = 20_000;
    let req = loop {
        let query = (0..n)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        if let Some(req) = try_request("PUT", format!("/b/k?{query}").as_bytes(), &headers) {
            break req;
        }
        n /= 2;
    };
    assert!(n >= 1000, "{n}");
    assert_eq!(
        verify_request(&req, &store(), at(NOW)).unwrap_err(),
        S3AuthError::SignatureDoesNotMatch
    );
    // The latest representable date with the longest expiry does not overflow.
    let late = "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDHOSTILE%2F99991231%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=99991231T235959Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let req = request("GET", late, &[("host", "h")]);
    for now in [
        UNIX_EPOCH,
        at(253_402_300_799),
        at(253_402_300_799 + 10 * 86_400),
    ] {
        let _ = verify_request(&req, &store(), now);
    }
}
