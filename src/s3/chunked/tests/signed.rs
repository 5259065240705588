//! SignedChunkDecoder: decoding and re-signing in every split, and that no tampered, forged,
//! truncated or oversized body ever gets its last chunk released.

use super::super::{
    ChecksumAlgorithm, ChunkError, ChunkSigningContext, Output, SignedChunkDecoder,
};
use super::{
    assert_every_two_piece_split_decodes, bytewise, client, encode_signed, find, max_buffered,
    mutate, ours, pattern, random_split, refs, rfind, run, Rng, TrailerStyle, AWS_SEED,
    CLIENT_SECRET, OUR_SECRET, OUR_SEED,
};

fn chunks() -> Vec<Vec<u8>> {
    vec![pattern(8192, 1), pattern(8192, 2), pattern(100, 3)]
}

fn total(chunks: &[Vec<u8>]) -> u64 {
    chunks.iter().map(|c| c.len() as u64).sum()
}

const TRAILERS: [Option<(ChecksumAlgorithm, TrailerStyle)>; 3] = [
    None,
    Some((ChecksumAlgorithm::Crc32, TrailerStyle::Sdk)),
    Some((ChecksumAlgorithm::Sha256, TrailerStyle::Docs)),
];

/// A decoder of a body signed under the client's key.
fn decoder(
    len: u64,
    mode: Output,
    trailer: Option<(ChecksumAlgorithm, TrailerStyle)>,
) -> SignedChunkDecoder {
    decoder_under(client(), len, mode, trailer)
}

/// A decoder of a body signed under `ctx`.
fn decoder_under(
    ctx: ChunkSigningContext,
    len: u64,
    mode: Output,
    trailer: Option<(ChecksumAlgorithm, TrailerStyle)>,
) -> SignedChunkDecoder {
    let d = SignedChunkDecoder::new(ctx, len, mode);
    match trailer {
        Some((alg, _)) => d.with_trailer(alg),
        None => d,
    }
}

#[test]
fn decodes_in_any_split() {
    let chunks = chunks();
    let payload = chunks.concat();
    let mut rng = Rng::new(7);
    for trailer in TRAILERS {
        let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), trailer);
        let mut d = decoder(total(&chunks), Output::Decode, trailer);
        let outcome = run(&mut d, bytewise(&body));
        outcome.result.unwrap();
        assert!(outcome.out == payload);
        for max in [1, 7, 100, 5000, 20000] {
            let mut d = decoder(total(&chunks), Output::Decode, trailer);
            let outcome = run(&mut d, random_split(&body, &mut rng, max));
            outcome.result.unwrap();
            assert!(outcome.out == payload);
        }
    }
}

#[test]
fn every_two_piece_split_decodes() {
    let chunks = [pattern(10, 1), pattern(3, 2)];
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    assert_every_two_piece_split_decodes(&body, &chunks.concat(), || {
        decoder(13, Output::Decode, None)
    });
}

#[test]
fn resign_matches_a_body_signed_by_us() {
    let chunks = chunks();
    let mut rng = Rng::new(11);
    for trailer in TRAILERS {
        let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), trailer);
        let expected = encode_signed(OUR_SECRET, OUR_SEED, &refs(&chunks), trailer);
        let mut d = decoder(total(&chunks), Output::Resign(ours()), trailer);
        let outcome = run(&mut d, random_split(&body, &mut rng, 3000));
        outcome.result.unwrap();
        // Exactly what signing the same chunks under our key gives: same length, our chain.
        assert_eq!(outcome.out.len(), body.len());
        assert!(outcome.out == expected);

        // And it verifies under our context.
        let mut check = decoder_under(ours(), total(&chunks), Output::Decode, trailer);
        let decoded = run(&mut check, [&outcome.out[..]]);
        decoded.result.unwrap();
        assert!(decoded.out == chunks.concat());
    }
}

#[test]
fn resign_does_not_verify_under_the_client_key() {
    let chunks = chunks();
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    let mut d = decoder(total(&chunks), Output::Resign(ours()), None);
    let resigned = run(&mut d, [&body[..]]);
    resigned.result.unwrap();
    let mut check = decoder(total(&chunks), Output::Decode, None);
    let outcome = run(&mut check, [&resigned.out[..]]);
    assert_eq!(
        outcome.result,
        Err(ChunkError::SignatureMismatch { chunk_index: 0 })
    );
    assert!(outcome.out.is_empty());
}

