//! Config reload (SIGHUP): read and validate the YAML again, build a complete new gateway (auth
//! chains, access keys, pools), and only then swap it in. Any problem leaves the running config
//! untouched and is logged with its file, line and column, like `bucketgate check`.
//!
//! What a running process cannot change (listening addresses, threads, the PID file, the
//! upgrade socket, the error log, the keep-alive pool size) is reported as needing an upgrade
//! (`SIGQUIT` + `bucketgate run -u`), which re-reads everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::access::access_keys::AccessKeyStore;
use crate::config::{self, Config};
use crate::gateway::live::Live;
use crate::gateway::Gateway;
use crate::upstream::Pools;

/// How long a reload waits for the names of new or changed pools to resolve.
const RESOLVE_WAIT: Duration = Duration::from_secs(5);

/// Reloads `live` from its config file; `Err` says why the old config is still serving.
pub async fn reload(live: &Live) -> Result<(), String> {
    let path = live.config_path.clone();
    let cfg = config::load(&path).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        format!("{} problem(s): {}", lines.len(), lines.join("; "))
    })?;
    let old = live.current();
    for what in needs_upgrade(&old.config, &cfg) {
        log::warn!("reload: {what} changed; it takes effect only after an upgrade (SIGQUIT + run -u) or a restart");
    }
    // Plugins may read files and fetch key sets while they are built: off the async threads.
    let built = tokio::task::spawn_blocking(move || {
        let chains = crate::access::build::chains(&cfg)?;
        let keys = AccessKeyStore::from_config(&cfg.access_keys)?;
        Ok::<_, String>((cfg, chains, keys))
    })
    .await
    .map_err(|e| format!("building the new config failed: {e}"))??;
    let (cfg, chains, keys) = built;
    let pools = Pools::rebuild(&cfg.upstreams, &old.pools);
    wait_for_resolution(&pools).await?;
    check_new_pools(&pools, &old.pools).await;
    crate::server::listeners::reload(&live.tls, &cfg.listeners)?;
    let connector = old.client.connector().clone();
    let mut gateway = Gateway::new(cfg, pools, chains, keys, connector);
    gateway.draining = old.draining.clone();
    live.replace(Arc::new(gateway));
    Ok(())
}

/// New pools start empty; serving from them before their names resolve would answer 502.
async fn wait_for_resolution(pools: &Pools) -> Result<(), String> {
    let deadline = Instant::now() + RESOLVE_WAIT;
    loop {
        let empty: Vec<&str> = pools
            .by_name
            .values()
            .filter(|p| p.backend_count() == 0)
            .map(|p| p.name.as_str())
            .collect();
        if empty.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no endpoint of upstream(s) {} resolved within {}s",
                empty.join(", "),
                RESOLVE_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Health-checks the backends of new or changed pools before they take traffic (each pool
/// within `FIRST_CHECKS`); what is not judged by then is judged by the pool's own loop.
async fn check_new_pools(pools: &Pools, old: &Pools) {
    let new = pools
        .by_name
        .values()
        .filter(|p| !old.by_name.values().any(|o| Arc::ptr_eq(o, p)));
    let done = futures_util::future::join_all(
        new.map(|p| async move { (p.name.as_str(), p.check_before_serving().await) }),
    )
    .await;
    for (name, _) in done.iter().filter(|(_, finished)| !finished) {
        log::warn!("reload: upstream {name}: the first health checks are still running; serving while they finish");
    }
}

/// Settings a running process keeps until it is upgraded or restarted.
fn needs_upgrade(old: &Config, new: &Config) -> Vec<&'static str> {
    // Each setting as text, so one comparison serves them all.
    type Show = fn(&Config) -> String;
    const FIXED: &[(&str, Show)] = &[
        ("listeners", |c| {
            let addrs: Vec<String> = c
                .listeners
                .iter()
                .map(|l| l.address.0.to_string())
                .collect();
            addrs.join(",")
        }),
        ("server.threads", |c| format!("{:?}", c.server.threads)),
        ("server.pid_file", |c| c.server.pid_file.clone()),
        ("server.upgrade_sock", |c| c.server.upgrade_sock.clone()),
        ("server.error_log", |c| format!("{:?}", c.server.error_log)),
        ("server.upstream_keepalive_pool_size", |c| {
            c.server.upstream_keepalive_pool_size.to_string()
        }),
        ("server.log_level", |c| c.server.log_level.clone()),
        ("metrics", |c| format!("{:?}", c.metrics)),
    ];
    FIXED
        .iter()
        .filter(|(_, show)| show(old) != show(new))
        .map(|(name, _)| *name)
        .collect()
}
