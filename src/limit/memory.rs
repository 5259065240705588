//! The process-wide budget for the bytes bucketgate holds on behalf of requests
//! (`limits.buffer_memory`): the chunk a signed aws-chunked upload holds until its signature
//! checks out, a listing held until it is complete and rewritten, a DeleteObjects body read
//! before its keys are checked. Each is at most a few MiB, but a crowd of them is not: past
//! the budget a request is refused with a [`Refusal`] of scope [`Scope::Memory`] (on S3 routes
//! `503 SlowDown` with `Retry-After`, which every SDK backs off on) instead of growing the
//! process until the kernel ends it.
//!
//! A buffer's bytes are a [`Reservation`]: it grows before the buffer does, shrinks with it,
//! and gives everything back when dropped, however the request ends. Streamed bodies (plain
//! GET and PUT) hold nothing and are never refused here. Like the rate counters, the budget
//! is a process-wide static: a reload changes its size and keeps what requests in flight hold.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Refusal, Scope};

/// The default budget: 256 MiB (16 uploads with the largest chunks S3 allows, or thousands
/// with the 64 KiB chunks the SDKs send).
pub const DEFAULT_BUDGET: u64 = 256 << 20;

/// Seconds a refused client is asked to wait: buffers come and go within requests.
const RETRY_AFTER: u64 = 1;

/// Seconds between two log lines about refusals.
const LOG_EVERY: u64 = 10;

/// A byte budget and what is held from it.
#[derive(Debug)]
pub struct Budget {
    limit: AtomicUsize,
    used: AtomicUsize,
    /// Refusals not yet logged, and the second of the last log line.
    refused: AtomicU64,
    logged_at: AtomicU64,
}

/// The process's budget.
static PROCESS: Budget = Budget::new(DEFAULT_BUDGET as usize);

impl Budget {
    pub const fn new(limit: usize) -> Budget {
        Budget {
            limit: AtomicUsize::new(limit),
            used: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            logged_at: AtomicU64::new(0),
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Release);
    }

    /// Takes `more` bytes if they fit.
    fn take(&self, more: usize) -> bool {
        let limit = self.limit.load(Ordering::Acquire);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|total| *total <= limit)
            })
            .is_ok()
    }

    fn give(&self, less: usize) {
        // Never below zero, even if a bug gave back twice.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(less))
            });
    }

    /// Logs refusals at most once per [`LOG_EVERY`] seconds, with how many there were.
    fn note_refusal(&self, wanted: usize) {
        self.refused.fetch_add(1, Ordering::AcqRel);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.logged_at.load(Ordering::Acquire);
        if now < last.saturating_add(LOG_EVERY) {
            return;
        }
        let won = self
            .logged_at
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if won {
            let count = self.refused.swap(0, Ordering::AcqRel).max(1);
            log::warn!(
                "buffer budget: {count} request(s) refused with 503 SlowDown (one wanted {wanted} \
                 more bytes; {} of {} held); raise limits.buffer_memory if this is normal load",
                self.used(),
                self.limit.load(Ordering::Acquire)
            );
        }
    }
}

/// Sets the process's budget (from `limits.buffer_memory`, at start and on every reload).
/// Bytes already held stay held; a smaller budget refuses new growth until enough is back.
pub fn set_budget(bytes: u64) {
    PROCESS.set_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
}

/// The bytes one buffer holds against a budget; all given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: &'static Budget,
    held: usize,
}

impl Default for Reservation {
    fn default() -> Reservation {
        Reservation::on(&PROCESS)
    }
}

impl Reservation {
    /// An empty reservation on `budget` (tests use budgets of their own).
    pub fn on(budget: &'static Budget) -> Reservation {
        Reservation { budget, held: 0 }
    }

    /// Bytes held by this reservation.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.held
    }

    /// Makes this reservation exactly `bytes`: shrinking always works; growing works only
    /// when the rest fits in the budget, else nothing changes and the refusal says when to
    /// try again.
    pub fn resize(&mut self, bytes: usize) -> Result<(), Refusal> {
        if bytes <= self.held {
            self.budget.give(self.held - bytes);
            self.held = bytes;
            return Ok(());
        }
        let more = bytes - self.held;
        if !self.budget.take(more) {
            self.budget.note_refusal(more);
            return Err(Refusal {
                scope: Scope::Memory,
                retry_after: RETRY_AFTER,
            });
        }
        self.held = bytes;
        Ok(())
    }

    /// Grows this reservation to at least `bytes` (never shrinks it).
    pub fn reserve(&mut self, bytes: usize) -> Result<(), Refusal> {
        if bytes <= self.held {
            return Ok(());
        }
        self.resize(bytes)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: usize) -> &'static Budget {
        Box::leak(Box::new(Budget::new(limit)))
    }

    #[test]
    fn grows_within_the_budget_and_refuses_past_it() {
        let b = budget(100);
        let mut one = Reservation::on(b);
        let mut two = Reservation::on(b);
        assert!(one.resize(60).is_ok());
        assert!(two.resize(40).is_ok());
        assert_eq!(b.used(), 100);
        let refused = two.resize(41).expect_err("over the budget");
        assert_eq!(refused.scope, Scope::Memory);
        assert!(refused.retry_after >= 1);
        assert_eq!(
            (two.held(), b.used()),
            (40, 100),
            "a refusal changes nothing"
        );
        assert!(one.resize(10).is_ok(), "shrinking always works");
        assert!(two.resize(90).is_ok(), "what one gave back, two may take");
        assert_eq!(b.used(), 100);
    }

    #[test]
    fn dropping_gives_everything_back() {
        let b = budget(1000);
        {
            let mut r = Reservation::on(b);
            r.resize(700).unwrap();
            assert_eq!(b.used(), 700);
        }
        assert_eq!(b.used(), 0);
        let mut r = Reservation::on(b);
        assert!(r.resize(1000).is_ok(), "the whole budget is free again");
    }

    #[test]
    fn reserve_never_shrinks() {
        let b = budget(50);
        let mut r = Reservation::on(b);
        r.reserve(30).unwrap();
        r.reserve(10).unwrap();
        assert_eq!(r.held(), 30);
        assert!(r.reserve(51).is_err());
        assert_eq!(r.held(), 30);
    }

    #[test]
    fn a_smaller_budget_refuses_growth_until_enough_is_back() {
        let b = budget(100);
        let mut r = Reservation::on(b);
        r.resize(80).unwrap();
        b.set_limit(50);
        assert!(r.resize(81).is_err());
        assert!(r.resize(60).is_ok(), "shrinking works over the budget");
        let mut other = Reservation::on(b);
        assert!(other.resize(1).is_err(), "still over the new budget");
        drop(r);
        assert!(other.resize(50).is_ok());
    }

    #[test]
    fn many_threads_never_hold_more_than_the_budget() {
        let b = budget(10_000);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut granted = 0;
                    for i in 0..2_000 {
                        let mut r = Reservation::on(b);
                        if r.resize(100 + i % 900).is_ok() {
                            granted += 1;
                            assert!(b.used() <= 10_000);
                        }
                    }
                    granted
                })
            })
            .collect();
        let granted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(granted > 0);
        assert_eq!(b.used(), 0, "every reservation was given back");
    }
}
