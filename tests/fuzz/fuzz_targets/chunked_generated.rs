//! The aws-chunked decoders on bodies built by a generator of valid bodies
//! (`bucketgate_fuzz::chunked_ref::Generated`: any payload, any chunking, hex sizes in either
//! case with leading zeros, signatures in either case, every trailer spelling the format
//! allows), signed under a known key so the signed decoders get past their signature checks.
//!
//! Properties:
//! - every generated body is accepted, by the reference and by bucketgate in both output modes,
//!   with exactly the generated payload, however it is cut into pieces;
//! - then up to three mutations (flip, insert, delete, cut) and the differential check of
//!   `bucketgate_fuzz::chunked_check::check` on the result.
#![no_main]

use bucketgate_fuzz::chunked_ref::{self, Generated, TrailerStyle};
use bucketgate_fuzz::{chunked_check, pieces, Bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static SELF_TEST: std::sync::Once = std::sync::Once::new();
    SELF_TEST.call_once(chunked_ref::self_test);

    let mut input = Bytes::new(data);
    let mut case = chunked_check::case_from(&mut input);
    case.max_chunk = bucketgate::s3::chunked::DEFAULT_MAX_CHUNK_SIZE;

    // The payload: up to 4 KiB, its first bytes from the input, the rest a pattern.
    let len = input.below(4097);
    let seed = input.take(64);
    let payload: Vec<u8> = (0..len)
        .map(|i| seed.get(i).copied().unwrap_or((i as u8).wrapping_mul(31)))
        .collect();
    let mut chunks = Vec::new();
    let mut left = len;
    while left > 0 {
        let size = if input.is_empty() {
            left
        } else {
            1 + input.below(left)
        };
        chunks.push(size);
        left -= size;
    }
    let hex_style = (0..1 + input.below(4))
        .map(|_| (input.bool(), input.u8() % 17))
        .collect();
    let style = input.u8();
    let pad = input.u8();
    let generated = Generated {
        payload,
        chunks,
        hex_style,
        upper_signatures: style & 1 != 0,
        trailer: TrailerStyle {
            blank_before: style & 2 != 0,
            final_crlf: style & 4 == 0,
            upper_names: style & 8 != 0,
            pad: (pad & 0x0f, pad >> 4),
            signature_first: style & 16 != 0,
        },
    };
    case.expected = generated.payload.len() as u64;
    let client = chunked_check::client();
    let body = generated.encode(&case.spec(&client));

    let cut_count = input.below(16);
    let cut_bytes = input.take(cut_count);

    // Valid as generated: the reference and bucketgate both take it, exactly.
    assert_eq!(
        chunked_ref::decode(&body, &case.spec(&client)).as_deref(),
        Ok(&generated.payload[..]),
        "the reference refuses a generated body: {case:?}"
    );
    let got = chunked_check::check(&case, &body, &pieces(&body, &mut Bytes::new(cut_bytes)));
    assert_eq!(got.as_deref(), Some(&generated.payload[..]));

    // Then mutated.
    let mutations = input.below(4);
    if mutations == 0 {
        return;
    }
    let mut mutated = body;
    for _ in 0..mutations {
        let at = input.below(mutated.len() + 1);
        match input.below(4) {
            0 if at < mutated.len() => mutated[at] ^= input.u8().max(1),
            1 => mutated.insert(at, input.u8()),
            2 if at < mutated.len() => {
                mutated.remove(at);
            }
            _ => mutated.truncate(at),
        }
    }
    chunked_check::check(
        &case,
        &mutated,
        &pieces(&mutated, &mut Bytes::new(cut_bytes)),
    );
});
