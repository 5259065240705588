//! CORS per route, so that a web page on another origin (a video player, a genome browser)
//! can fetch, seek in and read the headers of objects behind bucketgate.
//!
//! Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are answered here,
//! before authentication: browsers send them without credentials. Real requests from an
//! allowed origin get `Access-Control-Allow-Origin`, `Access-Control-Expose-Headers` (so
//! scripts can read `ETag`, `Content-Range`, `Accept-Ranges`, `Content-Length`) and, when
//! configured, `Access-Control-Allow-Credentials` on the proxied response. Every answer that
//! depends on `Origin` says `Vary: Origin`, so caches keep one copy per origin.

use http::Method;
use pingora_http::RequestHeader;

use crate::config::model::CorsConfig;

/// A route's CORS settings, with the header values built once.
#[derive(Debug)]
pub struct CorsPolicy {
    /// Lower-case origins; empty with `any_origin`.
    origins: Vec<String>,
    any_origin: bool,
    methods: Vec<Method>,
    methods_value: String,
    /// Lower-case header names.
    allow_headers: Vec<String>,
    expose_value: String,
    max_age: String,
    credentials: bool,
}

/// What a preflight gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Preflight {
    /// 204 with these headers.
    Allowed(Vec<(&'static str, String)>),
    /// 403, with the reason (for the body and the log).
    Refused(String),
}

impl CorsPolicy {
    pub fn new(cfg: &CorsConfig) -> CorsPolicy {
        let any_origin = cfg.allow_origins.iter().any(|o| o == "*");
        let methods: Vec<Method> = cfg
            .allow_methods
            .iter()
            .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .collect();
        CorsPolicy {
            origins: if any_origin {
                Vec::new()
            } else {
                cfg.allow_origins
                    .iter()
                    .map(|o| o.to_ascii_lowercase())
                    .collect()
            },
            any_origin,
            methods_value: methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            methods,
            allow_headers: cfg
                .allow_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            expose_value: cfg.expose_headers.join(", "),
            max_age: cfg.max_age_seconds.to_string(),
            credentials: cfg.allow_credentials,
        }
    }

    /// Whether requests from `origin` may be read by its scripts.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The `Access-Control-Allow-Origin` value for an allowed `origin`: `*` when any origin
    /// is allowed without credentials, otherwise the origin itself.
    fn allow_origin_value(&self, origin: &str) -> String {
        if self.any_origin && !self.credentials {
            "*".to_string()
        } else {
            origin.to_string()
        }
    }

    /// The answer to a preflight from `origin` (see [`preflight_origin`]).
    pub fn preflight(&self, req: &RequestHeader, origin: &str) -> Preflight {
        if !self.allows_origin(origin) {
            return Preflight::Refused(format!("origin {origin} is not allowed"));
        }
        let wanted = header(req, "access-control-request-method").unwrap_or("");
        if !self.methods.iter().any(|m| m.as_str() == wanted) {
            return Preflight::Refused(format!(
                "method {wanted} is not allowed (allowed: {})",
                self.methods_value
            ));
        }
        let requested = header(req, "access-control-request-headers").unwrap_or("");
        let mut headers = Vec::new();
        for name in requested
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let lower = name.to_ascii_lowercase();
            if !self.allow_headers.contains(&lower) {
                return Preflight::Refused(format!("header {name} is not allowed"));
            }
            headers.push(lower);
        }
        let mut out = vec![
            (
                "access-control-allow-origin",
                self.allow_origin_value(origin),
            ),
            ("access-control-allow-methods", self.methods_value.clone()),
            ("access-control-max-age", self.max_age.clone()),
            ("vary", "Origin".to_string()),
        ];
        if !headers.is_empty() {
            out.push(("access-control-allow-headers", headers.join(", ")));
        }
        if self.credentials {
            out.push(("access-control-allow-credentials", "true".to_string()));
        }
        Preflight::Allowed(out)
    }

    /// The CORS headers of every answer to a real request from the allowed `origin` (added by
    /// [`crate::request::cors_headers`]).
    pub fn response_headers(&self, origin: &str) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            "access-control-allow-origin",
            self.allow_origin_value(origin),
        )];
        if !self.expose_value.is_empty() {
            out.push(("access-control-expose-headers", self.expose_value.clone()));
        }
        if self.credentials {
            out.push(("access-control-allow-credentials", "true".to_string()));
        }
        out.push(("vary", "Origin".to_string()));
        out
    }
}

/// The `Origin` of a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`), or None for any other request.
pub fn preflight_origin(req: &RequestHeader) -> Option<&str> {
    if req.method != Method::OPTIONS || header(req, "access-control-request-method").is_none() {
        return None;
    }
    header(req, "origin")
}

