//! Builds each route's auth chain from its `auth:` list, once, at start-up.

use std::sync::Arc;

use bucketgate_plugin::Plugin;
use bucketgate_plugin_basic::BasicPlugin;
use bucketgate_plugin_jwt::JwtPlugin;
use bucketgate_plugin_oidc::{Context, KeyMinter, OidcPlugin};
use zeroize::Zeroizing;

use crate::auth::minter::SealedKeyMinter;
use crate::auth::Chain;
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
        // Sessions then live and die with this process (validation refuses a shared store).
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut())
            .map_err(|e| format!("cannot draw a random session key: {e}"))?;
        return Ok(Shared {
            session_key: key,
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

fn plugin(
    entry: &AuthEntry,
    frontend: Frontend,
    shared: &Shared,
) -> Result<Arc<dyn Plugin>, bucketgate_plugin::ConfigProblem> {
    Ok(match entry {
        AuthEntry::Jwt(cfg) => Arc::new(JwtPlugin::new(cfg)?),
        AuthEntry::Basic(cfg) => Arc::new(BasicPlugin::new(cfg)?),
        AuthEntry::Oidc(cfg) => Arc::new(OidcPlugin::new(
            cfg,
            Context {
                session_key: shared.session_key.clone(),
                minter: match frontend {
                    Frontend::S3 => shared.minter.clone(),
                    Frontend::Files => None,
                },
            },
        )?),
    })
}
