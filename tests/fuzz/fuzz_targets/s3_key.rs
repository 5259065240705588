//! Key decoding (`s3::key::decode_key`, `check_key`): the part of a client's URL path after a
//! route's prefix, as raw bytes from the request line.
//!
//! Properties:
//! - no panic, for both `allow_encoded_slash` settings;
//! - a reference decoder written here from the documented rules agrees exactly: same
//!   accept/refuse decision, same key;
//! - an accepted key passes `check_key`, and survives the trip to the upstream: its
//!   `encode_key_path` spelling decodes back to the same key;
//! - refusing `%2F` only ever turns an accepted key into a refusal, never changes it.
#![no_main]

use bucketgate::s3::encode_key_path;
use bucketgate::s3::key::{check_key, decode_key, MAX_KEY_BYTES};
use libfuzzer_sys::fuzz_target;

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// One round of percent-decoding; `strict`: a `%` without two hex digits is an error,
/// otherwise it stays literal.
fn percent_decode(s: &[u8], strict: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            match (
                s.get(i + 1).and_then(|&b| hex(b)),
                s.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ if strict => return None,
                _ => {}
            }
        }
        out.push(s[i]);
        i += 1;
    }
    Some(out)
}

fn dot_segment(s: &[u8]) -> bool {
    s.split(|&b| b == b'/' || b == b'\\')
        .any(|seg| seg == b"." || seg == b"..")
}

/// The rules of `src/s3/key.rs`'s documentation, as plainly as possible.
fn reference(raw: &str, allow_encoded_slash: bool) -> Option<String> {
    let bytes = raw.as_bytes();
    if !allow_encoded_slash {
        // `%2F` in either case, as an escape (not as the tail of `%%2F`... which is malformed
        // anyway): look at each real escape.
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                if bytes.get(i + 1) == Some(&b'2') && matches!(bytes.get(i + 2), Some(b'f' | b'F'))
                {
                    return None;
                }
                i += 3;
            } else {
                i += 1;
            }
        }
    }
    let decoded = percent_decode(bytes, true)?;
    let key = String::from_utf8(decoded).ok()?;
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return None;
    }
    if key.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    // No dot segment now, nor after up to eight more rounds of decoding.
    let mut current = key.as_bytes().to_vec();
    for _ in 0..=8 {
        if dot_segment(&current) {
            return None;
        }
        let next = percent_decode(&current, false).unwrap_or_default();
        if next == current {
            break;
        }
        current = next;
    }
    Some(key)
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let strict = decode_key(raw, false);
    let lax = decode_key(raw, true);
    for (got, allow) in [(&strict, false), (&lax, true)] {
        let want = reference(raw, allow);
        assert_eq!(
            got.as_ref().ok(),
            want.as_ref(),
            "decode_key({raw:?}, {allow}) = {got:?}, the reference says {want:?}"
        );
        if let Ok(key) = got {
            assert_eq!(check_key(key), Ok(()), "{key:?}");
            let upstream = encode_key_path(key);
            assert_eq!(
                decode_key(&upstream, true).as_ref(),
                Ok(key),
                "{key:?} sent upstream as {upstream:?}"
            );
        }
    }
    if let Ok(key) = &strict {
        assert_eq!(lax.as_ref(), Ok(key));
    }
    // check_key on the raw text as if already decoded (rewrite rules call it so).
    let _ = check_key(raw);
});
