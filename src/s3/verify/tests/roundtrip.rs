//! What our own [`Signer`] signs, the verifier accepts: across the signer's request corpus
//! (keys that need encoding, queries with `+` and bare keys, payload modes, session tokens and
//! regions; shared with the signer's own cross-check); and the query normalization the proxy
//! forwards with does not change the verdict.

use std::time::Duration;

use super::{at, header_pairs, keys, request, try_request};
use crate::s3::sign::corpus;
use crate::s3::verify::{verify_header, PayloadHash, S3AuthError};
use crate::s3::{normalize_query, Signer, UNSIGNED_PAYLOAD};

const AK: &str = "AKIDROUNDTRIP";
const TEMPORARY_AK: &str = "ASIAROUNDTRIP";
const SK: &str = "round/trip+secret key with spaces ü";
const NOW: u64 = 1_700_000_000;

#[test]
fn signer_to_verifier() {
    for c in corpus::cases() {
        let store = keys(&[
            (AK, SK, None, "plain"),
            (TEMPORARY_AK, SK, c.token, "temporary"),
        ]);
        let akid = if c.token.is_some() { TEMPORARY_AK } else { AK };
        let signer = Signer::new(akid, SK, c.token, c.region);
        let mut headers = vec![("Host", corpus::HOST)];
        headers.extend(c.signed.iter().copied());
        headers.extend(c.unsigned.iter().copied());
        let mut req = request(c.method, &c.target(c.query), &headers);
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
            c.target(&normalized).as_bytes(),
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
