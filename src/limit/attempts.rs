//! The per-process failed-authentication counts: a small bounded table of exact counts per
//! key and fixed window. It exists (instead of the `pingora-limits` sketch of [`super::local`])
//! because an authentication attempt is counted before the auth plugins run and given back
//! when it succeeds, and only an exact count can take something back without lowering another
//! key's count.
//!
//! Bounded: at most [`MAX_KEYS`] keys. When full, expired windows go first; then the key with
//! the fewest attempts (the least suspicious) is forgotten.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

/// Keys kept at most (one per client address, or IPv6 /64, with attempts in the window).
pub const MAX_KEYS: usize = 65_536;

static TABLE: Lazy<Table> = Lazy::new(|| Table::new(MAX_KEYS));

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    window: Duration,
    count: u64,
}

/// Exact counts per key and window, at most `max` keys.
pub struct Table {
    max: usize,
    slots: Mutex<HashMap<String, Slot>>,
}

impl Table {
    pub fn new(max: usize) -> Table {
        Table {
            max: max.max(1),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Adds `n` to `key` in its current window of `window`; returns the count so far, the time
    /// left in the window, and the window's start (for [`Table::give_back`]).
    pub fn add(&self, key: &str, window: Duration, n: u64) -> (u64, Duration, Instant) {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if !slots.contains_key(key) && slots.len() >= self.max {
            slots.retain(|_, s| now.duration_since(s.start) < s.window);
            if slots.len() >= self.max {
                let fewest = slots
                    .iter()
                    .min_by_key(|(_, s)| s.count)
                    .map(|(k, _)| k.clone());
                if let Some(k) = fewest {
                    slots.remove(&k);
                }
            }
        }
        let slot = slots.entry(key.to_string()).or_insert(Slot {
            start: now,
            window,
            count: 0,
        });
        if now.duration_since(slot.start) >= slot.window {
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
    /// window is over (its count no longer matters).
    pub fn give_back(&self, key: &str, start: Instant, n: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(key) {
            if slot.start == start {
                slot.count = slot.count.saturating_sub(n);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
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
        let t = Table::new(8);
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
        let t = Table::new(8);
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
    fn stays_bounded_and_keeps_the_most_suspicious_key() {
        let t = Table::new(4);
        t.add("attacker", HOUR, 40);
        for i in 0..100 {
            t.add(&format!("k{i}"), HOUR, 1);
        }
        assert!(t.len() <= 4, "at most 4 keys, got {}", t.len());
        assert_eq!(t.add("attacker", HOUR, 0).0, 40, "the high count survives");
    }
}
