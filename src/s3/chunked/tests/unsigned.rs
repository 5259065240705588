//! UnsignedTrailerDecoder: every checksum algorithm, both outputs, and that a wrong, missing or
//! cut trailer never lets the last chunk out.

use super::super::checksum::ALL;
use super::super::{ChecksumAlgorithm, ChunkError, UnsignedOutput, UnsignedTrailerDecoder};
use super::{
    assert_every_two_piece_split_decodes, bytewise, checksum_b64, encode_unsigned, max_buffered,
    mutate, pattern, random_split, refs, rfind, run, Rng,
};

fn chunks() -> Vec<Vec<u8>> {
    vec![pattern(65536, 1), pattern(65536, 2), pattern(1000, 3)]
}

const LEN: u64 = 65536 * 2 + 1000;

#[test]
fn every_algorithm_decodes_and_passes_through() {
    let chunks = chunks();
    let payload = chunks.concat();
    let mut rng = Rng::new(5);
    for alg in ALL {
        let body = encode_unsigned(&refs(&chunks), alg);
        for max in [1, 13, 4096, 100_000] {
            let mut d = UnsignedTrailerDecoder::new(alg, LEN);
            let outcome = run(&mut d, random_split(&body, &mut rng, max));
            outcome.result.unwrap();
            assert!(outcome.out == payload, "{alg:?}");
            assert_eq!(
                d.verified_checksum(),
                Some(checksum_b64(alg, &payload).as_str())
            );

            let mut d =
                UnsignedTrailerDecoder::new(alg, LEN).with_output(UnsignedOutput::Passthrough);
            let outcome = run(&mut d, random_split(&body, &mut rng, max));
            outcome.result.unwrap();
            assert!(outcome.out == body, "{alg:?} passthrough");
        }
    }
}

#[test]
fn one_byte_at_a_time() {
    let chunks = [pattern(100, 1), pattern(7, 2)];
    let body = encode_unsigned(&refs(&chunks), ChecksumAlgorithm::Crc32);
    let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, 107);
    let outcome = run(&mut d, bytewise(&body));
    outcome.result.unwrap();
    assert!(outcome.out == chunks.concat());
}

#[test]
fn every_two_piece_split_decodes() {
    let chunks = [pattern(20, 1), pattern(11, 2)];
    let body = encode_unsigned(&refs(&chunks), ChecksumAlgorithm::Sha1);
    assert_every_two_piece_split_decodes(&body, &chunks.concat(), || {
        UnsignedTrailerDecoder::new(ChecksumAlgorithm::Sha1, 31)
    });
}

#[test]
fn non_final_chunks_stream_and_the_last_is_held() {
    let chunks = chunks();
    let body = encode_unsigned(&refs(&chunks), ChecksumAlgorithm::Crc32);
    let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, LEN);
    // Everything but the trailer: the first two chunks are out, the third is held.
    let trailer_at = body.len() - b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".len();
    let out = d.feed(&body[..trailer_at]).unwrap();
    assert_eq!(&out[..], &chunks[..2].concat()[..]);
    let out = d.feed(&body[trailer_at..]).unwrap();
    assert!(out.is_empty());
    assert_eq!(&d.finish().unwrap()[..], &chunks[2][..]);
}

#[test]
fn wrong_checksum_keeps_the_last_chunk() {
    let chunks = chunks();
    for alg in ALL {
        for mode in [UnsignedOutput::Decode, UnsignedOutput::Passthrough] {
            let mut body = encode_unsigned(&refs(&chunks), alg);
            // Same length, other checksum: the checksum of other data.
            let good = checksum_b64(alg, &chunks.concat());
            let bad = checksum_b64(alg, b"other data");
            let at = rfind(&body, good.as_bytes()).unwrap();
            body[at..at + good.len()].copy_from_slice(bad.as_bytes());

            let mut d = UnsignedTrailerDecoder::new(alg, LEN).with_output(mode);
            let outcome = run(&mut d, bytewise(&body));
            let err = outcome.result.unwrap_err();
            assert_eq!(err, ChunkError::ChecksumMismatch { algorithm: alg });
            assert_eq!(err.s3_code(), "BadDigest");
            if mode == UnsignedOutput::Decode {
                assert!(outcome.out == chunks[..2].concat());
            } else {
                assert!(body.starts_with(&outcome.out));
                assert!(outcome.out.len() < body.len() - 1000);
            }
        }
    }
}

#[test]
fn missing_or_unexpected_trailer() {
    let chunks = [pattern(10, 1), pattern(5, 2)];
    let alg = ChecksumAlgorithm::Crc32c;
    let mut head = Vec::new();
    for c in &chunks {
        head.extend_from_slice(format!("{:X}\r\n", c.len()).as_bytes());
        head.extend_from_slice(c);
        head.extend_from_slice(b"\r\n");
    }
    let value = checksum_b64(alg, &chunks.concat());
    let cases: Vec<(String, bool)> = vec![
        // (trailer section after the 0 line, accepted?)
        ("\r\n".to_owned(), false),
        (String::new(), false),
        (format!("x-amz-checksum-crc32:{value}\r\n\r\n"), false),
        (
            format!("x-amz-checksum-crc32c:{value}\r\nx-amz-meta-a:b\r\n\r\n"),
            false,
        ),
        (
            format!("x-amz-checksum-crc32c:{value}\r\nx-amz-checksum-crc32c:{value}\r\n\r\n"),
            false,
        ),
        (format!("x-amz-checksum-crc32c {value}\r\n\r\n"), false),
        (format!("x-amz-checksum-crc32c:{value}\r\n\r"), false),
        (format!("x-amz-checksum-crc32c:{value}\n\n"), false),
        (format!("x-amz-checksum-crc32c:{value}\r\n\r\n"), true),
        (format!("x-amz-checksum-crc32c:{value}\r\n"), true),
        (format!("x-amz-checksum-crc32c:{value}"), true),
        (format!("\r\nX-Amz-Checksum-CRC32C: {value}\r\n\r\n"), true),
    ];
    for (trailer, accepted) in cases {
        let mut body = head.clone();
        body.extend_from_slice(b"0\r\n");
        body.extend_from_slice(trailer.as_bytes());
        let mut d = UnsignedTrailerDecoder::new(alg, 15);
        let outcome = run(&mut d, bytewise(&body));
        if accepted {
            outcome.result.unwrap();
            assert!(outcome.out == chunks.concat());
        } else {
            let err = outcome.result.unwrap_err();
            assert!(
                matches!(
                    err,
                    ChunkError::MalformedTrailer(_) | ChunkError::Malformed(_)
                ),
                "{trailer:?}: {err:?}"
            );
            assert!(outcome.out == chunks[0], "{trailer:?}");
        }
    }
}

