//! Shared support for bucketgate's integration tests, used as `mod common;`.
//!
//! Integration tests run the real `bucketgate` binary against a real S3 server, so a green test
//! means the data path works end to end:
//! - [`upstream`]: the S3 server (`BUCKETGATE_TEST_UPSTREAM=s3s`, the default, runs s3s-fs
//!   in-process; `=rgw` uses the Ceph RGW from `tests/rgw.sh`), plus signed direct calls;
//! - [`gateway`]: starts the binary on a YAML config and stops it on drop;
//! - [`client`]: a raw HTTP/1.1 client for byte-exact and misbehaving requests;
//! - [`recorder`]: a fake upstream that records what the proxy forwarded;
//! - [`sign`]: SigV4 via `aws-sigv4`, independent of bucketgate's signer;
//! - [`s3`]: a signing S3 client (header and presigned signatures, aws-chunked uploads) for
//!   the `frontend: s3` tests;
//! - [`oidc`]: a real OpenID provider (npm oidc-provider) and a cookie-jar browser that signs
//!   in through it, for the SSO tests;
//! - [`redis`]: a real `redis-server` per test, for shared SSO sessions;
//! - [`script`]: runs a client script of `tests/clients/` hermetically, with a deadline.
//!
//! Each test binary uses a different subset, hence the crate-wide `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod gateway;
pub mod oidc;
pub mod recorder;
pub mod redis;
pub mod s3;
pub mod script;
pub mod sign;
pub mod upstream;

pub use client::Response;
pub use gateway::Gateway;
pub use recorder::{RecordedRequest, Recorder};
pub use upstream::{Upstream, UpstreamKind};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Response headers: lower-cased names, values as sent, in order.
pub type Headers = Vec<(String, String)>;

/// Polls `cond` every 10 ms until it holds; panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A short string unique within this process and, in practice, across processes and runs
/// (time, pid and a counter), using only `[a-z0-9]`.
pub fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    format!("{:x}{:x}{n:x}", t & 0xff_ffff_ffff, std::process::id())
}

/// A valid, unused bucket name: `bg-<prefix>-<suffix>`, at most 63 characters. `prefix` should
/// be lower-case letters, digits and hyphens.
pub fn unique_bucket(prefix: &str) -> String {
    let suffix = unique_suffix();
    let room = 63 - 4 - suffix.len();
    let p: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(room)
        .collect();
    format!("bg-{}-{suffix}", p.trim_matches('-'))
}

/// Creates a fresh bucket on the upstream and returns its name.
#[track_caller]
pub fn fresh_bucket(prefix: &str) -> String {
    let b = unique_bucket(prefix);
    Upstream::get().create_bucket(&b);
    b
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Percent-encodes an S3 key for a path: everything except `A-Za-z0-9-._~/` as upper-case `%XX`
/// (bytes of the UTF-8 encoding).
pub fn encode_key(key: &str) -> String {
    encode(key, true)
}

/// Percent-encodes a query name or value: everything except `A-Za-z0-9-._~` (so `/`, `+`, `=`,
/// `&` and space are encoded).
pub fn encode_query_component(s: &str) -> String {
    encode(s, false)
}

/// `name=value` for each pair, both sides encoded with [`encode_query_component`], in the
/// given order.
pub fn encode_query_pairs<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<String> {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_query_component(k.as_ref()),
                encode_query_component(v.as_ref())
            )
        })
        .collect()
}

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Deterministic pseudo-random bytes: fills `buf` with the pattern's bytes at
/// `offset..offset + buf.len()`, so a large body can be produced piece by piece (for
/// [`client::request_streaming_body`]) and checked later without keeping it.
pub fn pattern_fill(seed: u64, offset: u64, buf: &mut [u8]) {
    // SplitMix64 of the 8-byte block index: any byte can be computed from its offset alone.
    let block = |i: u64| -> [u8; 8] {
        let mut z = seed
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    };
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let b = block(pos / 8);
        let start = (pos % 8) as usize;
        let n = (8 - start).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&b[start..start + n]);
        i += n;
        pos += n as u64;
    }
}

/// The first `len` bytes of the pattern, in memory.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    pattern_fill(seed, 0, &mut v);
    v
}

/// SHA-256 (hex) of the first `len` bytes of the pattern, computed in 1 MiB pieces.
pub fn pattern_sha256(seed: u64, len: u64) -> String {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < len {
        let n = (len - off).min(buf.len() as u64) as usize;
        pattern_fill(seed, off, &mut buf[..n]);
        h.update(&buf[..n]);
        off += n as u64;
    }
    hex::encode(h.finalize())
}
