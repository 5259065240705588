//! S3 addressing: which bucket and key a request names. Path style puts the bucket in the
//! first path segment (`/bucket/key`); virtual-host style puts it in the host
//! (`bucket.s3.example.com/key`) under one of the route's `base_domains`. No bucket at all is
//! a service request (ListBuckets).

/// The bucket, raw key and raw query a request names. Nothing is decoded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed<'a> {
    /// The client-side bucket name; `None` for service requests.
    pub bucket: Option<&'a str>,
    /// The raw (still percent-encoded) key; empty for bucket requests.
    pub raw_key: &'a str,
    /// The raw query, without `?`.
    pub raw_query: &'a str,
}

/// Splits a request into bucket, key and query. `host` has no port; `rest` is the raw path
/// after the route prefix (and its slash), with the query.
pub fn address<'a>(host: &'a str, rest: &'a str, base_domains: &[String]) -> Addressed<'a> {
    let (path, raw_query) = rest.split_once('?').unwrap_or((rest, ""));
    if let Some(bucket) = virtual_bucket(host, base_domains) {
        return Addressed {
            bucket: Some(bucket),
            raw_key: path.trim_start_matches('/'),
            raw_query,
        };
    }
    let path = path.trim_start_matches('/');
    let (bucket, raw_key) = path.split_once('/').unwrap_or((path, ""));
    Addressed {
        bucket: (!bucket.is_empty()).then_some(bucket),
        raw_key,
        raw_query,
    }
}

/// `bucket` when `host` is `bucket.<base domain>` (case-insensitive).
fn virtual_bucket<'a>(host: &'a str, base_domains: &[String]) -> Option<&'a str> {
    base_domains.iter().find_map(|base| {
        let cut = host.len().checked_sub(base.len() + 1)?;
        let (bucket, suffix) = (host.get(..cut)?, host.get(cut..)?);
        (suffix.starts_with('.') && suffix[1..].eq_ignore_ascii_case(base) && !bucket.is_empty())
            .then_some(bucket)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bases() -> Vec<String> {
        vec!["s3.example.com".into()]
    }

    #[test]
    fn path_style() {
        let a = address("gw", "data/a/b.txt?x=1", &bases());
        assert_eq!(a.bucket, Some("data"));
        assert_eq!(a.raw_key, "a/b.txt");
        assert_eq!(a.raw_query, "x=1");
        let b = address("gw", "data", &bases());
        assert_eq!((b.bucket, b.raw_key), (Some("data"), ""));
        let b = address("gw", "data/?list-type=2", &bases());
        assert_eq!(
            (b.bucket, b.raw_key, b.raw_query),
            (Some("data"), "", "list-type=2")
        );
        let s = address("gw", "", &bases());
        assert_eq!(s.bucket, None);
        let s = address("gw", "?x", &bases());
        assert_eq!((s.bucket, s.raw_query), (None, "x"));
    }

    #[test]
    fn virtual_host_style() {
        let a = address("data.S3.example.com", "a/b", &bases());
        assert_eq!((a.bucket, a.raw_key), (Some("data"), "a/b"));
        let root = address("data.s3.example.com", "?list-type=2", &bases());
        assert_eq!((root.bucket, root.raw_key), (Some("data"), ""));
        // The base domain itself, or another domain, is path style.
        let p = address("s3.example.com", "data/k", &bases());
        assert_eq!((p.bucket, p.raw_key), (Some("data"), "k"));
        let p = address("data.s3.example.org", "other/k", &bases());
        assert_eq!(p.bucket, Some("other"));
        let p = address("xs3.example.com", "other/k", &bases());
        assert_eq!(p.bucket, Some("other"));
    }

    #[test]
    fn keys_keep_their_slashes() {
        let a = address("gw", "data//a//b/", &bases());
        assert_eq!(a.raw_key, "/a//b/");
    }
}