/// The `Origin` of a request, if it has a readable one.
pub fn origin(req: &RequestHeader) -> Option<&str> {
    header(req, "origin")
}

fn header<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> CorsPolicy {
        CorsPolicy::new(&serde_yaml::from_str::<CorsConfig>(yaml).unwrap())
    }

    fn preflight_req(origin: &str, method: &str, headers: Option<&str>) -> RequestHeader {
        let mut req = RequestHeader::build("OPTIONS", b"/files/a.mp4", None).unwrap();
        req.insert_header("origin", origin).unwrap();
        req.insert_header("access-control-request-method", method)
            .unwrap();
        if let Some(h) = headers {
            req.insert_header("access-control-request-headers", h)
                .unwrap();
        }
        req
    }

    fn allowed(p: Preflight) -> Vec<(&'static str, String)> {
        match p {
            Preflight::Allowed(h) => h,
            Preflight::Refused(why) => panic!("refused: {why}"),
        }
    }

    fn get(headers: &[(&'static str, String)], name: &str) -> Option<String> {
        headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn a_listed_origin_passes_its_preflight_with_the_defaults() {
        let p = policy("allow_origins: [\"https://player.example.com\"]");
        let req = preflight_req(
            "https://player.example.com",
            "GET",
            Some("Range, Authorization"),
        );
        assert_eq!(preflight_origin(&req), Some("https://player.example.com"));
        let h = allowed(p.preflight(&req, "https://player.example.com"));
        assert_eq!(
            get(&h, "access-control-allow-origin").as_deref(),
            Some("https://player.example.com")
        );
        assert_eq!(
            get(&h, "access-control-allow-methods").as_deref(),
            Some("GET, HEAD")
        );
        assert_eq!(
            get(&h, "access-control-allow-headers").as_deref(),
            Some("range, authorization")
        );
        assert_eq!(get(&h, "access-control-max-age").as_deref(), Some("600"));
        assert_eq!(get(&h, "vary").as_deref(), Some("Origin"));
        assert_eq!(get(&h, "access-control-allow-credentials"), None);
    }

    #[test]
    fn other_origins_methods_and_headers_are_refused() {
        let p = policy("allow_origins: [\"https://player.example.com\"]");
        for (origin, method, headers) in [
            ("https://evil.example", "GET", None),
            ("https://player.example.com.evil.example", "GET", None),
            ("http://player.example.com", "GET", None),
            ("https://player.example.com", "DELETE", None),
            ("https://player.example.com", "GET", Some("x-secret")),
        ] {
            let req = preflight_req(origin, method, headers);
            assert!(
                matches!(p.preflight(&req, origin), Preflight::Refused(_)),
                "{origin} {method} {headers:?}"
            );
        }
    }

    #[test]
    fn any_origin_answers_a_star_unless_credentials_are_allowed() {
        let p = policy("allow_origins: [\"*\"]");
        let req = preflight_req("https://a.example", "HEAD", None);
        let h = allowed(p.preflight(&req, "https://a.example"));
        assert_eq!(get(&h, "access-control-allow-origin").as_deref(), Some("*"));

        let h = p.response_headers("https://a.example");
        assert_eq!(get(&h, "access-control-allow-origin").as_deref(), Some("*"));
        assert_eq!(
            get(&h, "access-control-expose-headers").as_deref(),
            Some("ETag, Content-Range, Accept-Ranges, Content-Length, Content-Type, Last-Modified")
        );
        assert_eq!(get(&h, "vary").as_deref(), Some("Origin"));

        let p = policy(
            "allow_origins: [\"https://app.example\"]\nallow_credentials: true\nallow_methods: [GET, PUT]",
        );
        let h = p.response_headers("https://app.example");
        assert_eq!(
            get(&h, "access-control-allow-origin").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            get(&h, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        let req = preflight_req("https://app.example", "PUT", None);
        let h = allowed(p.preflight(&req, "https://app.example"));
        assert_eq!(
            get(&h, "access-control-allow-methods").as_deref(),
            Some("GET, PUT")
        );
    }

    #[test]
    fn only_options_with_a_requested_method_is_a_preflight() {
        let mut req = RequestHeader::build("OPTIONS", b"/x", None).unwrap();
        req.insert_header("origin", "https://a.example").unwrap();
        assert_eq!(preflight_origin(&req), None);
        let mut req = RequestHeader::build("GET", b"/x", None).unwrap();
        req.insert_header("origin", "https://a.example").unwrap();
        req.insert_header("access-control-request-method", "GET")
            .unwrap();
        assert_eq!(preflight_origin(&req), None);
        assert_eq!(origin(&req), Some("https://a.example"));
    }
}
