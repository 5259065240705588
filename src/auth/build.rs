//! Builds each route's auth chain from its `auth:` list, once, at start-up.

use std::sync::Arc;

use bucketgate_plugin::Plugin;
use bucketgate_plugin_basic::BasicPlugin;
use bucketgate_plugin_jwt::JwtPlugin;

use crate::auth::Chain;
use crate::config::model::AuthEntry;
use crate::config::Config;

/// One chain per route, in route order. The config was validated, so building fails only when
/// a key or password file changed since; `run` then refuses to start.
pub fn chains(config: &Config) -> Result<Vec<Chain>, String> {
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
                    plugin(entry).map_err(|p| {
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

fn plugin(entry: &AuthEntry) -> Result<Arc<dyn Plugin>, bucketgate_plugin::ConfigProblem> {
    Ok(match entry {
        AuthEntry::Jwt(cfg) => Arc::new(JwtPlugin::new(cfg)?),
        AuthEntry::Basic(cfg) => Arc::new(BasicPlugin::new(cfg)?),
    })
}
