//! Route matching: which configured route takes a request, by host and path prefix.
//!
//! The rule is nginx's: the longest matching path prefix wins, and among equal prefixes a route
//! bound to the request's host beats one that takes any host. Matching runs on the raw path, so
//! an encoded prefix (`/fil%65s/`) does not match `/files/`; the remainder is decoded later.

use crate::config::model::Route;

/// A route ready for matching.
#[derive(Debug)]
pub struct RouteMatcher {
    /// Lower-cased host without port; `*.example.com` is stored as suffix `.example.com`.
    host: HostPattern,
    /// The prefix without a trailing slash; the root route has the empty prefix.
    prefix: String,
}

#[derive(Debug, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    Suffix(String),
}

impl RouteMatcher {
    pub fn new(route: &Route) -> RouteMatcher {
        let host = match route.host.as_deref().map(|h| h.to_ascii_lowercase()) {
            None => HostPattern::Any,
            Some(h) => match h.strip_prefix('*') {
                Some(suffix) => HostPattern::Suffix(suffix.to_string()),
                None => HostPattern::Exact(h),
            },
        };
        RouteMatcher {
            host,
            prefix: route.path_prefix.trim_end_matches('/').to_string(),
        }
    }

    /// The raw path remainder after the prefix and its slash, if this route takes the request.
    pub fn matches<'p>(&self, host: &str, path: &'p str) -> Option<&'p str> {
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => host.eq_ignore_ascii_case(h),
            HostPattern::Suffix(s) => {
                host.len() > s.len()
                    && host.is_char_boundary(host.len() - s.len())
                    && host[host.len() - s.len()..].eq_ignore_ascii_case(s)
            }
        };
        if !host_ok {
            return None;
        }
        let rest = path.strip_prefix(self.prefix.as_str())?;
        if rest.is_empty() {
            return Some("");
        }
        rest.strip_prefix('/')
    }

    /// Higher is more specific: prefix length first, then a bound host.
    fn specificity(&self) -> (usize, bool) {
        (self.prefix.len(), self.host != HostPattern::Any)
    }
}

/// All routes of a config, in file order.
#[derive(Debug)]
pub struct RouteTable {
    matchers: Vec<RouteMatcher>,
}

impl RouteTable {
    pub fn new(routes: &[Route]) -> RouteTable {
        RouteTable {
            matchers: routes.iter().map(RouteMatcher::new).collect(),
        }
    }

    /// The index of the most specific route for `host` (port ignored) and the raw remainder.
    pub fn find<'p>(&self, host: &str, path: &'p str) -> Option<(usize, &'p str)> {
        let host = strip_port(host);
        let mut best: Option<(usize, &'p str, (usize, bool))> = None;
        for (i, m) in self.matchers.iter().enumerate() {
            if let Some(rest) = m.matches(host, path) {
                let spec = m.specificity();
                if best.as_ref().is_none_or(|b| spec > b.2) {
                    best = Some((i, rest, spec));
                }
            }
        }
        best.map(|(i, rest, _)| (i, rest))
    }
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: Option<&str>, prefix: &str) -> Route {
        serde_yaml::from_str(&format!(
            "{{upstream: u, bucket: b, path_prefix: {prefix:?}{}}}",
            host.map(|h| format!(", host: {h:?}")).unwrap_or_default()
        ))
        .unwrap()
    }

    #[test]
    fn longest_prefix_and_host_win() {
        let t = RouteTable::new(&[
            route(None, "/"),
            route(None, "/files"),
            route(Some("files.example.com"), "/files/"),
            route(Some("*.cdn.example.com"), "/"),
        ]);
        assert_eq!(t.find("x", "/a/b"), Some((0, "a/b")));
        assert_eq!(t.find("x", "/files/a"), Some((1, "a")));
        assert_eq!(t.find("x", "/filesystem"), Some((0, "filesystem")));
        assert_eq!(t.find("FILES.example.com:8080", "/files/a"), Some((2, "a")));
        assert_eq!(t.find("img.cdn.example.com", "/k"), Some((3, "k")));
        assert_eq!(t.find("cdn.example.com", "/k"), Some((0, "k")));
        assert_eq!(t.find("x", "/files"), Some((1, "")));
    }

    #[test]
    fn no_route() {
        let t = RouteTable::new(&[route(None, "/files")]);
        assert_eq!(t.find("x", "/other"), None);
        assert_eq!(t.find("x", "/fil%65s/a"), None);
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }
}
