//! Runs a pool's resolution and health checks for a pool that a config reload built. Pools of
//! the start-up config run as Pingora background services (the listeners wait for their first
//! resolution); a reload cannot add services to a running server, so it spawns the same loop
//! itself, and stops it when the pool is dropped.

use std::sync::Arc;

use pingora_core::services::background::BackgroundService;
use tokio::sync::watch;

/// Stops the spawned loop when dropped.
pub struct Stopper(watch::Sender<bool>);

impl Drop for Stopper {
    fn drop(&mut self) {
        // The loop treats a closed channel as "never stop", so say it explicitly.
        let _ = self.0.send(true);
    }
}

/// Spawns `task`'s background loop on the current runtime.
pub fn spawn<T: BackgroundService + Send + Sync + 'static>(task: Arc<T>) -> Stopper {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move { task.start(rx).await });
    Stopper(tx)
}
