//! Object-key decoding and safety checks.
//!
//! The part of the client's URL path after a route's prefix becomes an S3 object key. It is
//! percent-decoded exactly once here (then re-encoded for the upstream by
//! [`crate::s3::encode_key_path`]), and rejected when it could escape the route or confuse a
//! backend: `.`/`..` segments (also via `\`, encoded dots and double encoding), encoded slashes,
//! control characters, invalid UTF-8, malformed escapes and over-long keys. S3 keys are otherwise
//! literal: `a//b` is a valid key distinct from `a/b`, and `+` in a path is a plus, not a space.

use std::fmt;

/// S3's maximum key length, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// How many extra rounds of percent-decoding [`check_key`] tries when looking for hidden dot
/// segments. Two would cover a backend that decodes twice; a few more cost nothing.
const REDECODE_ROUNDS: usize = 8;

/// Why a path cannot be used as an object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Nothing left after decoding.
    Empty,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// The decoded bytes are not UTF-8 (including overlong forms such as `%c0%ae`).
    InvalidUtf8,
    /// A byte 0x00-0x1F or 0x7F.
    ControlCharacter,
    /// A `.` or `..` segment, directly, through `\`, or once decoded again.
    DotSegment,
    /// `%2F` inside a segment while the route does not allow it.
    EncodedSlash,
    /// More than [`MAX_KEY_BYTES`] bytes once decoded.
    TooLong,
}

