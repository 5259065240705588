//! `/healthz` (the process is alive) and `/readyz` (every pool has a usable backend and we are
//! not draining), answered before route matching so load balancers never need credentials.
//! These two paths are reserved on every host.

use bytes::Bytes;
use pingora_error::Result;
use pingora_proxy::Session;

use crate::gateway::Gateway;
use crate::reply;

/// Answers the health endpoints; `Ok(true)` when the request was one of them.
pub async fn handle(session: &mut Session, gateway: &Gateway) -> Result<bool> {
    let path = session.req_header().uri.path();
    let (status, body) = match path {
        "/healthz" => (200, serde_json::json!({"status": "alive"})),
        "/readyz" => readiness(gateway),
        _ => return Ok(false),
    };
    reply::send(
        session,
        status,
        "application/json",
        Bytes::from(body.to_string()),
        &[],
    )
    .await?;
    Ok(true)
}

fn readiness(gateway: &Gateway) -> (u16, serde_json::Value) {
    if gateway.is_draining() {
        return (503, serde_json::json!({"status": "draining"}));
    }
    let unready = gateway.pools.unready();
    if unready.is_empty() {
        (200, serde_json::json!({"status": "ready"}))
    } else {
        (
            503,
            serde_json::json!({"status": "unready", "upstreams_without_backend": unready}),
        )
    }
}
