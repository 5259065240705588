//! A raw HTTP/1.1 request head turned into Pingora's `RequestHeader` the way Pingora's own
//! HTTP/1 server does it (`pingora-core` `protocols/http/v1/server.rs`): `httparse` with at
//! most 256 headers, then `RequestHeader::build` on the method and the raw target, and every
//! header appended in order.

use http::HeaderValue;
use pingora_http::RequestHeader;

/// Pingora's limit on the number of request headers.
const MAX_HEADERS: usize = 256;

/// The request head at the start of `raw` (up to its blank line), or `None` when Pingora would
/// refuse it before any of bucketgate's code runs.
pub fn parse(raw: &[u8]) -> Option<RequestHeader> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let mut out = RequestHeader::build(
        req.method.unwrap_or(""),
        req.path.unwrap_or("").as_bytes(),
        Some(req.headers.len()),
    )
    .ok()?;
    for h in req.headers.iter() {
        let value = HeaderValue::from_bytes(h.value).ok()?;
        out.append_header(h.name.to_owned(), value).ok()?;
    }
    Some(out)
}
