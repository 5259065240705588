//! What the spine knows about a finished request, handed to the access log, the metrics and the
//! upstream log, so none of them needs the spine's own context type.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::metrics::NO_ROUTE;

/// One finished request.
pub struct Record<'a> {
    /// The matched route's index and configured name.
    pub route: Option<(usize, Option<&'a str>)>,
    /// The authenticated subject, `-` when there is none.
    pub user: &'a str,
    /// The object key, `-` when the request had none.
    pub key: &'a str,
    /// The API's request id (S3's `x-amz-request-id`), when the route's frontend has them.
    pub request_id: Option<&'a str>,
    pub start: Instant,
    /// Time from choosing a backend to its response head.
    pub upstream_time: Option<Duration>,
}

impl Record<'_> {
    /// [`Record::upstream_time`] in whole milliseconds, for the logs.
    pub fn upstream_ms(&self) -> Option<u128> {
        self.upstream_time.map(|t| t.as_millis())
    }

    /// The route's label in metrics and logs: its name, `route<N>`, or `-` when none matched.
    pub fn route_label(&self) -> Cow<'_, str> {
        route_label(self.route)
    }
}

/// See [`Record::route_label`].
pub fn route_label<'a>(route: Option<(usize, Option<&'a str>)>) -> Cow<'a, str> {
    match route {
        Some((_, Some(name))) => Cow::Borrowed(name),
        Some((i, None)) => Cow::Owned(format!("route{i}")),
        None => Cow::Borrowed(NO_ROUTE),
    }
}