impl KeyError {
    /// Short human text for a 400 response body.
    pub fn message(&self) -> &'static str {
        match self {
            KeyError::Empty => "object key is empty",
            KeyError::BadPercentEncoding => "path contains a malformed percent-escape",
            KeyError::InvalidUtf8 => "path does not decode to valid UTF-8",
            KeyError::ControlCharacter => "path contains a control character",
            KeyError::DotSegment => "path contains a '.' or '..' segment",
            KeyError::EncodedSlash => "path contains an encoded slash (%2F)",
            KeyError::TooLong => "object key is longer than 1024 bytes",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for KeyError {}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` exactly once and validates the result with [`check_key`].
///
/// `allow_encoded_slash`: whether `%2F`/`%2f` is accepted (it then becomes `/`, a segment
/// separator for S3). Raw non-ASCII UTF-8 is accepted as is; `+` stays `+`.
pub fn decode_key(raw: &str, allow_encoded_slash: bool) -> Result<String, KeyError> {
    if raw.is_empty() {
        return Err(KeyError::Empty);
    }
    // Each decoded byte comes from at most three input bytes.
    if raw.len() > 3 * MAX_KEY_BYTES {
        return Err(KeyError::TooLong);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(KeyError::BadPercentEncoding);
            };
            let decoded = hi << 4 | lo;
            if decoded == b'/' && !allow_encoded_slash {
                return Err(KeyError::EncodedSlash);
            }
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let key = String::from_utf8(out).map_err(|_| KeyError::InvalidUtf8)?;
    check_key(&key)?;
    Ok(key)
}

/// Validates an already decoded key (also used after rewrite rules run): non-empty, at most
/// 1024 bytes, no control characters (0x00-0x1F, 0x7F), no `.` or `..` segment (segments split
/// on `/` and `\`), and no segment that becomes `.` or `..` when percent-decoded again, up to
/// eight more times (so `%252e%252e` and `%25252e%25252e` are both rejected).
pub fn check_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong);
    }
    let bytes = key.as_bytes();
    if bytes.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(KeyError::ControlCharacter);
    }
    if has_dot_segment(bytes) {
        return Err(KeyError::DotSegment);
    }
    // A backend (or anything between us and it) that decodes again must not find one either.
    let mut current = bytes.to_vec();
    for _ in 0..REDECODE_ROUNDS {
        if !current.contains(&b'%') {
            break;
        }
        let next = decode_lenient(&current);
        if next.len() == current.len() {
            break; // nothing decodable left
        }
        if has_dot_segment(&next) {
            return Err(KeyError::DotSegment);
        }
        current = next;
    }
    Ok(())
}

/// Whether any segment, splitting on `/` and `\`, is exactly `.` or `..`.
fn has_dot_segment(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| b == b'/' || b == b'\\')
        .any(|seg| seg == b"." || seg == b"..")
}

/// One round of percent-decoding where malformed escapes stay literal.
fn decode_lenient(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::encode_key_path;

    const HOSTILE: &str = include_str!("../../tests/data/hostile_paths.txt");

    fn hostile_lines() -> Vec<&'static str> {
        HOSTILE
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    }

    #[test]
    fn hostile_paths_are_rejected() {
        let lines = hostile_lines();
        assert!(lines.len() >= 60, "only {} hostile paths", lines.len());
        let mut seen = std::collections::HashSet::new();
        for line in &lines {
            assert!(seen.insert(*line), "duplicate hostile path {line:?}");
            // Sendable on an HTTP/1.1 request line.
            assert!(
                line.bytes().all(|b| b > 0x20 && b < 0x7f),
                "not request-line safe: {line:?}"
            );
            assert!(
                decode_key(line, false).is_err(),
                "accepted hostile path {line:?} as {:?}",
                decode_key(line, false)
            );
        }
    }

    #[test]
    fn hostile_paths_cover_every_error() {
        let mut kinds: Vec<KeyError> = hostile_lines()
            .iter()
            .filter_map(|l| decode_key(l, false).err())
            .collect();
        kinds.dedup();
        for want in [
            KeyError::BadPercentEncoding,
            KeyError::InvalidUtf8,
            KeyError::ControlCharacter,
            KeyError::DotSegment,
            KeyError::EncodedSlash,
            KeyError::TooLong,
        ] {
            assert!(kinds.contains(&want), "no hostile path gives {want:?}");
        }
    }

    #[test]
    fn good_keys_round_trip() {
        let good = [
            ("plain.txt", "plain.txt"),
            ("dir/sub/file.bin", "dir/sub/file.bin"),
            ("100%25.txt", "100%.txt"),
            ("a%20b", "a b"),
            ("a+b", "a+b"),
            ("a%2Bb", "a+b"),
            ("(1)!~", "(1)!~"),
            ("%281%29%21%7E", "(1)!~"),
            ("caf%C3%A9", "café"),
            ("café", "café"),
            ("%F0%9F%98%80.png", "😀.png"),
            ("日本語/キー", "日本語/キー"),
            ("a//b", "a//b"),
            ("dir/", "dir/"),
            ("/leading", "/leading"),
            ("...", "..."),
            ("a..b", "a..b"),
            (".hidden", ".hidden"),
            ("..hidden", "..hidden"),
            ("dir/.../x", "dir/.../x"),
            ("trailing.", "trailing."),
            ("%2e%2e%2e", "..."),
            ("a%5cb", "a\\b"),
            ("a\\b", "a\\b"),
            ("%25", "%"),
            ("%2525", "%25"),
            ("%25zz", "%zz"),
            ("a;b=c,d@e$f&g'h*i", "a;b=c,d@e$f&g'h*i"),
            ("%3F%23", "?#"),
        ];
        assert!(good.len() >= 20);
        for (raw, want) in good {
            assert_eq!(decode_key(raw, false).as_deref(), Ok(want), "{raw:?}");
            assert_eq!(decode_key(raw, true).as_deref(), Ok(want), "{raw:?}");
            // Our own upstream encoding decodes back to the same key.
            let encoded = encode_key_path(want);
            assert_eq!(
                decode_key(&encoded, false).as_deref(),
                Ok(want),
                "{encoded:?}"
            );
            assert_eq!(check_key(want), Ok(()));
        }
        // Control characters are never good.
        assert_eq!(decode_key("%09", false), Err(KeyError::ControlCharacter));
        // A key of exactly 1024 bytes is fine.
        let max = "k".repeat(MAX_KEY_BYTES);
        assert_eq!(decode_key(&max, false).as_deref(), Ok(max.as_str()));
        let max_enc = "%6B".repeat(MAX_KEY_BYTES);
        assert_eq!(decode_key(&max_enc, false).as_deref(), Ok(max.as_str()));
    }

    #[test]
    fn encoded_slash_when_allowed() {
        assert_eq!(decode_key("a%2fb", false), Err(KeyError::EncodedSlash));
        assert_eq!(decode_key("a%2Fb", true).as_deref(), Ok("a/b"));
        assert_eq!(decode_key("a%2f..%2fb", true), Err(KeyError::DotSegment));
        assert_eq!(decode_key("%2f", true).as_deref(), Ok("/"));
    }

    #[test]
    fn specific_errors() {
        let cases = [
            ("", KeyError::Empty),
            ("..", KeyError::DotSegment),
            (".", KeyError::DotSegment),
            ("a/./b", KeyError::DotSegment),
            ("a/..", KeyError::DotSegment),
            ("%2e%2E", KeyError::DotSegment),
            ("..%5c", KeyError::DotSegment),
            ("a\\..\\b", KeyError::DotSegment),
            ("%252e%252e", KeyError::DotSegment),
            ("%25252e%25252e", KeyError::DotSegment),
            ("..%252f", KeyError::DotSegment),
            ("%", KeyError::BadPercentEncoding),
            ("%4", KeyError::BadPercentEncoding),
            ("%zz", KeyError::BadPercentEncoding),
            ("a%", KeyError::BadPercentEncoding),
            ("%ff", KeyError::InvalidUtf8),
            ("%c0%ae%c0%ae", KeyError::InvalidUtf8),
            ("%e2%82", KeyError::InvalidUtf8),
            ("%00", KeyError::ControlCharacter),
            ("%7f", KeyError::ControlCharacter),
            ("%0d%0a", KeyError::ControlCharacter),
            ("a%2fb", KeyError::EncodedSlash),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_key(raw, false), Err(want), "{raw:?}");
        }
        assert_eq!(decode_key(&"a".repeat(1025), false), Err(KeyError::TooLong));
        assert_eq!(decode_key(&"a".repeat(5000), false), Err(KeyError::TooLong));
        assert_eq!(check_key(""), Err(KeyError::Empty));
        assert_eq!(check_key("a/../b"), Err(KeyError::DotSegment));
        assert_eq!(check_key("x\u{0}"), Err(KeyError::ControlCharacter));
        assert_eq!(check_key("%2e%2e/x"), Err(KeyError::DotSegment));
        assert_eq!(check_key("%2e%2e%2e"), Ok(()));
        for e in [
            KeyError::Empty,
            KeyError::BadPercentEncoding,
            KeyError::InvalidUtf8,
            KeyError::ControlCharacter,
            KeyError::DotSegment,
            KeyError::EncodedSlash,
            KeyError::TooLong,
        ] {
            assert!(!e.message().is_empty());
            assert_eq!(e.to_string(), e.message());
        }
    }

    #[test]
    fn never_panics() {
        // Every 1- to 3-byte string over a small alphabet that stresses the decoder, plus
        // truncated multi-byte input.
        let alphabet: [&str; 14] = [
            "%", "2", "e", "E", "f", "F", "5", "c", ".", "/", "\\", "0", "é", "z",
        ];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for d in ["", "%", "%2", "."] {
                        let s = format!("{a}{b}{c}{d}");
                        let _ = decode_key(&s, false);
                        let _ = decode_key(&s, true);
                        let _ = check_key(&s);
                    }
                }
            }
        }
        let nested = "%25".repeat(300) + "2e";
        let _ = decode_key(&nested, false);
        let _ = check_key(&"%".repeat(2000));
    }
}
