//! The plugin's "now", in whole seconds since the Unix epoch: the system clock, or in tests a
//! clock the test sets, so that expiry (of a token, of a cached verification) is tested without
//! sleeping and without timing assertions.

#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(test)]
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the plugin reads the time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Whatever the test stored.
    #[cfg(test)]
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// Seconds since the Unix epoch (0 for a clock set before it).
    pub fn now(&self) -> u64 {
        match self {
            Clock::System => unix_now(),
            #[cfg(test)]
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }
}

/// The system clock in seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
