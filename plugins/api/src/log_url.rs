//! URLs as plugins may log them: a provider or JWKS URL can carry `user:password@`, which must
//! never reach a log line. Shared by every plugin that fetches from a configured URL.

/// `scheme://user:pass@host/...` without `user:pass@`, for logs.
pub fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_userinfo;

    #[test]
    fn userinfo_is_not_logged() {
        assert_eq!(
            without_userinfo("https://u:p@idp.example/jwks?x=@"),
            "https://idp.example/jwks?x=@"
        );
        assert_eq!(without_userinfo("http://h/a@b"), "http://h/a@b");
        assert_eq!(
            without_userinfo("redis://:pw@127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(without_userinfo("no scheme@host"), "no scheme@host");
    }
}
