//! The owned view of a request that plugins get instead of Pingora's `Session`.

use std::net::SocketAddr;

use percent_encoding::percent_decode_str;

/// What a plugin may look at. Owned, so a plugin can keep it across `.await` points.
#[derive(Debug, Clone)]
pub struct RequestView {
    pub method: http::Method,
    /// The raw path as received, percent-encoded, without the query.
    pub path: String,
    /// The raw query without `?`, or empty.
    pub query: String,
    pub headers: http::HeaderMap,
    /// The TCP peer.
    pub client_addr: Option<SocketAddr>,
    /// The name of the matched route.
    pub route: String,
    /// Whether the client connection is TLS (not what a proxy in front claims).
    pub tls: bool,
}

impl RequestView {
    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The decoded value of the first query parameter `name` (`+` is a space, as in forms).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_form(k) == name).then(|| decode_form(v))
        })
    }

    /// The value of cookie `name` from the `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                (k == name).then_some(v)
            })
    }
}

fn decode_form(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(query: &str, cookies: &[&str]) -> RequestView {
        let mut headers = http::HeaderMap::new();
        for c in cookies {
            headers.append(http::header::COOKIE, c.parse().unwrap());
        }
        RequestView {
            method: http::Method::GET,
            path: "/x".into(),
            query: query.into(),
            headers,
            client_addr: None,
            route: "r".into(),
            tls: false,
        }
    }

    #[test]
    fn query_params_decode() {
        let v = view("a=1&token=x%2By+z&flag", &[]);
        assert_eq!(v.query_param("token").as_deref(), Some("x+y z"));
        assert_eq!(v.query_param("flag").as_deref(), Some(""));
        assert_eq!(v.query_param("missing"), None);
    }

    #[test]
    fn cookies_are_found_across_headers() {
        let v = view("", &["a=1; session=abc", "other=2"]);
        assert_eq!(v.cookie("session"), Some("abc"));
        assert_eq!(v.cookie("other"), Some("2"));
        assert_eq!(v.cookie("sess"), None);
    }
}
