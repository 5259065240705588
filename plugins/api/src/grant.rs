//! Grants: which operations an identity may perform on which bucket and key prefix, and grant
//! templates that fill a prefix from the caller's claims (`users/{sub}/`).

use std::fmt;

use serde::{de, Deserialize, Deserializer};

/// An S3 operation class, as policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// GET and HEAD of an object.
    Read,
    /// PUT of an object (and multipart parts).
    Write,
    /// DELETE of an object.
    Delete,
    /// Listing keys under a prefix.
    List,
}

impl Operation {
    fn bit(self) -> u8 {
        match self {
            Operation::Read => 1,
            Operation::Write => 2,
            Operation::Delete => 4,
            Operation::List => 8,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Delete => "delete",
            Operation::List => "list",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of operations; deserializes from a list such as `[read, list]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Operations(u8);

impl Operations {
    pub const ALL: Operations = Operations(15);

    pub fn of(ops: &[Operation]) -> Operations {
        Operations(ops.iter().fold(0, |acc, op| acc | op.bit()))
    }

    pub fn contains(self, op: Operation) -> bool {
        self.0 & op.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl<'de> Deserialize<'de> for Operations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ops = Vec::<Operation>::deserialize(d)?;
        if ops.is_empty() {
            return Err(de::Error::custom(
                "operations must name at least one of read, write, delete, list",
            ));
        }
        Ok(Operations::of(&ops))
    }
}

/// May perform `operations` on keys starting with `prefix` in `bucket` (the upstream bucket;
/// `*` is any bucket). The prefix is compared with the full upstream key, after the route's
/// `key_prefix` is added and every rewrite applied; `""` is the whole bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    pub operations: Operations,
}

impl Grant {
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>, ops: &[Operation]) -> Grant {
        Grant {
            bucket: bucket.into(),
            prefix: prefix.into(),
            operations: Operations::of(ops),
        }
    }

    /// Whether this grant allows `op` on `key` in `bucket`.
    pub fn allows(&self, op: Operation, bucket: &str, key: &str) -> bool {
        self.operations.contains(op)
            && (self.bucket == "*" || self.bucket == bucket)
            && key.starts_with(self.prefix.as_str())
    }
}

/// A grant whose bucket and prefix may contain `{claim}` placeholders, filled from the
/// caller's string claims: `prefix: "users/{sub}/"`. Each placeholder stands for (part of) one
/// path segment, so a claim value that could stand for more, or for anything, makes the
/// template yield nothing, and a claim can never widen a grant: a value that is missing, not a
/// string, or empty; that contains `/` or `\` (another segment), `*` (the any-bucket
/// wildcard), `..` or a lone `.` (dot segments), `{` or `}`, or a control character.
///
/// The template must do its part: a placeholder at the very end of a prefix
/// (`users/{sub}` without the final `/`) gives `alice` the keys of `alice2` too, so
/// `bucketgate check` warns about prefixes that do not end in `/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantTemplate {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    pub operations: Operations,
}

impl GrantTemplate {
    /// The grant for these claims, or None when a placeholder cannot be filled safely.
    pub fn resolve(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Option<Grant> {
        Some(Grant {
            bucket: fill(&self.bucket, claims)?,
            prefix: fill(&self.prefix, claims)?,
            operations: self.operations,
        })
    }
}

/// The grants of verified claims, as every plugin that reads claims computes them (jwt, oidc):
/// the templates that resolve, then the entries of the claim `grants_claim` (a JSON array of
/// `{bucket, prefix, operations}`) that parse as grants. A malformed entry is skipped (logged
/// at debug, without its value); nothing is ever widened.
pub fn grants_from_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
    templates: &[GrantTemplate],
    grants_claim: Option<&str>,
) -> Vec<Grant> {
    let mut out: Vec<Grant> = templates.iter().filter_map(|t| t.resolve(claims)).collect();
    let Some(name) = grants_claim else {
        return out;
    };
    match claims.get(name) {
        None => {}
        Some(serde_json::Value::Array(entries)) => {
            for (i, entry) in entries.iter().enumerate() {
                match serde_json::from_value::<Grant>(entry.clone()) {
                    Ok(grant) => out.push(grant),
                    Err(e) => log::debug!("grants: skipping claim {name}[{i}]: {e}"),
                }
            }
        }
        Some(_) => log::debug!("grants: claim {name:?} is not an array; no grants from it"),
    }
    out
}

fn fill(template: &str, claims: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let value = claims.get(&rest[start + 1..end])?.as_str()?;
        if !is_safe_segment_value(value) {
            return None;
        }
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    if rest.contains('}') {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// Whether a claim value may fill a placeholder: it stands for (part of) one segment and
/// nothing more (see [`GrantTemplate`]).
fn is_safe_segment_value(value: &str) -> bool {
    !(value.is_empty()
        || value == "."
        || value.contains("..")
        || value.contains(['/', '\\', '*', '{', '}'])
        || value.chars().any(char::is_control))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_must_be_granted() {
        let g = Grant::new("data", "a/", &[Operation::Read]);
        assert!(g.allows(Operation::Read, "data", "a/x"));
        assert!(!g.allows(Operation::Write, "data", "a/x"));
        assert!(!g.allows(Operation::Delete, "data", "a/x"));
        assert!(!g.allows(Operation::List, "data", "a/x"));
    }

    #[test]
    fn bucket_must_match_or_be_wildcard() {
        assert!(!Grant::new("data", "", &[Operation::Read]).allows(Operation::Read, "other", "k"));
        assert!(Grant::new("*", "", &[Operation::Read]).allows(Operation::Read, "other", "k"));
    }

    #[test]
    fn prefix_is_a_plain_string_prefix() {
        let g = Grant::new("data", "a/", &[Operation::Read]);
        assert!(!g.allows(Operation::Read, "data", "b/x"));
        assert!(!g.allows(Operation::Read, "data", "ab"));
        assert!(!g.allows(Operation::Read, "data", "a"));
        assert!(Grant::new("data", "", &[Operation::Read]).allows(
            Operation::Read,
            "data",
            "any/key"
        ));
    }

    #[test]
    fn operations_deserialize() {
        let g: Grant =
            serde_json::from_str(r#"{"bucket":"data","prefix":"a/","operations":["read","list"]}"#)
                .unwrap();
        assert!(g.operations.contains(Operation::List));
        assert!(!g.operations.contains(Operation::Write));
        assert!(serde_json::from_str::<Grant>(r#"{"bucket":"d","operations":[]}"#).is_err());
        assert!(serde_json::from_str::<Grant>(r#"{"bucket":"d","operations":["admin"]}"#).is_err());
    }

    #[test]
    fn templates_fill_from_claims_safely() {
        let t = GrantTemplate {
            bucket: "data".into(),
            prefix: "users/{sub}/".into(),
            operations: Operations::of(&[Operation::Read]),
        };
        let claims = |sub: serde_json::Value| {
            let mut m = serde_json::Map::new();
            m.insert("sub".into(), sub);
            m
        };
        assert_eq!(
            t.resolve(&claims("alice".into())).unwrap().prefix,
            "users/alice/"
        );
        for bad in [
            "", ".", "..", "a/b", "/", "a/", "a\\b", "{x}", "a}", "a\nb", "a\u{7f}", "*", "a*",
            "a..b", "../x", "\u{85}",
        ] {
            assert_eq!(t.resolve(&claims(bad.into())), None, "{bad:?}");
        }
        for good in [
            "alice",
            "a.b",
            ".hidden",
            "user@example.org",
            "ünïcode",
            "a b",
        ] {
            assert!(t.resolve(&claims(good.into())).is_some(), "{good:?}");
        }
        assert_eq!(t.resolve(&claims(42.into())), None);
        assert_eq!(t.resolve(&serde_json::Map::new()), None);
    }

    /// A claim of `*` filled into a bucket would have been the any-bucket wildcard.
    #[test]
    fn a_star_claim_never_becomes_the_bucket_wildcard() {
        let t = GrantTemplate {
            bucket: "{tenant}".into(),
            prefix: "".into(),
            operations: Operations::of(&[Operation::Read, Operation::List]),
        };
        let claims = |tenant: &str| {
            let mut m = serde_json::Map::new();
            m.insert("tenant".into(), tenant.into());
            m
        };
        assert_eq!(t.resolve(&claims("*")), None);
        assert_eq!(t.resolve(&claims("acme*")), None);
        let g = t.resolve(&claims("acme")).expect("a plain tenant fills");
        assert!(g.allows(Operation::Read, "acme", "k"));
        assert!(!g.allows(Operation::Read, "other", "k"));
    }

    #[test]
    fn grants_from_claims_takes_templates_then_valid_claim_entries() {
        let t = GrantTemplate {
            bucket: "data".into(),
            prefix: "users/{sub}/".into(),
            operations: Operations::of(&[Operation::Read]),
        };
        let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"sub":"alice","g":[{"bucket":"b","operations":["list"]},{"bucket":"x","operations":["admin"]},7]}"#,
        )
        .unwrap();
        let got = grants_from_claims(&claims, std::slice::from_ref(&t), Some("g"));
        assert_eq!(
            got,
            vec![
                Grant::new("data", "users/alice/", &[Operation::Read]),
                Grant::new("b", "", &[Operation::List]),
            ]
        );
        assert_eq!(grants_from_claims(&claims, &[], None), vec![]);
        let not_array: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"g":{"bucket":"b","operations":["read"]}}"#).unwrap();
        assert_eq!(grants_from_claims(&not_array, &[], Some("g")), vec![]);
    }
}
