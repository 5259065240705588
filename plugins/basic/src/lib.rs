//! bucketgate plugin: HTTP Basic authentication from htpasswd (bcrypt) or config.
//!
//! It exists for clients that can only send a user name and a password, such as IGV, which
//! re-sends its Basic credentials on every Range request. A route lists it as
//! `auth: [ {basic: {...}} ]`; [`BasicConfig`] is the section.
//!
//! - A request without `Authorization: Basic` is not this plugin's ([`Verdict::NotMine`]); Basic
//!   credentials that are malformed, name an unknown user or carry a wrong password are
//!   rejected with 401 and the `WWW-Authenticate: Basic realm="..", charset="UTF-8"` challenge.
//! - Hashes are bcrypt only (`htpasswd -B`). An unknown user name is checked against a dummy
//!   hash of the users' cost, so the answer takes as long as for a known user.
//! - bcrypt costs 50–100 ms at cost 10, so successful verifications are cached for
//!   `cache_seconds` (see the `cache` module): an HMAC of the credentials under a random
//!   per-process key, never the password.
//! - The htpasswd file is re-read when it changes, checked at most once a second by one request
//!   (a `stat`; the others never wait). A broken new file keeps the previous users and is logged.
//!
//! **bcrypt runs inline**, on the Pingora worker thread that calls
//! [`Plugin::authenticate`]: without a tokio dependency there is no blocking pool to move it to.
//! A verification that misses the cache therefore holds that worker for the bcrypt time (and a
//! flood of wrong passwords costs that much CPU each); the cache keeps repeated requests with
//! good credentials cheap. Keep the cost moderate (`htpasswd -B` uses 5; 10 is plenty).

mod cache;
mod config;
mod hash;
mod header;
mod htpasswd;
mod reload;
mod users;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bucketgate_plugin::{
    ConfigProblem, GrantTemplate, Identity, Plugin, Rejection, RequestView, Verdict,
};

pub use config::{BasicConfig, UserConfig};

use hash::BcryptHash;
use header::Parsed;
use reload::{Change, Fingerprint, Watcher};
use users::{User, UserSet};

/// What the client is told for an unknown user or a wrong password alike.
const INVALID_CREDENTIALS: &str = "invalid credentials";
/// At most this much of a user name goes into a log line.
const MAX_LOGGED_NAME_CHARS: usize = 64;

/// The HTTP Basic plugin, built from a valid [`BasicConfig`].
pub struct BasicPlugin {
    challenge: String,
    /// Grants of every user.
    grants: Vec<GrantTemplate>,
    /// The config's own users, merged with the file's on every reload.
    inline: Vec<(String, User)>,
    cache_ttl: Duration,
    /// The current users; replaced whole when the file changes.
    users: RwLock<Arc<UserSet>>,
    watcher: Option<Watcher>,
    verifications: AtomicU64,
}

impl std::fmt::Debug for BasicPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicPlugin")
            .field("challenge", &self.challenge)
            .field("users", &self.current().users.len())
            .field("htpasswd_file", &self.watcher.as_ref().map(Watcher::path))
            .finish_non_exhaustive()
    }
}

impl BasicPlugin {
    /// Builds the plugin: validates the section and reads the htpasswd file. The error is the
    /// first problem [`BasicConfig::validate`] would report.
    pub fn new(cfg: &BasicConfig) -> Result<BasicPlugin, ConfigProblem> {
        // Taken before reading, so a change during the read is seen at the first check.
        let seen = cfg.htpasswd_file.as_deref().map(Fingerprint::of);
        let loaded = cfg.load().map_err(|problems| {
            problems
                .into_iter()
                .next()
                .unwrap_or_else(|| ConfigProblem::new("", "invalid basic section"))
        })?;
        let cache_ttl = Duration::from_secs(cfg.cache_seconds);
        let set = UserSet::new(&loaded.inline, &loaded.file, cache_ttl);
        if set.users.is_empty() {
            log::warn!("basic: no users yet; every Basic request will be refused");
        }
        let watcher = cfg
            .htpasswd_file
            .clone()
            .zip(seen)
            .map(|(path, seen)| Watcher::new(path, seen));
        Ok(BasicPlugin {
            challenge: format!("Basic realm=\"{}\", charset=\"UTF-8\"", cfg.realm),
            grants: cfg.grants.clone(),
            inline: loaded.inline,
            cache_ttl,
            users: RwLock::new(Arc::new(set)),
            watcher,
            verifications: AtomicU64::new(0),
        })
    }

