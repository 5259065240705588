//! Passive ejection: requests that fail to connect to a backend take it out of selection for a
//! cool-down, before the next active health check notices (nginx's `max_fails`/`fail_timeout`,
//! Envoy's outlier detection on consecutive connect failures).
//!
//! After `consecutive_failures` connect failures in a row a backend is ejected; selection
//! skips it until the cool-down has passed, then requests try it again. One more failure then
//! ejects it again at once; one successful connect clears its record.
//!
//! Connects succeed all the time, so the request path takes no lock while no backend has a
//! failure on record.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pingora_core::protocols::l4::socket::SocketAddr;

use crate::config::model::EjectionConfig;

/// The longest cool-down honoured, whatever the config says (a year).
const MAX_COOLDOWN_SECS: u64 = 365 * 86_400;

/// The failure record of one pool's backends.
pub struct Ejection {
    /// Failures in a row that eject; 0: never eject.
    threshold: u32,
    cooldown: Duration,
    records: Mutex<HashMap<SocketAddr, Record>>,
    /// `records.len()`, readable without the lock.
    tracked: AtomicUsize,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    consecutive: u32,
    ejected_until: Option<Instant>,
}

impl Ejection {
    pub fn new(cfg: &EjectionConfig) -> Ejection {
        Ejection {
            threshold: cfg.consecutive_failures,
            // The config check caps it far lower; this only keeps `now + cooldown` in range.
            cooldown: Duration::from_secs(cfg.cooldown_seconds.min(MAX_COOLDOWN_SECS)),
            records: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Record>> {
        // A panic elsewhere while holding it leaves plain data behind: keep using it.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connect to `addr` failed at `now`. Returns true when this ejects it.
    pub fn record_failure(&self, addr: &SocketAddr, now: Instant) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut records = self.lock();
        let rec = records.entry(addr.clone()).or_insert(Record {
            consecutive: 0,
            ejected_until: None,
        });
        rec.consecutive = rec.consecutive.saturating_add(1);
        let ejected_now = rec.ejected_until.is_some_and(|t| now < t);
        let ejects = rec.consecutive >= self.threshold && !ejected_now;
        if ejects {
            rec.ejected_until = Some(now.checked_add(self.cooldown).unwrap_or(now));
        }
        self.tracked.store(records.len(), Ordering::Relaxed);
        ejects
    }

    /// A request got a connection to `addr`: a new one clears its record, a reused pooled
    /// one says nothing about whether `addr` takes new connections, so it leaves it be.
    pub fn record_connected(&self, addr: &SocketAddr, reused: bool) {
        if !reused {
            self.record_success(addr);
        }
    }

    /// A connect to `addr` succeeded: its record is cleared.
    pub fn record_success(&self, addr: &SocketAddr) {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut records = self.lock();
        records.remove(addr);
        self.tracked.store(records.len(), Ordering::Relaxed);
    }

    /// Whether selection should skip `addr` at `now`.
    pub fn is_ejected(&self, addr: &SocketAddr, now: Instant) -> bool {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.lock()
            .get(addr)
            .and_then(|r| r.ejected_until)
            .is_some_and(|t| now < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        SocketAddr::Inet(s.parse().unwrap())
    }

    fn ejection(failures: u32, cooldown: u64) -> Ejection {
        Ejection::new(&EjectionConfig {
            consecutive_failures: failures,
            cooldown_seconds: cooldown,
        })
    }

    #[test]
    fn consecutive_failures_eject_until_the_cooldown_passes() {
        let e = ejection(3, 10);
        let a = addr("127.0.0.1:1");
        let other = addr("127.0.0.1:2");
        let t0 = Instant::now();
        assert!(!e.record_failure(&a, t0));
        assert!(!e.record_failure(&a, t0));
        assert!(!e.is_ejected(&a, t0), "two failures of three do not eject");
        assert!(e.record_failure(&a, t0), "the third failure ejects");
        assert!(e.is_ejected(&a, t0));
        assert!(e.is_ejected(&a, t0 + Duration::from_secs(9)));
        assert!(
            !e.is_ejected(&other, t0),
            "only the failing backend is ejected"
        );
        let later = t0 + Duration::from_secs(10);
        assert!(
            !e.is_ejected(&a, later),
            "allowed again after the cool-down"
        );
        // Still failing after the cool-down: ejected again at once.
        assert!(e.record_failure(&a, later));
        assert!(e.is_ejected(&a, later + Duration::from_secs(1)));
    }

    #[test]
    fn a_success_clears_the_record() {
        let e = ejection(2, 10);
        let a = addr("127.0.0.1:1");
        let t0 = Instant::now();
        e.record_failure(&a, t0);
        e.record_success(&a);
        assert!(
            !e.record_failure(&a, t0),
            "the count restarted after a success"
        );
        assert!(e.record_failure(&a, t0));
        assert!(e.is_ejected(&a, t0));
        e.record_success(&a);
        assert!(
            !e.is_ejected(&a, t0),
            "a successful connect ends the ejection"
        );
    }

    #[test]
    fn reused_connections_do_not_clear_the_record() {
        let e = ejection(2, 10);
        let a = addr("127.0.0.1:1");
        let t0 = Instant::now();
        assert!(!e.record_failure(&a, t0));
        // An old keep-alive connection still works while new connects fail.
        e.record_connected(&a, true);
        assert!(
            e.record_failure(&a, t0),
            "a reused connection reset the count of failed new connects"
        );
        e.record_connected(&a, true);
        assert!(
            e.is_ejected(&a, t0),
            "a reused connection ended the ejection"
        );
        e.record_connected(&a, false);
        assert!(!e.is_ejected(&a, t0), "a new connection ends the ejection");
    }

    #[test]
    fn a_huge_cooldown_does_not_overflow() {
        let e = ejection(1, u64::MAX);
        let a = addr("127.0.0.1:1");
        let t0 = Instant::now();
        assert!(e.record_failure(&a, t0));
        assert!(e.is_ejected(&a, t0 + Duration::from_secs(86_400)));
    }

    #[test]
    fn zero_turns_it_off() {
        let e = ejection(0, 10);
        let a = addr("127.0.0.1:1");
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(!e.record_failure(&a, t0));
        }
        assert!(!e.is_ejected(&a, t0));
    }
}