#[test]
fn flipped_data_byte_is_never_released() {
    let chunks = chunks();
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    // Flip one data byte in each chunk in turn.
    let mut data_start = 0;
    for (index, chunk) in chunks.iter().enumerate() {
        let header_len = body[data_start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap()
            + 2;
        let at = data_start + header_len + chunk.len() / 2;
        let mut tampered = body.clone();
        tampered[at] ^= 0x01;
        for split in [1usize, 4096, body.len()] {
            for mode in [Output::Decode, Output::Resign(ours())] {
                let resign = matches!(mode, Output::Resign(_));
                let mut d = decoder(total(&chunks), mode, None);
                let outcome = run(&mut d, tampered.chunks(split));
                assert_eq!(
                    outcome.result,
                    Err(ChunkError::SignatureMismatch {
                        chunk_index: index as u64
                    })
                );
                // Only (some of) the chunks before the tampered one came out: all of them
                // when fed byte by byte; the output of the piece that failed is dropped.
                let good = if resign {
                    let all = encode_signed(OUR_SECRET, OUR_SEED, &refs(&chunks), None);
                    all[..data_start].to_vec()
                } else {
                    chunks[..index].concat()
                };
                assert!(good.starts_with(&outcome.out));
                if split == 1 {
                    assert!(outcome.out == good);
                }
            }
        }
        data_start += header_len + chunk.len() + 2;
    }
}

#[test]
fn forged_final_signature_keeps_the_last_chunk() {
    let chunks = chunks();
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    let at = rfind(&body, b"0;chunk-signature=").unwrap() + "0;chunk-signature=".len();
    let mut forged = body.clone();
    forged[at] = if forged[at] == b'0' { b'1' } else { b'0' };
    for split in [1usize, 10, body.len()] {
        let mut d = decoder(total(&chunks), Output::Decode, None);
        let outcome = run(&mut d, forged.chunks(split));
        assert_eq!(
            outcome.result,
            Err(ChunkError::SignatureMismatch { chunk_index: 3 })
        );
        assert!(chunks[..2].concat().starts_with(&outcome.out));
        if split == 1 {
            assert!(outcome.out == chunks[..2].concat());
        }
        assert_eq!(
            outcome.result.unwrap_err().s3_code(),
            "SignatureDoesNotMatch"
        );
    }
}

#[test]
fn every_truncation_fails_without_releasing_the_end() {
    let chunks = [pattern(300, 1), pattern(200, 2), pattern(50, 3)];
    for trailer in TRAILERS {
        for mode in [Output::Decode, Output::Resign(ours())] {
            let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), trailer);
            let full = if matches!(mode, Output::Decode) {
                550
            } else {
                body.len()
            };
            // The Docs layout has no final CRLF: its last cut point is a shorter signature.
            for cut in 0..body.len() {
                let mut d = decoder(550, mode.clone(), trailer);
                let outcome = run(&mut d, bytewise(&body[..cut]));
                if outcome.result.is_ok() {
                    // Only the trailer's final CRLFs may go missing (the documented layout
                    // has none): everything was there and verified.
                    let sig_end = rfind(&body, b"x-amz-trailer-signature:").map(|at| at + 88);
                    assert!(sig_end.is_some_and(|end| cut >= end), "cut at {cut}");
                    continue;
                }
                assert!(
                    outcome.out.len() < full,
                    "cut at {cut}: everything released"
                );
                assert!(outcome.out.len() <= full - 50);
            }
        }
    }
    // Cut before the final chunk: Truncated.
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    let mut d = decoder(550, Output::Decode, None);
    let outcome = run(&mut d, [&body[..400]]);
    assert_eq!(outcome.result, Err(ChunkError::Truncated));
    assert_eq!(ChunkError::Truncated.s3_code(), "IncompleteBody");
    // Cut right after the final chunk's header line, before its CRLF: Truncated too.
    let mut d = decoder(550, Output::Decode, None);
    let outcome = run(&mut d, [&body[..body.len() - 2]]);
    assert_eq!(outcome.result, Err(ChunkError::Truncated));
}

