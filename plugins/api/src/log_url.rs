//! URLs as plugins and the gateway may log them: a provider, JWKS or Redis URL can carry
//! `user:password@`, or a secret in its query (`redis+unix:///run/redis.sock?pass=...`,
//! `?api_key=...`), and neither may reach a log line. Shared by everything that connects to a
//! configured URL.

/// `scheme://user:pass@host/path?query` as `scheme://host/path?…`, for logs: no userinfo, and
/// the query (which may hold a password) replaced by `…`.
pub fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    match rest.find(['?', '#']) {
        Some(q) => format!("{scheme}://{}?…", &rest[..q]),
        None => format!("{scheme}://{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::without_userinfo;

    #[test]
    fn userinfo_is_not_logged() {
        assert_eq!(
            without_userinfo("https://u:p@idp.example/jwks?x=@"),
            "https://idp.example/jwks?…"
        );
        assert_eq!(
            without_userinfo("redis+unix:///run/redis.sock?db=0&pass=S3cret"),
            "redis+unix:///run/redis.sock?…"
        );
        assert_eq!(
            without_userinfo("https://idp.example/.well-known/openid-configuration"),
            "https://idp.example/.well-known/openid-configuration"
        );
        assert_eq!(without_userinfo("http://h/a@b"), "http://h/a@b");
        assert_eq!(
            without_userinfo("redis://:pw@127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(without_userinfo("no scheme@host"), "no scheme@host");
    }
}
