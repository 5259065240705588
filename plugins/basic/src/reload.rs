//! Noticing that the htpasswd file changed, cheaply, from the request path: at most once per
//! [`CHECK_INTERVAL`] one request (the others never wait) compares the file's identity (inode,
//! device, size, mtime, ctime) with the one last read and, if it differs, re-reads it. A file
//! modified within the last [`SETTLE`] is re-read at the next check even if its identity looks
//! the same, since a rewrite within one timestamp tick can keep the size, inode and mtime.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::htpasswd::{self, FileUser};

/// How often the file is looked at, at most.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// A file changed this recently is re-read at the next check whatever its identity.
pub const SETTLE: Duration = Duration::from_secs(2);

/// What tells one version of the file from another without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// Modified within [`SETTLE`] of when it was taken.
    recent: bool,
}

impl Fingerprint {
    /// The file's fingerprint now, or why it cannot be had.
    pub fn of(path: &Path) -> Result<Fingerprint, String> {
        let m =
            std::fs::metadata(path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
        let recent = match m.modified() {
            Ok(t) => SystemTime::now()
                .duration_since(t)
                .map_or(true, |age| age < SETTLE),
            Err(_) => true,
        };
        Ok(Fingerprint {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            recent,
        })
    }

    fn same_file_version(&self, other: &Fingerprint) -> bool {
        (self.dev, self.ino, self.len, self.mtime, self.ctime)
            == (other.dev, other.ino, other.len, other.mtime, other.ctime)
    }
}

/// The outcome of a check that found something to do.
#[derive(Debug)]
pub enum Change {
    /// The file was (re-)read and parsed.
    Read(Vec<FileUser>),
    /// The file changed but cannot be used; the reasons are for the log.
    Broken(Vec<String>),
}

/// Watches one htpasswd file.
#[derive(Debug)]
pub struct Watcher {
    path: PathBuf,
    epoch: Instant,
    /// Milliseconds after `epoch` before which no check starts.
    next_check_ms: AtomicU64,
    /// What the last check saw: a fingerprint, or the error of taking one.
    seen: Mutex<Result<Fingerprint, String>>,
}

impl Watcher {
    /// A watcher that considers `seen` (taken before the file was first read) the current version.
    pub fn new(path: PathBuf, seen: Result<Fingerprint, String>) -> Watcher {
        let watcher = Watcher {
            path,
            epoch: Instant::now(),
            next_check_ms: AtomicU64::new(0),
            seen: Mutex::new(seen),
        };
        watcher.next_check_ms.store(
            watcher.now_ms() + CHECK_INTERVAL.as_millis() as u64,
            Ordering::Relaxed,
        );
        watcher
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Checks the file if a check is due and no other caller is checking; `None` when there was
    /// nothing to do. Never waits for another caller.
    pub fn poll(&self) -> Option<Change> {
        let now = self.now_ms();
        let due = self.next_check_ms.load(Ordering::Relaxed);
        if now < due {
            return None;
        }
        let next = now.saturating_add(CHECK_INTERVAL.as_millis() as u64);
        // Only the caller that moves the deadline checks.
        self.next_check_ms
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Relaxed)
            .ok()?;
        let mut seen = self.seen.try_lock().ok()?;
        let now_seen = Fingerprint::of(&self.path);
        let change = match (&*seen, &now_seen) {
            (Ok(old), Ok(new)) if old.same_file_version(new) && !old.recent => None,
            (Err(old), Err(new)) if old == new => None,
            (_, Err(why)) => Some(Change::Broken(vec![why.clone()])),
            (_, Ok(_)) => Some(match htpasswd::load(&self.path) {
                Ok(users) => Change::Read(users),
                Err(problems) => Change::Broken(problems),
            }),
        };
        *seen = now_seen;
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watcher(path: &Path) -> Watcher {
        Watcher::new(path.to_owned(), Fingerprint::of(path))
    }

    fn force_due(w: &Watcher) {
        w.next_check_ms.store(0, Ordering::Relaxed);
    }

    #[test]
    fn checks_at_most_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, "").unwrap();
        let w = watcher(&path);
        std::fs::write(&path, "# changed\n").unwrap();
        assert!(w.poll().is_none(), "not due yet");
        force_due(&w);
        assert!(matches!(w.poll(), Some(Change::Read(u)) if u.is_empty()));
        assert!(w.poll().is_none(), "just checked");
    }

    fn age(path: &Path, by: Duration) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn an_unchanged_settled_file_is_not_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, "").unwrap();
        age(&path, Duration::from_secs(60));
        let w = watcher(&path);
        force_due(&w);
        assert!(w.poll().is_none());
    }

    #[test]
    fn a_recently_modified_file_is_reread_until_it_settles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, "").unwrap();
        let w = watcher(&path);
        force_due(&w);
        assert!(matches!(w.poll(), Some(Change::Read(_))));
        age(&path, Duration::from_secs(60));
        force_due(&w);
        // Its ctime changed with the mtime: read once more, then settled.
        assert!(matches!(w.poll(), Some(Change::Read(_))));
        force_due(&w);
        assert!(w.poll().is_none());
    }

    #[test]
    fn a_vanished_file_is_broken_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, "").unwrap();
        let w = watcher(&path);
        std::fs::remove_file(&path).unwrap();
        force_due(&w);
        assert!(matches!(w.poll(), Some(Change::Broken(why)) if why[0].contains("cannot stat")));
        force_due(&w);
        assert!(w.poll().is_none(), "the same error is reported once");
        std::fs::write(&path, "bad line\n").unwrap();
        force_due(&w);
        assert!(matches!(w.poll(), Some(Change::Broken(why)) if why[0].contains("line 1")));
    }
}
