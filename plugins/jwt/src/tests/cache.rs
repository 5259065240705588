//! The cache of verified tokens: a repeated token is not verified again (the plugin's
//! verification counter stays put); an entry ends at the token's `exp` and after
//! `cache_seconds` (a clock the test sets); forged, altered and not-yet-valid tokens are never
//! served from it; `cache_seconds: 0` disables it; its bounds hold.

use std::sync::atomic::Ordering;

use jsonwebtoken::Algorithm as A;
use jsonwebtoken::EncodingKey;
use serde_json::json;

use super::support::*;
use crate::cache::TokenCache;

fn hs_yaml(extra: &str) -> String {
    format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]\n\
         grants: [{{bucket: data, prefix: 'users/{{sub}}/', operations: [read]}}]\n{extra}"
    )
}

#[test]
fn a_verified_token_is_served_from_the_cache() {
    let (p, _) = plugin_with_clock(&hs_yaml(""), None);
    let token = hs(&claims());
    let first = accepted(&p, &token);
    assert_eq!(verifications(&p), 1);
    let second = accepted(&p, &token);
    assert_eq!(verifications(&p), 1, "the second request verified again");
    assert_eq!(first, second);
    assert_eq!(second.subject, "alice");
    assert_eq!(second.grants[0].prefix, "users/alice/");
    // Another token (another subject) is verified, and does not get alice's identity.
    let bob = accepted(&p, &hs(&claims_with(json!({"sub": "bob"}))));
    assert_eq!(verifications(&p), 2);
    assert_eq!(bob.subject, "bob");
    assert_eq!(bob.grants[0].prefix, "users/bob/");
    assert_eq!(p.cache.len(), 2);
}

#[test]
fn an_entry_ends_at_the_tokens_exp() {
    let (p, time) = plugin_with_clock(&hs_yaml("leeway_seconds: 0"), None);
    let t = time.load(Ordering::SeqCst);
    let token = hs(&claims_with(json!({"exp": t + 2})));
    accepted(&p, &token);
    time.store(t + 1, Ordering::SeqCst);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 1, "served from the cache before exp");
    // At exp the entry is over; verification still accepts the token within that second,
    // and does not cache it again.
    time.store(t + 2, Ordering::SeqCst);
    accepted(&p, &token);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 3);
    time.store(t + 3, Ordering::SeqCst);
    rejected(&p, &token, "token expired");
}

#[test]
fn the_leeway_is_not_served_from_the_cache() {
    let (p, time) = plugin_with_clock(&hs_yaml("leeway_seconds: 30"), None);
    let t = time.load(Ordering::SeqCst);
    let token = hs(&claims_with(json!({"exp": t + 2})));
    accepted(&p, &token);
    // Past exp, within the leeway: accepted, but verified every time.
    time.store(t + 10, Ordering::SeqCst);
    accepted(&p, &token);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 3);
    time.store(t + 33, Ordering::SeqCst);
    rejected(&p, &token, "token expired");
}

#[test]
fn an_entry_ends_after_cache_seconds() {
    let (p, time) = plugin_with_clock(&hs_yaml("cache_seconds: 5"), None);
    let t = time.load(Ordering::SeqCst);
    let token = hs(&claims());
    accepted(&p, &token);
    time.store(t + 4, Ordering::SeqCst);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 1);
    time.store(t + 5, Ordering::SeqCst);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 2, "cached longer than cache_seconds");
    // Cached again from then on.
    time.store(t + 9, Ordering::SeqCst);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 2);
}

#[test]
fn a_forged_token_is_refused_while_the_genuine_one_is_cached() {
    let (p, _) = plugin_with_clock(&hs_yaml(""), None);
    let genuine = hs(&claims());
    accepted(&p, &genuine);
    let other_secret = EncodingKey::from_secret(b"another-secret-0123456789abcdef-0123");
    let forged = sign(A::HS256, &other_secret, None, &claims());
    let (message, _) = genuine.rsplit_once('.').unwrap();
    assert!(forged.starts_with(message), "same header and claims");
    assert_ne!(forged, genuine);
    for _ in 0..2 {
        rejected(&p, &forged, "signature invalid");
        rejected(&p, &format!("{message}."), "signature invalid");
    }
    // Every refusal was a full verification: failures are not cached.
    assert_eq!(verifications(&p), 5);
    assert_eq!(p.cache.len(), 1);
    accepted(&p, &genuine);
    assert_eq!(verifications(&p), 5);
}

