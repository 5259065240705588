//! The client's query string, parsed once into a canonical form that every later step reads:
//! the operation ([`super::operation`]), the grant check and the upstream query
//! ([`super::plan`], [`super::scope`]).
//!
//! - Names and values are decoded the way SigV4 canonicalizes them (`+` is a space, then
//!   percent-decoding), so what bucketgate checks is what it signed and sends.
//! - A parameter without `=` is the same as one with an empty value: `?prefix` is `?prefix=`.
//! - A parameter given twice is refused (`400 InvalidArgument`). Otherwise one reader could
//!   take the first value and another the last: the grant check one prefix, the upstream the
//!   other.
//! - A name or value that does not decode to UTF-8 is refused too; S3 keys are UTF-8.

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// A query string with every parameter decoded, each name at most once, in the client's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    params: Vec<(String, String)>,
}

/// Why a query string is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// This parameter appears more than once.
    Duplicate(String),
    /// A name or value is not UTF-8 once percent-decoded (the raw text, shortened).
    NotUtf8(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Duplicate(name) => {
                write!(f, "The query parameter {name:?} is given more than once.")
            }
            QueryError::NotUtf8(raw) => {
                write!(f, "The query parameter {raw:?} is not valid UTF-8.")
            }
        }
    }
}

impl std::error::Error for QueryError {}

impl Query {
    /// Parses a raw query (without the `?`). Empty pieces (`a=1&&b=2`) are skipped.
    pub fn parse(raw: &str) -> Result<Query, QueryError> {
        let mut params: Vec<(String, String)> = Vec::new();
        for piece in raw.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = decode(raw_name).ok_or_else(|| not_utf8(raw_name))?;
            let value = decode(raw_value).ok_or_else(|| not_utf8(piece))?;
            if params.iter().any(|(n, _)| *n == name) {
                return Err(QueryError::Duplicate(name));
            }
            params.push((name, value));
        }
        Ok(Query { params })
    }

    /// The decoded value of `name` (`""` for a parameter without `=`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the query has `name`, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every parameter, decoded, in the client's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Every parameter name, in the client's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(n, _)| n.as_str())
    }
}

fn not_utf8(raw: &str) -> QueryError {
    QueryError::NotUtf8(raw.chars().take(64).collect())
}

/// A name or value as text: `+` is a space (as aws-sigv4 canonicalizes it), then
/// percent-decoded; `None` if the bytes are not UTF-8.
fn decode(raw: &str) -> Option<String> {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Everything but unreserved characters is encoded, as SigV4's canonical query wants.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A decoded name or value, encoded for an upstream query.
pub fn encode(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// Builds an upstream query from decoded pairs; a `None` value is a bare flag (`uploads`).
pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let parts: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| match value {
            Some(v) => format!("{}={}", encode(name), encode(v)),
            None => encode(name),
        })
        .collect();
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valueless_parameters_are_empty_values() {
        let q = Query::parse("list-type=2&prefix&max-keys=1").unwrap();
        assert_eq!(q.get("prefix"), Some(""));
        assert_eq!(q, Query::parse("list-type=2&prefix=&max-keys=1").unwrap());
        assert!(q.has("prefix"));
        assert_eq!(q.get("delimiter"), None);
        assert_eq!(
            q.names().collect::<Vec<_>>(),
            ["list-type", "prefix", "max-keys"]
        );
    }

    #[test]
    fn names_and_values_are_decoded_like_sigv4() {
        let q = Query::parse("prefix=a+b%2Bc%2F%C3%A9&pre%66ix2=x").unwrap();
        assert_eq!(q.get("prefix"), Some("a b+c/é"));
        assert_eq!(q.get("prefix2"), Some("x"));
        assert_eq!(encode("a b+c/é"), "a%20b%2Bc%2F%C3%A9");
        // Malformed escapes stay literal, as S3 reads them.
        assert_eq!(Query::parse("p=%zz%").unwrap().get("p"), Some("%zz%"));
        assert_eq!(Query::parse("&&a=1&&").unwrap().get("a"), Some("1"));
    }

    #[test]
    fn duplicates_are_refused_however_they_are_spelled() {
        for raw in [
            "prefix=a&prefix=b",
            "prefix&prefix=",
            "prefix=a&pre%66ix=b",
            "list-type=2&prefix=photos%2F&max-keys=1&prefix=users%2F",
            "uploads&uploads",
        ] {
            let err = Query::parse(raw).unwrap_err();
            assert!(matches!(err, QueryError::Duplicate(_)), "{raw}: {err:?}");
        }
        assert_eq!(
            Query::parse("a=1&b=2&a=3").unwrap_err(),
            QueryError::Duplicate("a".into())
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert!(matches!(
            Query::parse("prefix=%ff"),
            Err(QueryError::NotUtf8(_))
        ));
        assert!(matches!(Query::parse("%c3=1"), Err(QueryError::NotUtf8(_))));
    }

    #[test]
    fn upstream_queries_are_built_encoded() {
        assert_eq!(
            build([
                ("uploads", None),
                ("prefix", Some("a b/")),
                ("max-uploads", Some("2"))
            ]),
            "uploads&prefix=a%20b%2F&max-uploads=2"
        );
        assert_eq!(build(std::iter::empty()), "");
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let alphabet = b"a=&%+2F0\xc3\xa9xyz";
        for _ in 0..5000 {
            let mut raw = Vec::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                raw.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let raw = String::from_utf8_lossy(&raw);
            let _ = Query::parse(&raw);
        }
    }
}
