//! Addresses in the config: absolute http(s) URLs reduced to their origin (for same-origin
//! checks of return URLs), CIDR blocks of trusted proxies, and URLs made safe to log.

/// An absolute http(s) URL split into origin (`scheme://host[:port]`) and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    pub scheme: String,
    /// Lower-case host, with brackets for IPv6.
    pub host: String,
    /// The explicit port, or the scheme's default.
    pub port: u16,
    /// The path, `/` when empty; without query or fragment.
    pub path: String,
    pub has_query_or_fragment: bool,
}

impl ParsedUrl {
    /// `scheme://host[:port]`, the port only when not the default.
    pub fn origin(&self) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }

    pub fn same_origin(&self, other: &ParsedUrl) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }
}

/// Parses an absolute `http://` or `https://` URL strictly: no userinfo, a non-empty host of
/// safe characters, a numeric port. None for anything else.
pub fn parse_absolute(url: &str) -> Option<ParsedUrl> {
    if url.chars().any(|c| c.is_control() || c == ' ' || c == '\\') {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']')?;
        let host = &authority[..close + 2];
        let after = &v6[close + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
    if !host_ok {
        return None;
    }
    let port = match port {
        None => {
            if scheme == "https" {
                443
            } else {
                80
            }
        }
        Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = if path_end == 0 {
        "/".to_string()
    } else {
        tail[..path_end].to_string()
    };
    Some(ParsedUrl {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path,
        has_query_or_fragment: path_end < tail.len(),
    })
}

pub use bucketgate_plugin::Cidr;

pub use bucketgate_plugin::without_userinfo;
