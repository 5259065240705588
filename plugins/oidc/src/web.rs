//! The HTTP details of sign-in: which requests are browsers, whether the client reached us over
//! https (for the cookie's `Secure`), cookie headers, and return URLs that can only lead back to
//! this site (no open redirect).

use bucketgate_plugin::RequestView;
use percent_encoding::percent_decode_str;

use crate::config::{parse_absolute, Cidr, ParsedUrl, SecureMode, Unauthenticated};

/// Whether the client reached us over https: TLS on the connection, or a trusted proxy's
/// `X-Forwarded-Proto: https`.
pub fn came_over_https(req: &RequestView, trusted: &[Cidr]) -> bool {
    if req.tls {
        return true;
    }
    let trusted_peer = req
        .client_addr
        .is_some_and(|a| trusted.iter().any(|c| c.contains(a.ip())));
    trusted_peer
        && req
            .header("x-forwarded-proto")
            .and_then(|v| v.split(',').next())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// Whether cookies set on this request carry `Secure`.
pub fn secure_cookies(req: &RequestView, mode: SecureMode, trusted: &[Cidr]) -> bool {
    match mode {
        SecureMode::Always => true,
        SecureMode::Never => false,
        SecureMode::Auto => came_over_https(req, trusted),
    }
}

/// Whether the request was addressed to `site`'s host and port (its `Host` header). A request
/// without a `Host` (HTTP/2 puts it elsewhere) counts as addressed to it.
pub fn is_host(req: &RequestView, site: &ParsedUrl) -> bool {
    let Some(host) = req.header("host") else {
        return true;
    };
    let host = host.trim().to_ascii_lowercase();
    let default = if site.scheme == "https" { 443 } else { 80 };
    host == format!("{}:{}", site.host, site.port) || (site.port == default && host == site.host)
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Lax`, the path, the age, and `Secure` when asked.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str, path: &str, secure: bool) -> String {
    set_cookie(name, "", path, 0, secure)
}

/// Whether the request is from a browser that can follow a login redirect.
pub fn is_browser(req: &RequestView, mode: Unauthenticated) -> bool {
    match mode {
        Unauthenticated::Redirect => true,
        Unauthenticated::Deny => false,
        Unauthenticated::Auto => {
            (req.method == http::Method::GET || req.method == http::Method::HEAD)
                && !prefers_json(req)
                && req.header("x-requested-with").is_none()
        }
    }
}

/// `Accept` names `application/json` and not `text/html`.
pub fn prefers_json(req: &RequestView) -> bool {
    let accept: String = req
        .headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    types.contains(&"application/json") && !types.contains(&"text/html")
}

/// The return URL to send the browser to after login or logout: `rd` when it leads to this
/// site (a local path, or an absolute URL on `origin`), else `/`. Always a local path.
pub fn safe_return_url(rd: &str, origin: &ParsedUrl) -> String {
    if rd.starts_with('/') {
        return if is_safe_local(rd) {
            rd.to_owned()
        } else {
            "/".into()
        };
    }
    match parse_absolute(rd) {
        Some(url) if url.same_origin(origin) => {
            // The part after the authority, re-checked as a local path.
            let rest = rd
                .split_once("://")
                .map(|(_, r)| r)
                .and_then(|r| r.find(['/', '?', '#']).map(|i| &r[i..]))
                .unwrap_or("/");
            let local = if rest.starts_with('/') {
                rest.to_owned()
            } else {
                format!("/{rest}")
            };
            if is_safe_local(&local) {
                local
            } else {
                "/".into()
            }
        }
        _ => "/".into(),
    }
}

/// A local path a browser cannot read as another host: one leading `/`, visible ASCII only, no
/// backslash, and the same once percent-decoded (`/%2F%2Fevil`).
fn is_safe_local(path: &str) -> bool {
    let visible = |s: &str| s.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if !visible(path) || path.starts_with("//") {
        return false;
    }
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    !decoded.starts_with("//") && !decoded.contains('\\') && !decoded.chars().any(char::is_control)
}

/// The request's own path and query: where a login started by this request returns. Checked
/// like any return URL: a request for `//evil.example/x` must not come back as a redirect to
/// another host.
pub fn own_url(req: &RequestView, site: &ParsedUrl) -> String {
    let url = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    safe_return_url(&url, site)
}

/// Local URL `url` with parameter `name` (any earlier one removed) set to `value`.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let base = without_param(url, name);
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}={}", query_encode(name), query_encode(value))
}