#[test]
fn decoded_length_must_match() {
    let chunks = chunks();
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    let n = total(&chunks);

    let mut d = decoder(n + 1, Output::Decode, None);
    let outcome = run(&mut d, bytewise(&body));
    let err = outcome.result.unwrap_err();
    assert_eq!(
        err,
        ChunkError::LengthMismatch {
            expected: n + 1,
            got: n
        }
    );
    assert_eq!(err.s3_code(), "IncompleteBody");
    // The last chunk was not held (it did not complete the declared length), so all of it
    // went out; the upstream, told n + 1 bytes, still waits for one more.
    assert!(outcome.out == chunks.concat());

    let mut d = decoder(n - 1, Output::Decode, None);
    let outcome = run(&mut d, bytewise(&body));
    let err = outcome.result.unwrap_err();
    assert_eq!(
        err,
        ChunkError::LengthMismatch {
            expected: n - 1,
            got: n
        }
    );
    assert_eq!(err.s3_code(), "InvalidRequest");
    assert!(outcome.out == chunks[..2].concat());
}

#[test]
fn empty_payload() {
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &[], None);
    let mut d = decoder(0, Output::Decode, None);
    let outcome = run(&mut d, bytewise(&body));
    outcome.result.unwrap();
    assert!(outcome.out.is_empty());

    let mut d = decoder(0, Output::Resign(ours()), None);
    let outcome = run(&mut d, [&body[..]]);
    outcome.result.unwrap();
    assert!(outcome.out == encode_signed(OUR_SECRET, OUR_SEED, &[], None));
}

#[test]
fn oversized_chunks_and_lines() {
    let big = pattern(4096, 9);
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &[&big], None);
    let mut d = SignedChunkDecoder::new(client(), 4096, Output::Decode).with_max_chunk_size(4095);
    let outcome = run(&mut d, bytewise(&body));
    let err = outcome.result.unwrap_err();
    assert_eq!(err, ChunkError::ChunkTooLarge { limit: 4095 });
    assert_eq!(err.s3_code(), "InvalidRequest");
    assert!(outcome.out.is_empty());

    // Exactly at the limit is fine.
    let mut d = SignedChunkDecoder::new(client(), 4096, Output::Decode).with_max_chunk_size(4096);
    run(&mut d, [&body[..]]).result.unwrap();

    // A header line that never ends.
    let mut d = SignedChunkDecoder::new(client(), 4096, Output::Decode);
    let outcome = run(&mut d, std::iter::repeat_n(&b"1"[..], 1000));
    assert!(matches!(
        outcome.result,
        Err(ChunkError::ChunkTooLarge { .. })
    ));

    // A size over the default 16 MiB.
    let mut d = SignedChunkDecoder::new(client(), 1 << 30, Output::Decode);
    let line = format!("1000001;chunk-signature={}\r\n", "0".repeat(64));
    let outcome = run(&mut d, [line.as_bytes()]);
    assert_eq!(
        outcome.result,
        Err(ChunkError::ChunkTooLarge {
            limit: super::super::DEFAULT_MAX_CHUNK_SIZE
        })
    );
}

#[test]
fn bytes_after_the_end_are_refused() {
    let chunks = chunks();
    let mut body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    body.extend_from_slice(b"x");
    let mut d = decoder(total(&chunks), Output::Decode, None);
    let outcome = run(&mut d, bytewise(&body));
    assert!(matches!(outcome.result, Err(ChunkError::Malformed(_))));
    assert!(outcome.out == chunks[..2].concat());

    // And feeding after a successful finish.
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    let mut d = decoder(total(&chunks), Output::Decode, None);
    run(&mut d, [&body[..]]).result.unwrap();
    assert!(d.feed(b"").unwrap().is_empty());
    assert!(d.finish().unwrap().is_empty());
    assert!(matches!(d.feed(b"0"), Err(ChunkError::Malformed(_))));
}

