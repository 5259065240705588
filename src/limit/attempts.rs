//! The per-process failed-authentication counts: a bounded table of exact counts per key and
//! fixed window. It exists (instead of the `pingora-limits` sketch of [`super::local`])
//! because an authentication attempt is counted before the auth plugins run and given back
//! when it succeeds, and only an exact count can take something back without lowering another
//! key's count.
//!
//! Bounded and cheap under a flood of new keys (one IPv6 /48 holds 65,536 /64 clients):
//!
//! - the keys are spread over [`SHARDS`] shards by a hash with a per-process random seed, each
//!   behind its own mutex, so requests from different clients rarely wait for each other and
//!   nobody can aim many keys at one shard;
//! - each shard holds at most its share of [`MAX_KEYS`]. A new key in a full shard evicts one
//!   entry chosen among [`SAMPLES`] distinct entries starting at a random place: an entry
//!   whose window is over first, else the one with the fewest attempts (the least suspicious).
//!   That is O(1): a full table is never scanned. An address with many failures survives a
//!   flood of one-attempt keys, since it is evicted only when every other sampled entry has
//!   at least as many;
//! - reading a count (`n == 0`, a request without credentials) never adds a key, so only
//!   addresses that actually tried a credential take room.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

/// Keys kept at most (one per client address, or IPv6 /64, with attempts in the window).
pub const MAX_KEYS: usize = 65_536;
/// Shards of the process-wide table (1,024 keys each).
pub const SHARDS: usize = 64;
/// Entries an eviction looks at, at most.
pub const SAMPLES: usize = 8;

static TABLE: Lazy<Table> = Lazy::new(|| Table::new(MAX_KEYS, SHARDS));

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    window: Duration,
    count: u64,
}

impl Slot {
    fn is_over(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.start) >= self.window
    }
}

/// Exact counts per key and window, at most `max` keys over all shards.
pub struct Table {
    seed: RandomState,
    per_shard: usize,
    shards: Vec<Mutex<Shard>>,
}

