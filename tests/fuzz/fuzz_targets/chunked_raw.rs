//! The aws-chunked decoders (`s3::chunked`: `UnsignedTrailerDecoder` for
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, `SignedChunkDecoder` for
//! `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`) on arbitrary bodies, split into arbitrary
//! pieces, against the reference decoder of `bucketgate_fuzz::chunked_ref`.
//!
//! Input: a config byte (kind, trailer algorithm, maybe a tiny chunk limit), the declared
//! decoded length, how the body is cut, then the body. Properties: see
//! `bucketgate_fuzz::chunked_check::check` (no panic, same decision and payload as the
//! reference, mirroring keeps the length and verifies, nothing complete released before a
//! refusal).
#![no_main]

use bucketgate_fuzz::{chunked_check, chunked_ref, pieces, Bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static SELF_TEST: std::sync::Once = std::sync::Once::new();
    SELF_TEST.call_once(chunked_ref::self_test);

    let mut input = Bytes::new(data);
    let mut case = chunked_check::case_from(&mut input);
    case.expected = u64::from(input.u8());
    let cut_count = input.below(16);
    let mut cuts = Bytes::new(input.take(cut_count));
    let body = input.rest();
    let pieces = pieces(body, &mut cuts);
    chunked_check::check(&case, body, &pieces);
});
