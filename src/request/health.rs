//! `/healthz` (the process is alive) and `/readyz` (every pool has a usable backend and we are
//! not draining), answered before route matching so load balancers never need credentials.
//! These two paths are reserved on every host.
//!
//! Anyone may ask, so the answer tells only what a load balancer needs: the status code and
//! `ready`, `unready` or `draining`. Which upstream pools have no backend names the storage
//! layout behind the gateway, so it is added only for a client on this host (a loopback
//! address, after `X-Forwarded-For` from `limits.trusted_proxies`, so a remote client behind
//! a local proxy does not count as local). Operators elsewhere read the same from the log and
//! from `bucketgate_backend_healthy{pool,backend}` on the metrics listener.

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
        "/readyz" => {
            let local = (gateway.limits.client_ip(session))
                .is_some_and(|ip| ip.to_canonical().is_loopback());
            readiness(gateway, local)
        }
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

/// The readiness answer; `local`: the client is on this host and may see pool names.
fn readiness(gateway: &Gateway, local: bool) -> (u16, serde_json::Value) {
    if gateway.is_draining() {
        return (503, serde_json::json!({"status": "draining"}));
    }
    answer(gateway.pools.unready(), local)
}

fn answer(unready: Vec<&str>, local: bool) -> (u16, serde_json::Value) {
    match (unready.is_empty(), local) {
        (true, _) => (200, serde_json::json!({"status": "ready"})),
        (false, true) => (
            503,
            serde_json::json!({"status": "unready", "upstreams_without_backend": unready}),
        ),
        (false, false) => (503, serde_json::json!({"status": "unready"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_names_only_for_a_local_client() {
        let down = || vec!["rgw-internal"];
        let (status, body) = answer(down(), false);
        assert_eq!(status, 503);
        assert_eq!(body, serde_json::json!({"status": "unready"}));
        assert!(!body.to_string().contains("rgw-internal"));
        let (status, body) = answer(down(), true);
        assert_eq!(status, 503);
        assert_eq!(body["upstreams_without_backend"][0], "rgw-internal");
        assert_eq!(answer(Vec::new(), false).0, 200);
    }
}
