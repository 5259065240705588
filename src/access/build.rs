//! Builds each route's auth chain from its `auth:` list, at start-up and on every reload.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bucketgate_plugin::Plugin;
use bucketgate_plugin_basic::BasicPlugin;
use bucketgate_plugin_jwt::JwtPlugin;
use bucketgate_plugin_oidc::{
    Context, KeyMinter, MemoryStore, OidcConfig, OidcPlugin, SessionStore, SessionStoreConfig,
};
use once_cell::sync::Lazy;
use zeroize::Zeroizing;

use crate::access::minter::SealedKeyMinter;
use crate::access::Chain;
use crate::config::model::{AuthEntry, Frontend};
use crate::config::Config;
use crate::s3::sealed::Keyring;

/// The HKDF info of the key that encrypts oidc sessions at rest. Every instance with the same
/// sealing keys derives the same key, so instances sharing a Redis read each other's sessions.
const SESSION_KEY_INFO: &[u8] = b"bucketgate oidc sessions v1";

/// What plugins share beyond their own section: the session key, and the key minter of S3
/// routes.
struct Shared {
    session_key: Zeroizing<[u8; 32]>,
    minter: Option<Arc<dyn KeyMinter>>,
}

/// One chain per route, in route order. The config was validated, so building fails only when
/// a key or password file changed since; `run` then refuses to start.
pub fn chains(config: &Config) -> Result<Vec<Chain>, String> {
    let shared = shared(config)?;
    warn_cookie_clashes(config);
    config
        .routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            let plugins = route
                .auth
                .iter()
                .enumerate()
                .map(|(j, entry)| {
                    plugin(entry, route.frontend, &shared).map_err(|p| {
                        format!(
                            "routes[{i}].auth[{j}].{}{}{}: {}",
                            entry.name(),
                            if p.path.is_empty() { "" } else { "." },
                            p.path,
                            p.message
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Chain::new(plugins))
        })
        .collect()
}

fn shared(config: &Config) -> Result<Shared, String> {
    let sealing = &config.access_keys.sealing_keys;
    if sealing.is_empty() {
        // Sessions then live and die with this process (validation refuses a shared store);
        // the key is the process's own, so they survive a reload.
        let local =
            Keyring::process_local().ok_or("no randomness for the session key of oidc sessions")?;
        return Ok(Shared {
            session_key: local.derive(SESSION_KEY_INFO),
            minter: None,
        });
    }
    let keyring = Keyring::from_config(sealing)?;
    let session_key = keyring.derive(SESSION_KEY_INFO);
    let minter: Arc<dyn KeyMinter> = Arc::new(SealedKeyMinter::new(Keyring::from_config(sealing)?));
    Ok(Shared {
        session_key,
        minter: Some(minter),
    })
}

/// Logs a warning for two `oidc` entries that keep their session in the same cookie on the same
/// sign-in host but are different route sets (another provider or client, other `allow` rules,
/// `subject_claim` or `email_verified`): a session opens only on routes of the set it was made
/// for, so signing in on one of them ends the session of the other in that browser.
fn warn_cookie_clashes(config: &Config) {
    let mut seen: Vec<(String, &OidcConfig, String)> = Vec::new();
    for (i, route) in config.routes.iter().enumerate() {
        let name = route.name.clone().unwrap_or_else(|| format!("route{i}"));
        for entry in &route.auth {
            let AuthEntry::Oidc(cfg) = entry else {
                continue;
            };
            let host = cfg.sign_in_host().unwrap_or_default();
            for (other, o, o_host) in &seen {
                if o.cookie.name == cfg.cookie.name
                    && *o_host == host
                    && o.session_binding() != cfg.session_binding()
                {
                    log::warn!(
                        "routes {other} and {name} keep their oidc sessions in the same cookie {:?} on {host} \
                         but differ in provider, client or sign-in rules (allow, subject_claim, email_verified): \
                         a session is valid only on routes of the kind it was made on, so signing in on one ends the \
                         other's; give one of them its own cookie.name",
                        cfg.cookie.name
                    );
                }
            }
            seen.push((name.clone(), cfg, host));
        }
    }
}

/// The memory session stores of this process, by provider, client and cookie: a reload builds
/// new plugins, and their sessions must not end with the old ones. Routes that sign in at the
/// same provider and client with the same cookie share one store, like a shared Redis prefix;
/// what each of them may read is decided by the session binding sealed into every record.
fn memory_store(cfg: &OidcConfig) -> Arc<dyn SessionStore> {
    static STORES: Lazy<Mutex<HashMap<String, Arc<MemoryStore>>>> = Lazy::new(Default::default);
    let id = format!("{}\n{}\n{}", cfg.issuer, cfg.client_id, cfg.cookie.name);
    let mut stores = STORES.lock().unwrap_or_else(|e| e.into_inner());
    stores.entry(id).or_default().clone()
}

fn plugin(
    entry: &AuthEntry,
    frontend: Frontend,
    shared: &Shared,
) -> Result<Arc<dyn Plugin>, bucketgate_plugin::ConfigProblem> {
    Ok(match entry {
        AuthEntry::Jwt(cfg) => Arc::new(JwtPlugin::new(cfg)?),
        AuthEntry::Basic(cfg) => Arc::new(BasicPlugin::new(cfg)?),
        AuthEntry::Oidc(cfg) => {
            let ctx = Context {
                session_key: shared.session_key.clone(),
                minter: match frontend {
                    Frontend::S3 => shared.minter.clone(),
                    Frontend::Files => None,
                },
            };
            Arc::new(match cfg.session_store {
                SessionStoreConfig::Memory => OidcPlugin::with_store(cfg, ctx, memory_store(cfg))?,
                SessionStoreConfig::Redis(_) => OidcPlugin::new(cfg, ctx)?,
            })
        }
    })
}
