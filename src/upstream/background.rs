//! Runs a pool's resolution and health checks, and stops them when the pool goes away.
//!
//! Pools of the start-up config run as Pingora background services (the listeners wait for
//! their first resolution); a reload cannot add services to a running server, so it spawns the
//! same loop itself. Either way a reload that changes or removes a pool must stop its loop, or
//! the old pool keeps resolving and health-checking its old backends forever. So every pool
//! owns a [`Stopper`], and its loop runs inside a [`PoolService`] that forwards both Pingora's
//! shutdown and the stopper's signal into the watch the load balancer's loop reads.

use std::sync::Arc;

use async_trait::async_trait;
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;
use pingora_core::services::ServiceReadyNotifier;
use pingora_load_balancing::LoadBalancer;
use tokio::sync::watch;

use super::selection::Balanced;

/// Stops the pool's loop when dropped (with the pool).
pub struct Stopper(watch::Sender<bool>);

impl Drop for Stopper {
    fn drop(&mut self) {
        // The load balancer's loop treats a closed channel as "never stop", so say it.
        let _ = self.0.send(true);
    }
}

/// A pool's load balancer loop, stopped by Pingora's shutdown or by the pool's [`Stopper`].
pub struct PoolService {
    lb: Arc<LoadBalancer<Balanced>>,
    /// `health_check.fall`: the rounds of first checks before the listeners open.
    fall: usize,
    stop: watch::Receiver<bool>,
}

/// The loop of `lb` (whose health check marks a backend down after `fall` failures), and the
/// stopper that ends it.
pub fn pool_service(lb: Arc<LoadBalancer<Balanced>>, fall: usize) -> (PoolService, Stopper) {
    let (tx, stop) = watch::channel(false);
    (PoolService { lb, fall, stop }, Stopper(tx))
}

/// The longest the first health checks may hold the listeners (at start) or a reload back.
pub const FIRST_CHECKS: std::time::Duration = std::time::Duration::from_secs(5);

/// Health-checks every backend of `lb` `fall` times in a row, now (at most [`FIRST_CHECKS`]).
/// Pingora starts each new backend healthy; after this, one that does not answer is already
/// down, so no request is sent to it first. False when the time ran out.
pub async fn first_checks(lb: &LoadBalancer<Balanced>, fall: usize) -> bool {
    let rounds = async {
        for _ in 0..fall.max(1) {
            lb.backends().run_health_check(true).await;
        }
    };
    tokio::time::timeout(FIRST_CHECKS, rounds).await.is_ok()
}

/// Returns once `rx` says `true`; never if its sender goes away without saying so.
async fn until_true(mut rx: watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            if *rx.borrow() {
                return;
            }
            std::future::pending::<()>().await;
        }
    }
}

impl PoolService {
    async fn run(&self, shutdown: ShutdownWatch, ready: Option<ServiceReadyNotifier>) {
        let (tx, rx) = watch::channel(false);
        let lb = async {
            match ready {
                Some(ready) => {
                    // At start: resolve and check before the listeners (which wait for `ready`)
                    // open; the loop then resolves again and reports ready at once.
                    if self.lb.update().await.is_ok() && !first_checks(&self.lb, self.fall).await {
                        log::warn!(
                            "the first health checks took over {}s; serving while they finish",
                            FIRST_CHECKS.as_secs()
                        );
                    }
                    self.lb.start_with_ready_notifier(rx, ready).await
                }
                None => self.lb.start(rx).await,
            }
        };
        tokio::pin!(lb);
        tokio::select! {
            _ = &mut lb => return,
            _ = until_true(shutdown) => {}
            _ = until_true(self.stop.clone()) => {}
        }
        let _ = tx.send(true);
        lb.await;
    }
}

#[async_trait]
impl BackgroundService for PoolService {
    async fn start_with_ready_notifier(
        &self,
        shutdown: ShutdownWatch,
        ready: ServiceReadyNotifier,
    ) {
        self.run(shutdown, Some(ready)).await
    }

    async fn start(&self, shutdown: ShutdownWatch) {
        self.run(shutdown, None).await
    }
}

/// Spawns `task`'s loop on the current runtime (pools built by a reload); it runs until the
/// pool's [`Stopper`] is dropped.
pub fn spawn(task: Arc<PoolService>) {
    // No Pingora shutdown reaches a spawned loop: its sender is dropped at once, which
    // [`until_true`] reads as "never".
    let (_, never) = watch::channel(false);
    tokio::spawn(async move { task.start(never).await });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::model::Upstream;
    use crate::upstream::Pool;

    fn pool() -> (Pool, Arc<PoolService>) {
        let cfg: Upstream = serde_yaml::from_str(
            "endpoints: [127.0.0.1:9]\ncredentials: {access_key_id: k, secret_access_key: s}\n",
        )
        .unwrap();
        let (pool, service) = Pool::new("p", &cfg);
        (pool, service.task())
    }

    /// Waits for the loop to end; a loop that never stops fails the test instead of hanging.
    async fn ended(handle: tokio::task::JoinHandle<()>) -> bool {
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn dropping_a_start_up_pool_stops_its_loop() {
        let (pool, task) = pool();
        // Pingora's shutdown stays open and false, as while the server runs.
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let handle = tokio::spawn(async move { task.start(shutdown).await });
        tokio::task::yield_now().await;
        assert!(!handle.is_finished(), "the loop runs while the pool lives");
        drop(pool);
        assert!(ended(handle).await, "the loop outlived its pool");
    }

    #[tokio::test]
    async fn pingora_shutdown_still_stops_the_loop() {
        let (_pool, task) = pool();
        let (shutdown_tx, shutdown) = watch::channel(false);
        let handle = tokio::spawn(async move { task.start(shutdown).await });
        shutdown_tx.send(true).unwrap();
        assert!(
            ended(handle).await,
            "the loop ignored the server's shutdown"
        );
    }

    #[tokio::test]
    async fn a_closed_shutdown_watch_does_not_stop_the_loop() {
        let (pool, task) = pool();
        let (_, never) = watch::channel(false);
        let handle = tokio::spawn(async move { task.start(never).await });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!handle.is_finished(), "a closed watch is not a shutdown");
        drop(pool);
        assert!(ended(handle).await);
    }
}
