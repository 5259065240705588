//! AWS's published SigV4 examples for S3 (AKIAIOSFODNN7EXAMPLE, 2013-05-24, examplebucket):
//! "Signature Calculations for the Authorization Header" (GET Object with Range, PUT Object,
//! GET Bucket Lifecycle, List Objects), "Query String Authentication" (presigned GET), and
//! "Transferring Payload in Multiple Chunks" with and without trailing headers, whose chunk
//! chains are then checked by `crate::s3::chunked` from what the verifier returns.

use std::time::Duration;

use pingora_http::RequestHeader;

use super::{assert_clean, at, keys, request, Keys};
use crate::s3::chunked::{ChecksumAlgorithm, ChunkSigningContext, Output, SignedChunkDecoder};
use crate::s3::verify::{
    verify_header, verify_presigned, verify_request, AuthMethod, PayloadHash, S3AuthError, Verified,
};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// 2013-05-24T00:00:00Z.
const EXAMPLE_TIME: u64 = 1_369_353_600;
const CREDENTIAL: &str = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
const HOST: &str = "examplebucket.s3.amazonaws.com";

fn store() -> Keys {
    keys(&[(AK, SK, None, "example-user")])
}

fn authorization(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={CREDENTIAL},SignedHeaders={signed_headers},Signature={signature}"
    )
}

