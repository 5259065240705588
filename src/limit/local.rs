//! The per-process counters: `pingora_limits::rate::Rate` (a count-min sketch per fixed
//! window, so counts are approximate: a key may be over-counted when it shares slots with
//! others, never under-counted) and `pingora_limits::inflight::Inflight` for concurrency.
//!
//! They are process-wide statics, not part of a [`crate::gateway::Gateway`], so a config
//! reload keeps every window and every request in flight counted.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use once_cell::sync::Lazy;
use pingora_limits::inflight::{Guard, Inflight};
use pingora_limits::rate::Rate;

/// Columns of each count-min row: wider than Pingora's default (1024) so that many distinct
/// clients in one window rarely push each other over a limit. 4 rows x 16384 x 8 bytes x 2
/// windows = 1 MiB per distinct window length.
const SLOTS: usize = 16_384;
const HASHES: usize = 4;

/// One `Rate` per window length (in ms) the config uses.
static RATES: Lazy<DashMap<u64, Arc<Rate>>> = Lazy::new(DashMap::new);
static INFLIGHT: Lazy<Inflight> = Lazy::new(Inflight::new);

fn rate(window: Duration) -> Arc<Rate> {
    let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    RATES
        .entry(ms)
        .or_insert_with(|| Arc::new(Rate::new_with_estimator_config(window, HASHES, SLOTS)))
        .clone()
}

/// Adds `n` events to `key` in the current window of length `window` (at least a second);
/// returns the count in this window so far and the time left in it.
pub fn add(key: &str, window: Duration, n: u64) -> (u64, Duration) {
    let rate = rate(window);
    let n = isize::try_from(n).unwrap_or(isize::MAX);
    let count = rate.observe(&key, n);
    let left = rate.rate_with(&key, |c| {
        c.interval
            .mul_f64((1.0 - c.current_interval_fraction).clamp(0.0, 1.0))
    });
    (u64::try_from(count).unwrap_or(0), left)
}

/// One more request of `key` in progress; the guard takes it back when dropped. Returns the
/// guard and the count including this request.
pub fn enter(key: &str) -> (Guard, u64) {
    let (guard, count) = INFLIGHT.incr(key, 1);
    (guard, u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_within_a_window() {
        let w = Duration::from_secs(3600);
        let (a1, left) = add("test|a", w, 1);
        let (a2, _) = add("test|a", w, 1);
        let (b1, _) = add("test|b", w, 0);
        assert_eq!((a1, a2, b1), (1, 2, 0));
        assert!(left <= w && left > Duration::ZERO);
    }

    #[test]
    fn guards_count_requests_in_progress() {
        let (g1, n1) = enter("test|inflight");
        let (g2, n2) = enter("test|inflight");
        assert_eq!((n1, n2), (1, 2));
        drop(g1);
        drop(g2);
        let (_g3, n3) = enter("test|inflight");
        assert_eq!(n3, 1, "dropped guards give their slot back");
    }
}
