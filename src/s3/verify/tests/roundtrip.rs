//! What our own [`Signer`] signs, the verifier accepts: across keys that need encoding,
//! queries with `+` and bare keys, payload modes, session tokens and regions; and the query
//! normalization the proxy forwards with does not change the verdict.

use std::time::Duration;

use super::{at, header_pairs, keys, request, try_request};
use crate::s3::verify::{verify_header, PayloadHash, S3AuthError};
use crate::s3::{encode_key_path, normalize_query, Signer, UNSIGNED_PAYLOAD};

const AK: &str = "AKIDROUNDTRIP";
const SK: &str = "round/trip+secret key with spaces ü";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQ+/=";
const NOW: u64 = 1_700_000_000;
const SHA: &str = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";

struct Case {
    method: &'static str,
    key: &'static str,
    query: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    payload: &'static str,
    token: Option<&'static str>,
    region: &'static str,
}

fn case(method: &'static str, key: &'static str, query: &'static str) -> Case {
    Case {
        method,
        key,
        query,
        headers: vec![],
        payload: UNSIGNED_PAYLOAD,
        token: None,
        region: "us-east-1",
    }
}

fn cases() -> Vec<Case> {
    let mut out = vec![
        case("GET", "plain.txt", ""),
        case("GET", "dir/sub dir/ünïcödé €.txt", ""),
        case("HEAD", "a+b (1)!~*'.txt", ""),
        case("DELETE", "100%.txt", ""),
        case("GET", "a//b/../c/./d", ""),
        case(
            "GET",
            "emoji 😀\\back'slash\"&=?#;:@$,",
            "versionId=3/L4kq+rmS",
        ),
        case("POST", "big.bin", "uploads"),
        case("PUT", "big.bin", "uploadId=x&partNumber=1"),
        case("GET", "", "list-type=2&prefix=a+b&delimiter=/"),
        case("GET", "", "prefix=a%2Bb&prefix=a%20b&max-keys=2&&"),
        case("GET", "", "x=%ff&k=(1)&%zz=%4"),
    ];
    let mut c = case("PUT", "meta/obj.json", "");
    c.headers = vec![
        ("Content-Type", "application/json"),
        ("x-amz-meta-author", "  Jane   Doe  "),
        ("x-amz-meta-empty", ""),
        ("User-Agent", "test/1"),
        ("Expect", "100-continue"),
    ];
    c.payload = SHA;
    out.push(c);
    let mut c = case("PUT", "chunked.bin", "");
    c.headers = vec![
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "1024"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ];
    c.payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    out.push(c);
    let mut c = case("PUT", "signed-chunks.bin", "");
    c.headers = vec![("x-amz-decoded-content-length", "0")];
    c.payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    out.push(c);
    let mut c = case("GET", "tokened", "");
    c.token = Some(TOKEN);
    c.region = "eu-central-1";
    out.push(c);
    let mut c = case("GET", "rgw", "");
    c.region = "default";
    out.push(c);
    out
}

fn target(c: &Case, query: &str) -> String {
    let path = format!("/bucket/{}", encode_key_path(c.key));
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

#[test]
fn signer_to_verifier() {
    let store = keys(&[
        (AK, SK, None, "plain"),
        ("ASIAROUNDTRIP", SK, Some(TOKEN), "temporary"),
    ]);
    for c in cases() {
        let akid = if c.token.is_some() {
            "ASIAROUNDTRIP"
        } else {
            AK
        };
        let signer = Signer::new(akid, SK, c.token, c.region);
        let mut headers = vec![("Host", "bucket.s3.example.com:9000")];
        headers.extend(c.headers.iter().copied());
        let mut req = request(c.method, &target(&c, c.query), &headers);
        signer.sign(&mut req, c.payload, at(NOW));

        let what = format!("{} {:?} {:?}", c.method, c.key, c.query);
        let v = verify_header(&req, &store, at(NOW + 60)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(v.access_key_id, akid, "{what}");
        assert_eq!(v.scope.region, c.region, "{what}");
        assert_eq!(
            Some(v.payload_hash),
            PayloadHash::parse(c.payload),
            "{what}"
        );
        let auth = req.headers["authorization"].to_str().unwrap();
        assert!(auth.ends_with(&v.seed_signature), "{what}");

        // The proxy forwards the normalized query: still the same signature.
        let normalized = normalize_query(c.query);
        let forwarded = try_request(
            c.method,
            target(&c, &normalized).as_bytes(),
            &header_pairs(&req),
        )
        .unwrap();
        verify_header(&forwarded, &store, at(NOW)).unwrap_or_else(|e| panic!("{what}: {e}"));

        // The next day's clock is too far.
        assert_eq!(
            verify_header(&req, &store, at(NOW) + Duration::from_secs(86_400)).unwrap_err(),
            S3AuthError::RequestTimeTooSkewed,
            "{what}"
        );
    }
}

#[test]
fn signer_without_host_header_uses_authority() {
    // HTTP/2 requests carry the host in the URI (`:authority`), not in a Host header.
    let signer = Signer::new(AK, SK, None, "us-east-1");
    let mut req = request("GET", "/bucket/k", &[]);
    req.set_uri(
        "http://up.example:9000/bucket/k?list-type=2"
            .parse()
            .unwrap(),
    );
    signer.sign(&mut req, UNSIGNED_PAYLOAD, at(NOW));
    let store = keys(&[(AK, SK, None, "plain")]);
    assert!(verify_header(&req, &store, at(NOW)).is_ok());
    req.remove_header("host");
    assert!(verify_header(&req, &store, at(NOW)).is_ok());
    req.set_uri(
        "http://other.example:9000/bucket/k?list-type=2"
            .parse()
            .unwrap(),
    );
    assert_eq!(
        verify_header(&req, &store, at(NOW)).unwrap_err(),
        S3AuthError::SignatureDoesNotMatch
    );
}