#[test]
fn every_truncation_fails_without_releasing_the_end() {
    let chunks = [pattern(300, 1), pattern(50, 2)];
    let body = encode_unsigned(&refs(&chunks), ChecksumAlgorithm::Sha256);
    for cut in 0..body.len() {
        let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Sha256, 350);
        let outcome = run(&mut d, bytewise(&body[..cut]));
        if outcome.result.is_ok() {
            // Only the trailer's final CRLFs may go missing: the checksum was all there.
            assert!(cut >= body.len() - 4, "cut at {cut}");
            continue;
        }
        assert!(outcome.out.len() <= 300, "cut at {cut}");
    }
    let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Sha256, 350);
    assert_eq!(
        run(&mut d, [&body[..320]]).result,
        Err(ChunkError::Truncated)
    );
}

#[test]
fn decoded_length_must_match() {
    let chunks = [pattern(300, 1), pattern(50, 2)];
    let body = encode_unsigned(&refs(&chunks), ChecksumAlgorithm::Crc32);
    let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, 351);
    let outcome = run(&mut d, bytewise(&body));
    assert_eq!(
        outcome.result,
        Err(ChunkError::LengthMismatch {
            expected: 351,
            got: 350
        })
    );
    let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, 349);
    let outcome = run(&mut d, bytewise(&body));
    assert_eq!(
        outcome.result,
        Err(ChunkError::LengthMismatch {
            expected: 349,
            got: 350
        })
    );
    assert!(outcome.out == chunks[0]);
}

#[test]
fn empty_payload() {
    for alg in ALL {
        let body = encode_unsigned(&[], alg);
        let mut d = UnsignedTrailerDecoder::new(alg, 0);
        let outcome = run(&mut d, bytewise(&body));
        outcome.result.unwrap();
        assert!(outcome.out.is_empty());
    }
}

#[test]
fn oversized_chunks_and_lines() {
    let body = encode_unsigned(&[&pattern(2048, 1)], ChecksumAlgorithm::Crc32);
    let mut d =
        UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, 2048).with_max_chunk_size(1024);
    let outcome = run(&mut d, [&body[..]]);
    assert_eq!(
        outcome.result,
        Err(ChunkError::ChunkTooLarge { limit: 1024 })
    );
    assert!(outcome.out.is_empty());

    let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, 2048);
    let outcome = run(&mut d, [&[b'0'; 65][..]]);
    assert!(matches!(
        outcome.result,
        Err(ChunkError::ChunkTooLarge { .. })
    ));

    let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, 1 << 40);
    let outcome = run(&mut d, [&b"FFFFFFFFFFFFFFFF\r\n"[..]]);
    assert!(matches!(
        outcome.result,
        Err(ChunkError::ChunkTooLarge { .. })
    ));
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng::new(4242);
    for _ in 0..500 {
        let len = rng.below(300);
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                let alphabet = b"0123456789ABCDEF\r\n:x-amz-checksum-crc32";
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        for alg in ALL {
            let mut d = UnsignedTrailerDecoder::new(alg, rng.below(50) as u64);
            let outcome = run(&mut d, random_split(&garbage, &mut rng, 9));
            assert!(outcome.result.is_err());
        }
    }
}

#[test]
fn mutated_bodies_never_decode_to_something_else() {
    let chunks = [pattern(700, 1), pattern(300, 2)];
    let body = encode_unsigned(&refs(&chunks), ChecksumAlgorithm::Sha256);
    let mut rng = Rng::new(77);
    for _ in 0..1000 {
        let mutated = mutate(&body, &mut rng);
        let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Sha256, 1000);
        let outcome = run(&mut d, random_split(&mutated, &mut rng, 50));
        if outcome.result.is_ok() {
            assert!(outcome.out == chunks.concat());
        } else {
            // Unsigned chunks stream as they come (a bigger first size lets framing bytes
            // through as data), but never the full declared length.
            assert!(outcome.out.len() < 1000);
        }
    }
}

#[test]
fn buffering_stays_within_one_chunk() {
    let chunks = chunks();
    let body = encode_unsigned(&refs(&chunks), ChecksumAlgorithm::Crc32);
    for mode in [UnsignedOutput::Decode, UnsignedOutput::Passthrough] {
        let mut d = UnsignedTrailerDecoder::new(ChecksumAlgorithm::Crc32, LEN).with_output(mode);
        let max = max_buffered(&mut d, &body, 777);
        // Only the final 1000-byte chunk is ever buffered.
        assert!(max <= 1000 + 512, "buffered {max}");
    }
}