    /// How many bcrypt verifications ran (dummy ones included): for tests of the cache.
    #[doc(hidden)]
    pub fn bcrypt_verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    fn current(&self) -> Arc<UserSet> {
        Arc::clone(&self.users.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Re-reads the htpasswd file if it is time to look and it changed.
    fn maybe_reload(&self) {
        let Some(watcher) = &self.watcher else {
            return;
        };
        let path = watcher.path().display();
        let file = match watcher.poll() {
            None => return,
            Some(Change::Broken(why)) => {
                log::error!(
                    "basic: {path} is unusable, keeping the previous users: {}",
                    why.join("; ")
                );
                return;
            }
            Some(Change::Read(file)) => file,
        };
        if let Err(why) = users::check_disjoint(&self.inline, &file) {
            log::error!(
                "basic: {path} is unusable, keeping the previous users: {}",
                why.join("; ")
            );
            return;
        }
        let fresh = UserSet::new(&self.inline, &file, self.cache_ttl);
        let mut current = self.users.write().unwrap_or_else(|e| e.into_inner());
        if !current.same_users(&fresh) {
            log::info!("basic: reloaded {path}: {} users", fresh.users.len());
            *current = Arc::new(fresh);
        }
    }

    fn verify(&self, hash: &BcryptHash, password: &[u8]) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        hash.verify(password)
    }

    fn reject(&self, public_message: &str, log_reason: String) -> Rejection {
        Rejection {
            status: 401,
            public_message: public_message.into(),
            log_reason,
            headers: vec![("www-authenticate".into(), self.challenge.clone())],
        }
    }

    /// The identity of `name`: the plugin's grants and the user's own, filled with `{sub}`.
    fn identity(&self, name: &str, user: &User) -> Identity {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), name.into());
        let grants = self
            .grants
            .iter()
            .chain(&user.grants)
            .filter_map(|t| {
                let grant = t.resolve(&claims);
                if grant.is_none() {
                    log::debug!(
                        "basic: user {} cannot fill grant template {t:?}",
                        loggable(name)
                    );
                }
                grant
            })
            .collect();
        Identity {
            subject: name.into(),
            plugin: "basic".into(),
            claims,
            grants,
        }
    }
}

/// A client-chosen user name, safe for one log line.
fn loggable(name: &str) -> String {
    let mut shown: String = name
        .chars()
        .take(MAX_LOGGED_NAME_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if name.chars().nth(MAX_LOGGED_NAME_CHARS).is_some() {
        shown.push_str("...");
    }
    shown
}

#[async_trait]
impl Plugin for BasicPlugin {
    fn name(&self) -> &str {
        "basic"
    }

    async fn authenticate(&self, req: &RequestView) -> Verdict {
        let credentials = match header::parse(&req.headers) {
            Parsed::NotBasic => return Verdict::NotMine,
            Parsed::Malformed(why) => {
                return Verdict::Reject(
                    self.reject("malformed credentials", format!("basic: {why}")),
                )
            }
            Parsed::Credentials(c) => c,
        };
        self.maybe_reload();
        let set = self.current();
        let (name, password) = (credentials.user(), credentials.password());
        let Some(user) = set.users.get(name) else {
            // As long as for a known user, so timing does not tell which names exist.
            self.verify(&set.dummy, password);
            return Verdict::Reject(self.reject(
                INVALID_CREDENTIALS,
                format!("basic: unknown user {}", loggable(name)),
            ));
        };
        if !set.cache.hit(name, password) {
            if !self.verify(&user.hash, password) {
                return Verdict::Reject(self.reject(
                    INVALID_CREDENTIALS,
                    format!("basic: wrong password for user {}", loggable(name)),
                ));
            }
            set.cache.insert(name, password);
        }
        Verdict::Authenticated(self.identity(name, user))
    }

    fn challenge(&self) -> Option<String> {
        Some(self.challenge.clone())
    }
}

#[cfg(test)]
mod tests;
