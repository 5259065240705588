//! Builds the owned [`RequestView`] that plugins see from Pingora's session.

use bucketgate_plugin::RequestView;
use pingora_proxy::Session;

pub fn build(session: &Session, route: &str) -> RequestView {
    let req = session.req_header();
    let raw = String::from_utf8_lossy(req.raw_path()).into_owned();
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (raw, String::new()),
    };
    RequestView {
        method: req.method.clone(),
        path,
        query,
        headers: req.headers.clone(),
        client_addr: session.client_addr().and_then(|a| a.as_inet().copied()),
        route: route.to_string(),
        tls: session
            .digest()
            .is_some_and(|digest| digest.ssl_digest.is_some()),
    }
}