#[test]
fn get_object_with_range() {
    let sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    let auth = authorization("host;range;x-amz-content-sha256;x-amz-date", sig);
    let headers = [
        ("Host", HOST),
        ("Authorization", auth.as_str()),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", "20130524T000000Z"),
    ];
    let req = request("GET", "/test.txt", &headers);
    let v = verify_header(&req, &store(), at(EXAMPLE_TIME)).unwrap();
    assert_eq!(v.access_key_id, AK);
    assert_eq!(v.identity, "example-user");
    assert_eq!(v.scope.date, "20130524");
    assert_eq!(v.scope.region, "us-east-1");
    assert_eq!(v.scope.service, "s3");
    assert_eq!(v.timestamp, "20130524T000000Z");
    assert_eq!(v.signed_at, at(EXAMPLE_TIME));
    assert_eq!(v.method, AuthMethod::Header);
    assert_eq!(v.payload_hash, PayloadHash::Sha256(EMPTY_SHA256.to_owned()));
    assert_eq!(v.seed_signature, sig);
    assert_eq!(
        v.signed_headers,
        ["host", "range", "x-amz-content-sha256", "x-amz-date"]
    );
    let theirs = aws_sigv4::sign::v4::generate_signing_key(SK, at(EXAMPLE_TIME), "us-east-1", "s3");
    assert_eq!(&v.signing_key.as_bytes()[..], theirs.as_ref());

    // Any range but the signed one fails; so does a wrong secret.
    let mut changed = headers;
    changed[2].1 = "bytes=0-10";
    let req = request("GET", "/test.txt", &changed);
    assert_eq!(
        verify_header(&req, &store(), at(EXAMPLE_TIME)).unwrap_err(),
        S3AuthError::SignatureDoesNotMatch
    );
    let wrong = keys(&[(AK, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", None, "x")]);
    let req = request("GET", "/test.txt", &headers);
    let err = verify_header(&req, &wrong, at(EXAMPLE_TIME)).unwrap_err();
    assert_eq!(err, S3AuthError::SignatureDoesNotMatch);
    assert_clean(&err, &[SK, sig]);
}

#[test]
fn put_object_path_is_signed_encoded() {
    // AWS sends `PUT test$file.text` and signs the canonical URI `/test%24file.text`: S3
    // re-encodes the path. Either spelling on the wire verifies.
    let sig = "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";
    let auth = authorization(
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        sig,
    );
    let headers = [
        ("Host", HOST),
        ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("Authorization", auth.as_str()),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
    ];
    for path in [
        "/test$file.text",
        "/test%24file.text",
        "/test%24file%2etext",
    ] {
        let req = request("PUT", path, &headers);
        let v = verify_header(&req, &store(), at(EXAMPLE_TIME))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            v.payload_hash,
            PayloadHash::Sha256(
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072".into()
            )
        );
    }
    for path in ["/test%25file.text", "/test$file.txt", "/Test$file.text"] {
        let req = request("PUT", path, &headers);
        assert_eq!(
            verify_header(&req, &store(), at(EXAMPLE_TIME)).unwrap_err(),
            S3AuthError::SignatureDoesNotMatch,
            "{path}"
        );
    }
}

#[test]
fn get_bucket_lifecycle_and_list_objects() {
    let cases = [
        (
            "/?lifecycle",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
        (
            "/?max-keys=2&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
        // The same query in another order is the same canonical query.
        (
            "/?prefix=J&max-keys=2",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ];
    for (target, sig) in cases {
        let auth = authorization("host;x-amz-content-sha256;x-amz-date", sig);
        let req = request(
            "GET",
            target,
            &[
                ("Host", HOST),
                ("x-amz-date", "20130524T000000Z"),
                ("Authorization", &auth),
                ("x-amz-content-sha256", EMPTY_SHA256),
            ],
        );
        let v = verify_request(&req, &store(), at(EXAMPLE_TIME))
            .unwrap_or_else(|e| panic!("{target}: {e}"))
            .unwrap();
        assert_eq!(v.method, AuthMethod::Header);
    }
    // A changed query value fails.
    let auth = authorization(
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    );
    let req = request(
        "GET",
        "/?max-keys=3&prefix=J",
        &[
            ("Host", HOST),
            ("x-amz-date", "20130524T000000Z"),
            ("Authorization", &auth),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ],
    );
    assert_eq!(
        verify_header(&req, &store(), at(EXAMPLE_TIME)).unwrap_err(),
        S3AuthError::SignatureDoesNotMatch
    );
}

const PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[test]
fn presigned_get_object() {
    let req = request("GET", PRESIGNED, &[("Host", HOST)]);
    let v = verify_presigned(&req, &store(), at(EXAMPLE_TIME + 3600)).unwrap();
    assert_eq!(v.payload_hash, PayloadHash::Unsigned);
    assert_eq!(
        v.method,
        AuthMethod::Presigned {
            expires_at: at(EXAMPLE_TIME + 86_400)
        }
    );
    assert_eq!(v.signed_headers, ["host"]);
    assert_eq!(
        v.seed_signature,
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    let via_dispatch = verify_request(&req, &store(), at(EXAMPLE_TIME)).unwrap();
    assert!(via_dispatch.is_some());

    // Valid up to and including the last second; then S3's "Request has expired".
    assert!(verify_presigned(&req, &store(), at(EXAMPLE_TIME + 86_400)).is_ok());
    assert_eq!(
        verify_presigned(&req, &store(), at(EXAMPLE_TIME + 86_401)).unwrap_err(),
        S3AuthError::AccessDenied {
            reason: "Request has expired"
        }
    );
    // Signed in the future beyond the allowed skew.
    let early = at(EXAMPLE_TIME) - Duration::from_secs(16 * 60);
    assert_eq!(
        verify_presigned(&req, &store(), early).unwrap_err(),
        S3AuthError::AccessDenied {
            reason: "Request is not valid yet"
        }
    );
    // Another host, another signature.
    let req = request(
        "GET",
        PRESIGNED,
        &[("Host", "otherbucket.s3.amazonaws.com")],
    );
    assert_eq!(
        verify_presigned(&req, &store(), at(EXAMPLE_TIME)).unwrap_err(),
        S3AuthError::SignatureDoesNotMatch
    );
}

/// 65,536 then 1,024 bytes of `a`, then the final chunk, as in AWS's examples.
fn chunked_body(signatures: [&str; 3], trailer: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (size, sig) in [(65_536usize, signatures[0]), (1024, signatures[1])] {
        body.extend_from_slice(format!("{size:x};chunk-signature={sig}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'a', size));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0;chunk-signature={}\r\n", signatures[2]).as_bytes());
    body.extend_from_slice(trailer.as_bytes());
    body.extend_from_slice(b"\r\n");
    body
}

/// AWS's chunked upload `PUT /examplebucket/chunkObject.txt`, signed over `signed_headers` with
/// `seed`: the examples' common headers with `x-amz-content-sha256: content_sha256`, then `last`.
fn chunked_request(
    signed_headers: &str,
    seed: &str,
    content_sha256: &str,
    last: (&str, &str),
) -> RequestHeader {
    let auth = authorization(signed_headers, seed);
    request(
        "PUT",
        "/examplebucket/chunkObject.txt",
        &[
            ("Host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Authorization", &auth),
            ("x-amz-content-sha256", content_sha256),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            last,
        ],
    )
}

/// Decodes an example's `body` (66,560 bytes of payload) with the chunk chain seeded by what
/// the verifier returned: what the verifier returns is what the chunk chain needs.
fn decode_example(v: &Verified<&str>, body: &[u8], trailer: Option<ChecksumAlgorithm>) -> Vec<u8> {
    let ctx = ChunkSigningContext::new(
        *v.signing_key.as_bytes(),
        v.timestamp.as_str(),
        v.scope.to_scope_string(),
        &v.seed_signature,
    )
    .unwrap();
    let mut decoder = SignedChunkDecoder::new(ctx, 66_560, Output::Decode);
    if let Some(algorithm) = trailer {
        decoder = decoder.with_trailer(algorithm);
    }
    let mut out = decoder.feed(body).unwrap().to_vec();
    out.extend_from_slice(&decoder.finish().unwrap());
    out
}

#[test]
fn chunked_upload_seed_and_chain() {
    let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    let req = chunked_request(
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
         x-amz-decoded-content-length;x-amz-storage-class",
        seed,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        ("Content-Length", "66824"),
    );
    let v = verify_header(&req, &store(), at(EXAMPLE_TIME)).unwrap();
    assert_eq!(v.payload_hash, PayloadHash::StreamingSigned);
    assert_eq!(v.decoded_content_length, Some(66_560));
    assert_eq!(v.seed_signature, seed);

    let body = chunked_body(
        [
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ],
        "",
    );
    assert_eq!(body.len(), 66_824, "the documented Content-Length");
    assert_eq!(decode_example(&v, &body, None), vec![b'a'; 66_560]);
}

#[test]
fn chunked_upload_with_trailer_seed_and_chain() {
    let req = chunked_request(
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;\
         x-amz-storage-class;x-amz-trailer",
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
    );
    let v = verify_header(&req, &store(), at(EXAMPLE_TIME)).unwrap();
    assert_eq!(v.payload_hash, PayloadHash::StreamingSignedTrailer);
    let body = chunked_body(
        [
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
            "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
        ],
        "x-amz-checksum-crc32c:sOO8/Q==\r\n\
         x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
    );
    let out = decode_example(&v, &body, Some(ChecksumAlgorithm::Crc32c));
    assert_eq!(out.len(), 66_560);
}