/// Local URL `url` without any query parameter `name` (compared decoded).
pub fn without_param(url: &str, name: &str) -> String {
    let Some((path, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            percent_decode_str(&key.replace('+', " ")).decode_utf8_lossy() != name
        })
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// `value` percent-encoded for a query parameter.
pub fn query_encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn req(method: &str, headers: &[(&str, &str)]) -> RequestView {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        RequestView {
            method: method.parse().unwrap(),
            path: "/data/report.pdf".into(),
            query: String::new(),
            headers: map,
            client_addr: Some("10.0.0.5:40000".parse::<SocketAddr>().unwrap()),
            route: "r".into(),
            tls: false,
        }
    }

    fn origin() -> ParsedUrl {
        parse_absolute("https://files.example.com/_bucketgate/oidc/callback").unwrap()
    }

    #[test]
    fn no_open_redirect() {
        for evil in [
            "//evil.example",
            "//evil.example/x",
            "https://evil.example",
            "https://evil.example/",
            "/\\evil.example",
            "/%2F%2Fevil",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "https://files.example.com.evil.example/",
            "https://files.example.com@evil.example/",
            "http://files.example.com/", // another scheme is another origin
            "https://files.example.com:8443/",
            "javascript:alert(1)",
            "evil.example",
            "/a\nLocation: //evil",
            "/a b",
            "\\\\evil.example",
            "",
        ] {
            assert_eq!(safe_return_url(evil, &origin()), "/", "{evil:?}");
        }
    }

    #[test]
    fn same_site_return_urls_are_kept_as_local_paths() {
        assert_eq!(safe_return_url("/report.pdf", &origin()), "/report.pdf");
        assert_eq!(
            safe_return_url("/a/b?c=d&e=%2F", &origin()),
            "/a/b?c=d&e=%2F"
        );
        assert_eq!(
            safe_return_url("https://files.example.com/x/y?z=1", &origin()),
            "/x/y?z=1"
        );
        assert_eq!(
            safe_return_url("https://FILES.example.com:443?q", &origin()),
            "/?q"
        );
        assert_eq!(safe_return_url("https://files.example.com", &origin()), "/");
    }

    #[test]
    fn host_matching() {
        let site = origin();
        let with_host = |h: &str| req("GET", &[("host", h)]);
        assert!(is_host(&with_host("files.example.com"), &site));
        assert!(is_host(&with_host("Files.Example.com:443"), &site));
        assert!(is_host(&req("GET", &[]), &site));
        assert!(!is_host(&with_host("data.files.example.com"), &site));
        assert!(!is_host(&with_host("files.example.com:8443"), &site));
        let local = parse_absolute("http://127.0.0.1:8080/cb").unwrap();
        assert!(is_host(&with_host("127.0.0.1:8080"), &local));
        assert!(!is_host(&with_host("127.0.0.1"), &local));
        assert!(!is_host(&with_host("bucket.localhost:8080"), &local));
    }

    #[test]
    fn the_requests_own_url_is_checked_too() {
        let mut r = req("GET", &[]);
        r.path = "//evil.example/x".into();
        assert_eq!(own_url(&r, &origin()), "/");
        r.path = "/%2F%2Fevil.example".into();
        assert_eq!(own_url(&r, &origin()), "/");
        r.path = "/data/a b".into();
        assert_eq!(own_url(&r, &origin()), "/");
        r.path = "/data/report.pdf".into();
        r.query = "v=2".into();
        assert_eq!(own_url(&r, &origin()), "/data/report.pdf?v=2");
    }

    #[test]
    fn query_parameters_are_set_and_removed() {
        assert_eq!(with_param("/data/?auth", "csrf", "t"), "/data/?auth&csrf=t");
        assert_eq!(
            with_param("/logout", "rd", "/a b?c"),
            "/logout?rd=%2Fa%20b%3Fc"
        );
        assert_eq!(
            with_param("/data/?csrf=old&auth=json&csrf=x", "csrf", "new"),
            "/data/?auth=json&csrf=new"
        );
        assert_eq!(without_param("/data/?csrf=a", "csrf"), "/data/");
        assert_eq!(without_param("/data/?%63srf=a&auth", "csrf"), "/data/?auth");
        assert_eq!(without_param("/data/", "csrf"), "/data/");
        assert_eq!(without_param("/d?csrfx=1&auth", "csrf"), "/d?csrfx=1&auth");
    }

    #[test]
    fn secure_follows_tls_or_a_trusted_proxy() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let plain = req("GET", &[]);
        assert!(!secure_cookies(&plain, SecureMode::Auto, &trusted));
        assert!(secure_cookies(&plain, SecureMode::Always, &trusted));
        let mut tls = req("GET", &[]);
        tls.tls = true;
        assert!(secure_cookies(&tls, SecureMode::Auto, &[]));
        assert!(!secure_cookies(&tls, SecureMode::Never, &[]));
        let forwarded = req("GET", &[("x-forwarded-proto", "https")]);
        assert!(secure_cookies(&forwarded, SecureMode::Auto, &trusted));
        // The same header from an untrusted peer is ignored.
        assert!(!secure_cookies(&forwarded, SecureMode::Auto, &[]));
        let other = [Cidr::parse("192.168.0.0/16").unwrap()];
        assert!(!secure_cookies(&forwarded, SecureMode::Auto, &other));
        let http = req("GET", &[("x-forwarded-proto", "http")]);
        assert!(!secure_cookies(&http, SecureMode::Auto, &trusted));
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("bucketgate_session", "abc", "/", 28800, true);
        assert_eq!(
            c,
            "bucketgate_session=abc; Path=/; Max-Age=28800; HttpOnly; SameSite=Lax; Secure"
        );
        let c = set_cookie("s", "v", "/cb", 60, false);
        assert!(!c.contains("Secure"));
        assert!(c.contains("Path=/cb") && c.contains("HttpOnly") && c.contains("SameSite=Lax"));
        assert!(clear_cookie("s", "/", false).contains("s=; Path=/; Max-Age=0"));
    }

    #[test]
    fn browsers_and_the_rest() {
        let mode = Unauthenticated::Auto;
        assert!(is_browser(
            &req("GET", &[("accept", "text/html,*/*;q=0.8")]),
            mode
        ));
        assert!(is_browser(&req("HEAD", &[]), mode));
        assert!(is_browser(&req("GET", &[("accept", "*/*")]), mode));
        assert!(is_browser(
            &req("GET", &[("accept", "text/html, application/json")]),
            mode
        ));
        assert!(!is_browser(
            &req("GET", &[("accept", "application/json")]),
            mode
        ));
        assert!(!is_browser(
            &req("GET", &[("accept", "Application/JSON; charset=utf-8")]),
            mode
        ));
        assert!(!is_browser(
            &req("GET", &[("x-requested-with", "XMLHttpRequest")]),
            mode
        ));
        assert!(!is_browser(&req("POST", &[("accept", "text/html")]), mode));
        assert!(!is_browser(&req("PUT", &[]), mode));
        assert!(is_browser(&req("PUT", &[]), Unauthenticated::Redirect));
        assert!(!is_browser(&req("GET", &[]), Unauthenticated::Deny));
    }
}
