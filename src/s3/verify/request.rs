//! The parts of an incoming request the verifier reads, borrowed from Pingora's
//! `RequestHeader`: method, path and query exactly as received, headers, and the URI
//! authority (the `host` of HTTP/2 and absolute-form requests, which carry no `Host` header).

use http::HeaderMap;
use pingora_http::RequestHeader;

pub(super) struct RequestView<'a> {
    pub(super) method: &'a str,
    /// The path as sent (still percent-encoded).
    pub(super) path: &'a str,
    /// The query as sent, without `?`.
    pub(super) query: Option<&'a str>,
    pub(super) headers: &'a HeaderMap,
    pub(super) authority: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    pub(super) fn of(req: &'a RequestHeader) -> RequestView<'a> {
        RequestView {
            method: req.method.as_str(),
            path: req.uri.path(),
            query: req.uri.query(),
            headers: &req.headers,
            authority: req.uri.authority().map(|a| a.as_str()),
        }
    }

    /// See [`single_header`].
    pub(super) fn single_header(&self, name: &str) -> Result<Option<&'a str>, ()> {
        single_header(self.headers, name)
    }
}

/// The value of a header that may appear at most once: `Ok(None)` if absent, `Err(())` if
/// repeated or not visible ASCII.
pub(super) fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| ()),
        (Some(_), Some(_)) => Err(()),
    }
}