#[test]
fn trailer_forged_signature_or_wrong_checksum_keeps_the_end() {
    let chunks = chunks();
    let alg = ChecksumAlgorithm::Crc32;
    let body = encode_signed(
        CLIENT_SECRET,
        AWS_SEED,
        &refs(&chunks),
        Some((alg, TrailerStyle::Sdk)),
    );

    let trailer_decoder = || {
        decoder(
            total(&chunks),
            Output::Decode,
            Some((alg, TrailerStyle::Sdk)),
        )
    };

    // Forged trailer signature.
    let at = find(&body, b"x-amz-trailer-signature:").unwrap() + "x-amz-trailer-signature:".len();
    let mut forged = body.clone();
    forged[at] = if forged[at] == b'0' { b'1' } else { b'0' };
    let mut d = trailer_decoder();
    let outcome = run(&mut d, bytewise(&forged));
    assert_eq!(outcome.result, Err(ChunkError::TrailerSignatureMismatch));
    assert!(outcome.out == chunks[..2].concat());

    // A wrong checksum, correctly signed: BadDigest.
    let final_at = rfind(&body, b"0;chunk-signature=").unwrap() + "0;chunk-signature=".len();
    let previous = String::from_utf8(body[final_at..final_at + 64].to_vec()).unwrap();
    let wrong = "AAAAAA==";
    let canonical = format!("x-amz-checksum-crc32:{wrong}\n");
    let sig = super::trailer_signature(CLIENT_SECRET, &previous, &canonical);
    let head = &body[..find(&body, b"x-amz-checksum-crc32:").unwrap()];
    let bad = [
        head,
        format!("x-amz-checksum-crc32:{wrong}\r\nx-amz-trailer-signature:{sig}\r\n\r\n").as_bytes(),
    ]
    .concat();
    let mut d = trailer_decoder();
    let outcome = run(&mut d, bytewise(&bad));
    let err = outcome.result.unwrap_err();
    assert_eq!(err, ChunkError::ChecksumMismatch { algorithm: alg });
    assert_eq!(err.s3_code(), "BadDigest");
    assert!(outcome.out == chunks[..2].concat());

    // No trailer at all.
    let bare = [head, b"\r\n"].concat();
    let mut d = trailer_decoder();
    let outcome = run(&mut d, bytewise(&bare));
    let err = outcome.result.unwrap_err();
    assert!(matches!(err, ChunkError::MalformedTrailer(_)));
    assert_eq!(err.s3_code(), "MalformedTrailerError");
    assert!(outcome.out == chunks[..2].concat());

    // The checksum without its signature.
    let unsigned = [
        head,
        format!("x-amz-checksum-crc32:{wrong}\r\n\r\n").as_bytes(),
    ]
    .concat();
    let mut d = trailer_decoder();
    let outcome = run(&mut d, [&unsigned[..]]);
    assert!(matches!(
        outcome.result,
        Err(ChunkError::MalformedTrailer(_))
    ));

    // A trailer in a body that announced none.
    let mut d = decoder(total(&chunks), Output::Decode, None);
    let outcome = run(&mut d, bytewise(&body));
    assert!(matches!(outcome.result, Err(ChunkError::Malformed(_))));
    assert!(outcome.out == chunks[..2].concat());
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng::new(99);
    for round in 0..300 {
        let len = rng.below(400);
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                // Mostly framing characters, so the parser gets somewhere.
                let pick = rng.below(8);
                b"0123456789abcdef;=\r\n-chunksignature"
                    .get(if pick < 6 { rng.below(36) } else { 0 })
                    .copied()
                    .unwrap_or(0)
                    ^ if pick == 7 { rng.next() as u8 } else { 0 }
            })
            .collect();
        for trailer in TRAILERS {
            let mut d = decoder(rng.below(100) as u64, Output::Decode, trailer);
            let outcome = run(&mut d, random_split(&garbage, &mut rng, 17));
            assert!(outcome.result.is_err(), "round {round}: garbage accepted");
        }
    }
}

#[test]
fn mutated_bodies_never_decode_to_something_else() {
    let chunks = [pattern(700, 1), pattern(300, 2)];
    let mut rng = Rng::new(2024);
    for trailer in TRAILERS {
        let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), trailer);
        for _ in 0..300 {
            let mutated = mutate(&body, &mut rng);
            let mut d = decoder(1000, Output::Decode, trailer);
            let outcome = run(&mut d, random_split(&mutated, &mut rng, 64));
            if outcome.result.is_ok() {
                // Only harmless edits (say, a signature digit's case) may pass.
                assert!(outcome.out == chunks.concat());
            } else {
                assert!(outcome.out.len() <= 700);
            }
        }
    }
}

#[test]
fn buffering_stays_within_one_chunk() {
    let chunks = [pattern(65536, 1), pattern(65536, 2), pattern(10, 3)];
    let body = encode_signed(CLIENT_SECRET, AWS_SEED, &refs(&chunks), None);
    for mode in [Output::Decode, Output::Resign(ours())] {
        let mut d = decoder(131_082, mode, None);
        let max = max_buffered(&mut d, &body, 1000);
        assert!(max <= 65536 + 256, "buffered {max}");
        assert!(max >= 65536 - 1000);
    }
}