#[test]
fn a_token_differing_by_one_byte_is_refused() {
    let (p, _) = plugin_with_clock(&hs_yaml(""), None);
    let genuine = hs(&claims());
    accepted(&p, &genuine);
    let mut altered = Vec::new();
    for i in 0..genuine.len() {
        let mut bytes = genuine.clone().into_bytes();
        bytes[i] = match bytes[i] {
            b'.' => b'A',
            b'A' => b'B',
            _ => b'A',
        };
        altered.push(String::from_utf8(bytes).unwrap());
    }
    altered.push(format!("{genuine}A"));
    altered.push(genuine[..genuine.len() - 1].to_owned());
    for token in &altered {
        match authenticate(&p, &bearer(token)) {
            bucketgate_plugin::Verdict::Reject(r) => check_rejection(&r, token),
            other => panic!("{token} (altered) gave {other:?}"),
        }
    }
    assert_eq!(verifications(&p), 1 + altered.len());
    assert_eq!(p.cache.len(), 1);
    accepted(&p, &genuine);
    assert_eq!(verifications(&p), 1 + altered.len());
}

#[test]
fn cache_seconds_zero_disables_the_cache() {
    let (p, _) = plugin_with_clock(&hs_yaml("cache_seconds: 0"), None);
    let token = hs(&claims());
    for _ in 0..3 {
        accepted(&p, &token);
    }
    assert_eq!(verifications(&p), 3);
    assert_eq!(p.cache.len(), 0);
}

#[test]
fn a_token_before_its_nbf_is_not_cached() {
    let (p, time) = plugin_with_clock(&hs_yaml("leeway_seconds: 30"), None);
    let t = time.load(Ordering::SeqCst);
    let token = hs(&claims_with(json!({"nbf": t + 10})));
    // Accepted within the leeway, but verified each time.
    accepted(&p, &token);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 2);
    assert_eq!(p.cache.len(), 0);
    // From nbf on it is cached.
    time.store(t + 10, Ordering::SeqCst);
    accepted(&p, &token);
    accepted(&p, &token);
    assert_eq!(verifications(&p), 3);
}

#[test]
fn the_entry_bound_holds() {
    // Two shards of four entries.
    let cache = TokenCache::with_limits(60, 8, usize::MAX, 2);
    let (p, _) = plugin_with_clock(&hs_yaml(""), Some(cache));
    for i in 0..100 {
        let token = hs(&claims_with(json!({"sub": format!("user{i}")})));
        accepted(&p, &token);
        assert!(p.cache.len() <= 8, "{} entries", p.cache.len());
        // The newest entry is always kept.
        accepted(&p, &token);
        assert_eq!(verifications(&p), i + 1);
    }
}

#[test]
fn expired_entries_are_dropped_before_live_ones() {
    // One shard of three entries.
    let cache = TokenCache::with_limits(60, 3, usize::MAX, 1);
    let (p, time) = plugin_with_clock(&hs_yaml(""), Some(cache));
    let t = time.load(Ordering::SeqCst);
    let short = hs(&claims_with(json!({"sub": "short", "exp": t + 5})));
    let long1 = hs(&claims_with(json!({"sub": "long1"})));
    let long2 = hs(&claims_with(json!({"sub": "long2"})));
    for token in [&short, &long1, &long2] {
        accepted(&p, token);
    }
    assert_eq!(p.cache.len(), 3);
    time.store(t + 5, Ordering::SeqCst);
    let newer = hs(&claims_with(json!({"sub": "newer"})));
    accepted(&p, &newer);
    // `short` was dropped; the live ones stayed.
    assert_eq!(p.cache.len(), 3);
    let before = verifications(&p);
    for token in [&long1, &long2, &newer] {
        accepted(&p, token);
    }
    assert_eq!(verifications(&p), before);
}

#[test]
fn the_byte_bound_holds() {
    // About 3 KiB: a token of 1 KiB does not fit (cost is four times its length, plus some).
    let cache = TokenCache::with_limits(60, 100, 3 * 1024, 1);
    let (p, _) = plugin_with_clock(&hs_yaml(""), Some(cache));
    let big = hs(&claims_with(json!({"padding": "x".repeat(1024)})));
    accepted(&p, &big);
    accepted(&p, &big);
    assert_eq!(verifications(&p), 2);
    assert_eq!(p.cache.len(), 0);
    // Small tokens fit, a handful of them.
    for i in 0..20 {
        accepted(&p, &hs(&claims_with(json!({"sub": format!("u{i}")}))));
    }
    let len = p.cache.len();
    assert!((1..=10).contains(&len), "{len} entries");
}

#[test]
fn a_clear_refuses_insertions_that_started_before_it() {
    let (p, _) = plugin_with_clock(&hs_yaml(""), None);
    let token = hs(&claims());
    let identity = accepted(&p, &token);
    let cache = TokenCache::new(60);
    let now = now();
    let generation = cache.generation();
    cache.clear();
    cache.insert(&token, &identity, now, generation);
    assert_eq!(cache.len(), 0);
    cache.insert(&token, &identity, now, cache.generation());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.get(&token, now), Some(identity));
    cache.clear();
    assert_eq!(cache.get(&token, now), None);
}

#[test]
fn cache_seconds_is_bounded() {
    let problems = config(&hs_yaml("cache_seconds: 3601")).validate();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "cache_seconds");
    assert_eq!(config(&hs_yaml("")).cache_seconds, 60);
    assert!(config(&hs_yaml("cache_seconds: 3600"))
        .validate()
        .is_empty());
}
