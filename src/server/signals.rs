//! Process signals, replacing Pingora's own watch so that each does what operators of nginx
//! and Envoy expect:
//!
//! | signal | effect |
//! |---|---|
//! | `SIGTERM` | `/readyz` turns 503 at once; after `server.drain_notice_seconds` the listeners close and in-flight requests get `server.grace_period_seconds` to finish |
//! | `SIGQUIT` | zero-downtime upgrade: the listening sockets go to a `bucketgate run -u` started just before, then this process drains |
//! | `SIGHUP` | config reload ([`crate::server::reload`]); a bad config is logged and the old one keeps serving |
//! | `SIGINT` | fast exit |
//!
//! A second `SIGTERM` or a `SIGINT` during the drain notice cuts it short.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora_core::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{signal, SignalKind};

use crate::gateway::live::Live;

pub struct Signals {
    pub live: Arc<Live>,
    /// Set while a reload runs, so SIGHUPs do not pile up.
    pub reloading: Arc<AtomicBool>,
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut quit), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::quit()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            log::error!("cannot install signal handlers; exiting");
            return ShutdownSignal::FastShutdown;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => self.reload(),
                _ = term.recv() => {
                    let notice = self.start_draining();
                    log::info!("SIGTERM: /readyz answers 503; listeners close in {}s", notice.as_secs());
                    tokio::select! {
                        _ = tokio::time::sleep(notice) => {}
                        _ = term.recv() => log::info!("second SIGTERM: closing listeners now"),
                        _ = int.recv() => return ShutdownSignal::FastShutdown,
                    }
                    return ShutdownSignal::GracefulTerminate;
                }
                _ = quit.recv() => {
                    self.start_draining();
                    return ShutdownSignal::GracefulUpgrade;
                }
                _ = int.recv() => return ShutdownSignal::FastShutdown,
            }
        }
    }
}

impl Signals {
    /// Flips `/readyz` to 503; returns how long to keep serving before the listeners close.
    fn start_draining(&self) -> Duration {
        let gateway = self.live.current();
        gateway.draining.store(true, Ordering::Relaxed);
        Duration::from_secs(gateway.config.server.drain_notice_seconds)
    }

    /// Runs the reload on its own task, so SIGTERM and SIGINT are heard while it runs.
    fn reload(&self) {
        let path = self.live.config_path.display().to_string();
        if self.reloading.swap(true, Ordering::AcqRel) {
            log::warn!("SIGHUP: a reload of {path} is still running; send SIGHUP again after it");
            return;
        }
        log::info!("SIGHUP: reloading {path}");
        let (live, reloading) = (self.live.clone(), self.reloading.clone());
        tokio::spawn(async move {
            match crate::server::reload::reload(&live).await {
                Ok(()) => log::info!("reload: now serving the config in {path}"),
                Err(why) => {
                    log::error!("reload: {path} rejected, the previous config keeps serving: {why}")
                }
            }
            reloading.store(false, Ordering::Release);
        });
    }
}
