//! A bounded cache of verified tokens. Clients send the same token on every request (a Range
//! request per block for IGV and samtools, one per object for rclone), and verifying it again
//! each time (the signature, the JOSE header and the claims as JSON) was most of the plugin's
//! cost. A hit costs a hash, a string comparison and a clone of the [`Identity`].
//!
//! - The key is the exact token string; only tokens that verified and passed every claim check
//!   are stored, so a forged or altered token is never found here and always goes through full
//!   verification.
//! - An entry is served while `now < until`, `until` being the earlier of the token's `exp`
//!   (whole seconds, no leeway) and the insertion time plus `cache_seconds`. A token whose `nbf`
//!   is still ahead is not stored, nor one that expires within the second.
//! - Bounded: at most [`MAX_ENTRIES`] entries and about [`MAX_BYTES`] of estimated memory, split
//!   over [`SHARDS`] shards. A full shard first drops its expired entries and, if still full, is
//!   emptied.
//! - [`TokenCache::clear`] (a `jwks_url` key set changed) also fences off verifications that
//!   started under the old keys: an insertion carries the generation read before its keys were
//!   read, and is dropped if a clear happened since.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockWriteGuard};

use bucketgate_plugin::Identity;
use serde_json::Value;

/// The most entries one plugin's cache holds.
pub const MAX_ENTRIES: usize = 10_000;
/// The most memory (estimated, see [`cost`]) one plugin's cache holds.
pub const MAX_BYTES: usize = 16 << 20;
/// Independent locks, so that concurrent requests rarely meet on one.
pub const SHARDS: usize = 16;

/// Verified tokens of one plugin.
#[derive(Debug)]
pub struct TokenCache {
    /// `cache_seconds`; 0 disables the cache.
    ttl: u64,
    shards: Box<[RwLock<Shard>]>,
    /// Per shard.
    max_entries: usize,
    /// Per shard.
    max_bytes: usize,
    /// Bumped by every `clear`.
    generation: AtomicU64,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<Box<str>, Entry>,
    /// The sum of the entries' costs.
    bytes: usize,
}

#[derive(Debug)]
struct Entry {
    identity: Identity,
    /// Served while `now < until` (seconds since the epoch).
    until: u64,
    cost: usize,
}

impl TokenCache {
    /// A cache holding verifications for `ttl` seconds at most (0: no cache), with the default
    /// bounds.
    pub fn new(ttl: u64) -> TokenCache {
        TokenCache::with_limits(ttl, MAX_ENTRIES, MAX_BYTES, SHARDS)
    }

    /// A cache with explicit bounds (for tests: small ones).
    pub fn with_limits(
        ttl: u64,
        max_entries: usize,
        max_bytes: usize,
        shards: usize,
    ) -> TokenCache {
        let shards = if ttl == 0 { 0 } else { shards.max(1) };
        TokenCache {
            ttl,
            shards: (0..shards).map(|_| RwLock::default()).collect(),
            max_entries: max_entries.div_ceil(shards.max(1)).max(1),
            max_bytes: max_bytes / shards.max(1),
            generation: AtomicU64::new(0),
        }
    }

    /// The identity of a token verified earlier and still valid at `now`. Does not allocate
    /// unless it finds one (the clone).
    pub fn get(&self, token: &str, now: u64) -> Option<Identity> {
        let shard = self.shards.get(self.shard_of(token))?;
        let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
        let entry = shard.map.get(token)?;
        (now < entry.until).then(|| entry.identity.clone())
    }

    /// To be read before the keys a verification uses, and given to [`TokenCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers that `token` yielded `identity` at `now`, unless the token is not cacheable
    /// (no usable `exp`, expiring within the second, `nbf` ahead), the cache is disabled, or it
    /// was cleared since `generation` was read.
    pub fn insert(&self, token: &str, identity: &Identity, now: u64, generation: u64) {
        let Some(until) = valid_until(&identity.claims, now, self.ttl) else {
            return;
        };
        let Some(shard) = self.shards.get(self.shard_of(token)) else {
            return;
        };
        let cost = cost(token);
        if cost > self.max_bytes {
            return;
        }
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        // Under the shard lock: a `clear` that bumped the generation before taking this lock
        // is seen here; one that takes the lock later removes the entry.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if let Some(old) = shard.map.remove(token) {
            shard.bytes = shard.bytes.saturating_sub(old.cost);
        }
        if shard.map.len() >= self.max_entries || shard.bytes + cost > self.max_bytes {
            shard.map.retain(|_, e| now < e.until);
            shard.bytes = shard.map.values().map(|e| e.cost).sum();
            if shard.map.len() >= self.max_entries || shard.bytes + cost > self.max_bytes {
                empty(&mut shard);
            }
        }
        shard.bytes += cost;
        shard.map.insert(
            token.into(),
            Entry {
                identity: identity.clone(),
                until,
                cost,
            },
        );
    }

    /// Forgets every entry, and any insertion still in flight from before this call.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for shard in self.shards.iter() {
            empty(&mut shard.write().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// The number of entries, expired ones included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// The shard of a token: from its last bytes, which for a signed token are signature bytes
    /// (uniform). Lookups of made-up tokens only ever miss, whatever shard they pick.
    fn shard_of(&self, token: &str) -> usize {
        let bytes = token.as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(8)..];
        let folded = tail
            .iter()
            .fold(0usize, |h, &b| h.wrapping_mul(31).wrapping_add(b as usize));
        folded % self.shards.len().max(1)
    }
}

fn empty(shard: &mut RwLockWriteGuard<'_, Shard>) {
    shard.map.clear();
    shard.bytes = 0;
}

/// An estimate of what an entry holds: the token as key, its claims as a JSON map (the payload
/// is three quarters of the token, and a map takes more than its JSON text) and the grants.
fn cost(token: &str) -> usize {
    token.len().saturating_mul(4).saturating_add(256)
}

/// Until when (exclusive, seconds since the epoch) a token verified at `now` with these claims
/// may be served from the cache; None when it must not be stored.
fn valid_until(claims: &serde_json::Map<String, Value>, now: u64, ttl: u64) -> Option<u64> {
    if ttl == 0 {
        return None;
    }
    let exp = claims.get("exp")?.as_f64().filter(|t| t.is_finite())?;
    match claims.get("nbf") {
        None => {}
        Some(nbf) => {
            // A token accepted within the leeway before its nbf is verified every time.
            let nbf = nbf.as_f64().filter(|t| t.is_finite())?;
            if nbf > now as f64 {
                return None;
            }
        }
    }
    if exp < 0.0 {
        return None;
    }
    // `as` saturates: an exp of 1e300 is u64::MAX, and the ttl decides.
    let until = (exp.floor() as u64).min(now.saturating_add(ttl));
    (until > now).then_some(until)
}
