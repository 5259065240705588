//! The grant guard of the internal client: before any request is signed, every key it touches
//! is checked against the caller's grants. A frontend that drives a recursive operation (list a
//! folder, copy and delete each key) therefore cannot reach past the caller's grants, whatever
//! a listing returned or a client sent.

use bucketgate_plugin::{Identity, Operation};

/// Whose rights bound a call.
#[derive(Debug, Clone, Copy)]
pub enum Guard<'a> {
    /// The caller's grants bound every key.
    Caller(&'a Identity),
    /// bucketgate's own bookkeeping with no caller behind it (never on a caller's keys).
    Gateway,
}

/// What a call does to a key, or to the keys under a prefix (a listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch<'a> {
    pub op: Operation,
    pub key: &'a str,
    /// `key` is a prefix: allowed when some grant reaches a key under it (a listing may show
    /// the path to what the caller may see).
    pub prefix: bool,
}

impl<'a> Touch<'a> {
    pub fn key(op: Operation, key: &'a str) -> Touch<'a> {
        Touch {
            op,
            key,
            prefix: false,
        }
    }

    pub fn prefix(op: Operation, prefix: &'a str) -> Touch<'a> {
        Touch {
            op,
            key: prefix,
            prefix: true,
        }
    }
}

impl Guard<'_> {
    /// `Ok` when the guard allows `touch` in `bucket`; the reason for the log otherwise.
    pub fn check(&self, bucket: &str, touch: &Touch<'_>) -> Result<(), String> {
        let Guard::Caller(identity) = self else {
            return Ok(());
        };
        let allowed = identity.grants.iter().any(|g| {
            if touch.prefix {
                g.operations.contains(touch.op)
                    && (g.bucket == "*" || g.bucket == bucket)
                    && (g.prefix.starts_with(touch.key) || touch.key.starts_with(g.prefix.as_str()))
            } else {
                g.allows(touch.op, bucket, touch.key)
            }
        });
        if allowed {
            return Ok(());
        }
        Err(format!(
            "{} may not {} {bucket}:{:?}{}",
            identity.subject,
            touch.op,
            touch.key,
            if touch.prefix { " (prefix)" } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bucketgate_plugin::Grant;

    fn alice() -> Identity {
        Identity {
            subject: "alice".into(),
            plugin: "test".into(),
            claims: Default::default(),
            grants: vec![Grant::new(
                "data",
                "users/alice/",
                &[Operation::Read, Operation::List],
            )],
        }
    }

    #[test]
    fn every_key_is_held_to_the_callers_grants() {
        let id = alice();
        let guard = Guard::Caller(&id);
        let read = |k| guard.check("data", &Touch::key(Operation::Read, k));
        assert!(read("users/alice/a.txt").is_ok());
        assert!(read("users/bob/a.txt").is_err(), "another user's key");
        assert!(read("users/alice").is_err(), "the prefix without its slash");
        assert!(guard
            .check("other", &Touch::key(Operation::Read, "users/alice/a.txt"))
            .is_err());
        let write = guard.check("data", &Touch::key(Operation::Write, "users/alice/a.txt"));
        assert!(write.is_err(), "an operation the grant lacks");
        let list = |p| guard.check("data", &Touch::prefix(Operation::List, p));
        assert!(list("users/").is_ok(), "the path to the caller's keys");
        assert!(list("users/alice/docs/").is_ok());
        assert!(list("users/bob/").is_err());
        assert!(Guard::Gateway
            .check("data", &Touch::key(Operation::Delete, "anything"))
            .is_ok());
    }
}
