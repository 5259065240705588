//! Failed authentication attempts per client IP, kept for the rate limiter (a stricter limit
//! on failed attempts) and for the log. Bounded: past `MAX_TRACKED` addresses the table starts
//! over, so a scan from many addresses cannot grow memory without end.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use once_cell::sync::Lazy;

const MAX_TRACKED: usize = 100_000;

static FAILURES: Lazy<DashMap<IpAddr, AtomicU64>> = Lazy::new(DashMap::new);

/// Counts one failed attempt from `ip` and returns the count so far.
pub fn record(ip: IpAddr) -> u64 {
    if FAILURES.len() >= MAX_TRACKED && !FAILURES.contains_key(&ip) {
        FAILURES.clear();
    }
    FAILURES
        .entry(ip)
        .or_insert_with(|| AtomicU64::new(0))
        .fetch_add(1, Ordering::Relaxed)
        + 1
}

/// Failed attempts seen from `ip`.
pub fn count(ip: IpAddr) -> u64 {
    FAILURES.get(&ip).map_or(0, |c| c.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_address() {
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        let b: IpAddr = "192.0.2.11".parse().unwrap();
        let before = count(a);
        assert_eq!(record(a), before + 1);
        assert_eq!(record(a), before + 2);
        assert_eq!(count(b), 0);
    }
}
