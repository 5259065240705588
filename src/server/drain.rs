//! The drain flag's last resort: `/readyz` must fail before in-flight requests drain, so the
//! gateway is marked draining when Pingora broadcasts shutdown, whatever started it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;

/// Flips the gateway to draining when Pingora broadcasts shutdown (the signal watch in
/// [`crate::server::signals`] normally did so already, before the listeners closed).
pub struct DrainWatch(pub Arc<AtomicBool>);

#[async_trait]
impl BackgroundService for DrainWatch {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
        if !self.0.swap(true, Ordering::Relaxed) {
            log::info!("shutdown started: /readyz now answers 503");
        }
    }
}
