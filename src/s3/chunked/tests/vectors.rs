//! AWS's published chunked-upload examples, byte for byte: the Amazon S3 API reference,
//! "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
//! Chunks (Chunked Upload)" (sigv4-streaming.html, "Example: PUT Object") and "... Including
//! Trailing Headers" (sigv4-streaming-trailers.html). The same numbers are in s3s's test suite
//! (s3s 0.14 `sig_v4/methods.rs`, `http/aws_chunked_stream.rs`); the seed signature was also
//! recomputed from the example's canonical request while writing these tests.

use super::super::{ChecksumAlgorithm, Output, SignedChunkDecoder};
use super::{bytewise, client, encode_signed, ours, run, TrailerStyle, AWS_SEED, CLIENT_SECRET};

const CHUNK1_SIG: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
const CHUNK2_SIG: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
const FINAL_SIG: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

/// Seed and chunk signatures of the trailer example (x-amz-trailer: x-amz-checksum-crc32c).
const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
const T_CHUNK1_SIG: &str = "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2";
const T_CHUNK2_SIG: &str = "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7";
const T_FINAL_SIG: &str = "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992";
const T_TRAILER_SIG: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

/// The examples' two data chunks (65,536 then 1,024 bytes of `a`) and the final chunk's header
/// line, signed with `signatures` in that order.
fn example_chunks(signatures: [&str; 3]) -> Vec<u8> {
    let [chunk1, chunk2, last] = signatures;
    let mut body = Vec::new();
    body.extend_from_slice(format!("10000;chunk-signature={chunk1}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 65536]);
    body.extend_from_slice(format!("\r\n400;chunk-signature={chunk2}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 1024]);
    body.extend_from_slice(format!("\r\n0;chunk-signature={last}\r\n").as_bytes());
    body
}

fn aws_example_body() -> Vec<u8> {
    let mut body = example_chunks([CHUNK1_SIG, CHUNK2_SIG, FINAL_SIG]);
    body.extend_from_slice(b"\r\n");
    body
}

fn aws_trailer_example_body(sdk_style: bool) -> Vec<u8> {
    let mut body = example_chunks([T_CHUNK1_SIG, T_CHUNK2_SIG, T_FINAL_SIG]);
    let trailer =
        format!("x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{T_TRAILER_SIG}");
    if sdk_style {
        body.extend_from_slice(format!("{trailer}\r\n\r\n").as_bytes());
    } else {
        body.extend_from_slice(format!("\r\n{trailer}").as_bytes());
    }
    body
}

#[test]
fn put_object_example_decodes() {
    let body = aws_example_body();
    // The example's Content-Length.
    assert_eq!(body.len(), 66824);
    let mut decoder = SignedChunkDecoder::new(client(), 66560, Output::Decode);
    let outcome = run(&mut decoder, [&body[..]]);
    outcome.result.unwrap();
    assert!(outcome.out == vec![b'a'; 66560]);
}

#[test]
fn put_object_example_one_byte_at_a_time() {
    let body = aws_example_body();
    let mut decoder = SignedChunkDecoder::new(client(), 66560, Output::Decode);
    let outcome = run(&mut decoder, bytewise(&body));
    outcome.result.unwrap();
    assert!(outcome.out == vec![b'a'; 66560]);
}

#[test]
fn encoder_reproduces_the_example() {
    // The test encoder (aws-sigv4's sign_chunk) agrees with AWS's published body.
    let a64 = vec![b'a'; 65536];
    let a1 = vec![b'a'; 1024];
    assert_eq!(
        encode_signed(CLIENT_SECRET, AWS_SEED, &[&a64, &a1], None),
        aws_example_body()
    );
}

#[test]
fn resigned_example_keeps_its_length_and_verifies_under_our_key() {
    let body = aws_example_body();
    let mut resign = SignedChunkDecoder::new(client(), 66560, Output::Resign(ours()));
    let outcome = run(&mut resign, [&body[..]]);
    outcome.result.unwrap();
    assert_eq!(outcome.out.len(), body.len());
    assert_ne!(outcome.out, body);

    let mut check = SignedChunkDecoder::new(ours(), 66560, Output::Decode);
    let decoded = run(&mut check, [&outcome.out[..]]);
    decoded.result.unwrap();
    assert!(decoded.out == vec![b'a'; 66560]);
}

#[test]
fn trailer_example_decodes_in_both_layouts() {
    for sdk_style in [false, true] {
        let body = aws_trailer_example_body(sdk_style);
        let ctx = super::context(CLIENT_SECRET, TRAILER_SEED);
        let mut decoder = SignedChunkDecoder::new(ctx, 66560, Output::Decode)
            .with_trailer(ChecksumAlgorithm::Crc32c);
        let outcome = run(&mut decoder, bytewise(&body));
        outcome.result.unwrap();
        assert!(outcome.out == vec![b'a'; 66560]);
        assert_eq!(decoder.verified_checksum(), Some("sOO8/Q=="));
    }
}

#[test]
fn trailer_example_matches_the_encoder() {
    let a64 = vec![b'a'; 65536];
    let a1 = vec![b'a'; 1024];
    let ours = encode_signed(
        CLIENT_SECRET,
        TRAILER_SEED,
        &[&a64, &a1],
        Some((ChecksumAlgorithm::Crc32c, TrailerStyle::Sdk)),
    );
    assert_eq!(ours, aws_trailer_example_body(true));
}

#[test]
fn resigned_trailer_example_verifies_under_our_key() {
    for sdk_style in [false, true] {
        let body = aws_trailer_example_body(sdk_style);
        let ctx = super::context(CLIENT_SECRET, TRAILER_SEED);
        let mut resign = SignedChunkDecoder::new(ctx, 66560, Output::Resign(ours()))
            .with_trailer(ChecksumAlgorithm::Crc32c);
        let outcome = run(&mut resign, [&body[..]]);
        outcome.result.unwrap();
        assert_eq!(outcome.out.len(), body.len());

        let mut check = SignedChunkDecoder::new(ours(), 66560, Output::Decode)
            .with_trailer(ChecksumAlgorithm::Crc32c);
        let decoded = run(&mut check, [&outcome.out[..]]);
        decoded.result.unwrap();
        assert!(decoded.out == vec![b'a'; 66560]);
    }
}