impl Table {
    /// A table of at most `max` keys in `shards` shards (fewer when `max` is smaller, so each
    /// shard holds at least one key).
    pub fn new(max: usize, shards: usize) -> Table {
        let max = max.max(1);
        let count = shards.clamp(1, max);
        let seed = RandomState::new();
        let shards = (0..count)
            .map(|i| Mutex::new(Shard::new(seed.hash_one(i) | 1)))
            .collect();
        Table {
            seed,
            per_shard: max / count,
            shards,
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        // The shard count is at least one; the modulo keeps the index in range.
        let i = (self.seed.hash_one(key) % self.shards.len() as u64) as usize;
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `n` to `key` in its current window of `window`; returns the count so far, the time
    /// left in the window, and the window's start (for [`Table::give_back`]). With `n == 0`
    /// and no entry for `key`, nothing is stored: the count is 0 in a window starting now.
    pub fn add(&self, key: &str, window: Duration, n: u64) -> (u64, Duration, Instant) {
        let now = Instant::now();
        let mut shard = self.shard(key);
        let at = match shard.index.get(key) {
            Some(at) => *at,
            None if n == 0 => return (0, window, now),
            None => shard.insert(key, self.per_shard, now),
        };
        let slot = &mut shard.entries[at].1;
        if slot.is_over(now) {
            *slot = Slot {
                start: now,
                window,
                count: 0,
            };
        }
        slot.count = slot.count.saturating_add(n);
        let left = slot.window.saturating_sub(now.duration_since(slot.start));
        (slot.count, left, slot.start)
    }

    /// Takes back `n` added to `key` in the window that started at `start`; nothing when that
    /// window is over (its count no longer matters) or the key was evicted since.
    pub fn give_back(&self, key: &str, start: Instant, n: u64) {
        let mut shard = self.shard(key);
        if let Some(slot) = shard.get_mut(key) {
            if slot.start == start {
                slot.count = slot.count.saturating_sub(n);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let lock = |s: &Mutex<Shard>| s.lock().unwrap_or_else(|p| p.into_inner()).entries.len();
        self.shards.iter().map(lock).sum()
    }

    /// The most entries one eviction looked at so far.
    #[cfg(test)]
    fn most_examined(&self) -> usize {
        let lock = |s: &Mutex<Shard>| s.lock().unwrap_or_else(|p| p.into_inner()).most_examined;
        self.shards.iter().map(lock).max().unwrap_or(0)
    }
}

/// One shard: the entries in a dense vector (so a random entry is one index away) and an
/// index from key to position.
struct Shard {
    index: HashMap<String, usize>,
    entries: Vec<(String, Slot)>,
    /// xorshift state, for the place where an eviction starts looking.
    rng: u64,
    #[cfg(test)]
    most_examined: usize,
}

impl Shard {
    fn new(rng: u64) -> Shard {
        Shard {
            index: HashMap::new(),
            entries: Vec::new(),
            rng,
            #[cfg(test)]
            most_examined: 0,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Slot> {
        let at = *self.index.get(key)?;
        self.entries.get_mut(at).map(|(_, slot)| slot)
    }

    /// A new entry for `key` (absent), counting 0 in a window that is already over, so the
    /// caller starts it afresh; one entry is evicted first when the shard holds `max`.
    /// Returns its position.
    fn insert(&mut self, key: &str, max: usize, now: Instant) -> usize {
        if self.entries.len() >= max.max(1) {
            let _examined = self.evict(now);
            #[cfg(test)]
            {
                self.most_examined = self.most_examined.max(_examined);
            }
        }
        let at = self.entries.len();
        let slot = Slot {
            start: now,
            window: Duration::ZERO,
            count: 0,
        };
        self.entries.push((key.to_string(), slot));
        self.index.insert(key.to_string(), at);
        at
    }

    /// Removes one entry among at most [`SAMPLES`] distinct ones from a random place: the
    /// first whose window is over, else the one with the fewest attempts. Returns how many
    /// entries it looked at.
    fn evict(&mut self, now: Instant) -> usize {
        let len = self.entries.len();
        if len == 0 {
            return 0;
        }
        let start = (self.next_random() % len as u64) as usize;
        let mut victim = start;
        let mut examined = 0;
        for step in 0..SAMPLES.min(len) {
            let at = (start + step) % len;
            let slot = &self.entries[at].1;
            examined += 1;
            if slot.is_over(now) {
                victim = at;
                break;
            }
            if slot.count < self.entries[victim].1.count {
                victim = at;
            }
        }
        self.remove_at(victim);
        examined
    }

    /// Removes the entry at `at`, moving the last entry into its place.
    fn remove_at(&mut self, at: usize) {
        let (key, _) = self.entries.swap_remove(at);
        self.index.remove(&key);
        if let Some((moved, _)) = self.entries.get(at) {
            if let Some(pos) = self.index.get_mut(moved) {
                *pos = at;
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// [`Table::add`] on the process-wide table.
pub fn add(key: &str, window: Duration, n: u64) -> (u64, Duration, Instant) {
    TABLE.add(key, window, n)
}

/// [`Table::give_back`] on the process-wide table.
pub fn give_back(key: &str, start: Instant, n: u64) {
    TABLE.give_back(key, start, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn counts_and_gives_back_exactly() {
        let t = Table::new(8, 1);
        let (c1, left, start) = t.add("a", HOUR, 1);
        let (c2, _, _) = t.add("a", HOUR, 1);
        assert_eq!((c1, c2), (1, 2));
        assert!(left <= HOUR && left > Duration::ZERO);
        t.give_back("a", start, 1);
        assert_eq!(t.add("a", HOUR, 0).0, 1, "one attempt given back");
        assert_eq!(t.add("b", HOUR, 0).0, 0, "other keys untouched");
        t.give_back("a", start, 5);
        assert_eq!(t.add("a", HOUR, 0).0, 0, "never below zero");
    }

    #[test]
    fn a_give_back_from_an_old_window_is_ignored() {
        let t = Table::new(8, 2);
        let (_, _, old) = t.add("a", HOUR, 1);
        let (count, _, start) = t.add("a", HOUR, 1);
        assert_eq!(count, 2);
        let before = old.checked_sub(Duration::from_secs(1)).unwrap_or(old);
        if before != start {
            t.give_back("a", before, 1);
            assert_eq!(t.add("a", HOUR, 0).0, 2);
        }
    }

    #[test]
    fn reading_a_count_stores_nothing() {
        let t = Table::new(8, 1);
        for i in 0..100 {
            assert_eq!(t.add(&format!("anonymous{i}"), HOUR, 0).0, 0);
        }
        assert_eq!(t.len(), 0, "requests without credentials take no room");
    }

    #[test]
    fn stays_bounded_and_keeps_the_most_suspicious_key() {
        let t = Table::new(64, 4);
        t.add("attacker", HOUR, 40);
        for i in 0..20_000 {
            t.add(&format!("k{i}"), HOUR, 1);
        }
        assert!(t.len() <= 64, "at most 64 keys, got {}", t.len());
        assert_eq!(t.add("attacker", HOUR, 0).0, 40, "the high count survives");
    }

    /// Once full, a new key costs a bounded look at a few entries, never a scan of the table
    /// (the old table looked at all 65,536 under one lock for every new key).
    #[test]
    fn eviction_looks_at_a_few_entries_however_full() {
        let t = Table::new(4096, 1);
        for i in 0..20_000 {
            t.add(&format!("flood{i}"), HOUR, 1);
        }
        assert_eq!(t.len(), 4096);
        let examined = t.most_examined();
        assert!(
            (1..=SAMPLES).contains(&examined),
            "an eviction examined {examined} entries"
        );
    }

    #[test]
    fn an_entry_whose_window_is_over_goes_before_a_live_one() {
        let t = Table::new(SAMPLES, 1);
        t.add("live", HOUR, 1);
        for i in 0..SAMPLES - 1 {
            // A zero-length window is over at once, whatever its count.
            t.add(&format!("over{i}"), Duration::ZERO, 100);
        }
        for i in 0..SAMPLES - 1 {
            t.add(&format!("new{i}"), HOUR, 2);
        }
        assert_eq!(t.len(), SAMPLES);
        assert_eq!(t.add("live", HOUR, 0).0, 1, "the live entry stayed");
    }

    #[test]
    fn shards_count_exactly_from_many_threads() {
        let t = std::sync::Arc::new(Table::new(1024, 16));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        t.add("shared", HOUR, 1);
                        t.add(&format!("own{i}"), HOUR, 1);
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().expect("thread");
        }
        assert_eq!(t.add("shared", HOUR, 0).0, 4000);
        for i in 0..8 {
            assert_eq!(t.add(&format!("own{i}"), HOUR, 0).0, 500);
        }
    }
}
