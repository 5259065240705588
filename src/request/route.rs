//! Matching a request to its route by host and raw path.

use pingora_proxy::Session;

use crate::gateway::route_table::strip_port;
use crate::gateway::Gateway;
use crate::reply::Refusal;

/// The matched route and the request's host and raw path remainder.
pub struct Found {
    pub index: usize,
    /// The host without its port, lower case.
    pub host: String,
    /// The raw path after the route prefix, with the query.
    pub rest: String,
}

/// The route for the request, or the refusal (404, or 400 for a path that is not UTF-8).
pub fn find(gw: &Gateway, session: &Session) -> Result<Found, Refusal> {
    let req = session.req_header();
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri.host())
        .unwrap_or("");
    let raw = req.raw_path();
    let path_end = raw.iter().position(|&b| b == b'?').unwrap_or(raw.len());
    let path = std::str::from_utf8(&raw[..path_end])
        .map_err(|_| Refusal::bad_request("invalid_key", "path is not valid UTF-8"))?;
    let (index, rest) = gw
        .routes
        .find(host, path)
        .ok_or_else(|| Refusal::new(404, "no_route", "no route serves this path"))?;
    let rest_start = path.len() - rest.len();
    let rest = std::str::from_utf8(&raw[rest_start..])
        .map_err(|_| Refusal::bad_request("invalid_key", "query is not valid UTF-8"))?;
    Ok(Found {
        index,
        host: strip_port(host).to_ascii_lowercase(),
        rest: rest.to_string(),
    })
}
