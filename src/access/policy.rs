//! Policy: may this identity perform this operation on this bucket and key?
//!
//! The check runs on what goes upstream: the upstream bucket and the decoded, rewritten key
//! with the route's `key_prefix`, never the raw path, so no encoding trick can reach a key that
//! a grant does not cover. Grants only add rights: an identity may do exactly the union of what
//! its grants allow.

use bucketgate_plugin::{Identity, Operation};

use crate::config::model::Method;

/// The operation class of a `files` request.
pub fn operation_for(method: Method) -> Operation {
    match method {
        Method::Get | Method::Head => Operation::Read,
        Method::Put => Operation::Write,
        Method::Delete => Operation::Delete,
    }
}

/// Whether some grant allows `op` on `key` in `bucket`.
pub fn allows(identity: &Identity, op: Operation, bucket: &str, key: &str) -> bool {
    identity.grants.iter().any(|g| g.allows(op, bucket, key))
}

/// Whether some grant allows `op` on some key under `prefix` in `bucket`: the grant's prefix
/// lies inside `prefix`, or `prefix` inside the grant's. Listings, bucket visibility and
/// common prefixes use it: a listing of `users/` may show `users/alice/` to a holder of
/// `users/alice/docs/`, which reveals only the path to what they may already see.
pub fn reaches(identity: &Identity, op: Operation, bucket: &str, prefix: &str) -> bool {
    identity.grants.iter().any(|g| {
        g.operations.contains(op)
            && (g.bucket == "*" || g.bucket == bucket)
            && (g.prefix.starts_with(prefix) || prefix.starts_with(g.prefix.as_str()))
    })
}

/// `Ok` when some grant allows it; otherwise the reason, for the log only.
pub fn check(identity: &Identity, op: Operation, bucket: &str, key: &str) -> Result<(), String> {
    if identity.grants.iter().any(|g| g.allows(op, bucket, key)) {
        return Ok(());
    }
    if identity.grants.is_empty() {
        return Err(format!("{} has no grants", identity.subject));
    }
    let held: Vec<String> = identity
        .grants
        .iter()
        .map(|g| format!("{}:{:?}", g.bucket, g.prefix))
        .collect();
    Err(format!(
        "no grant of {} allows {op} on {bucket}:{key:?} (grants cover {})",
        identity.subject,
        held.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bucketgate_plugin::Grant;

    fn identity(grants: Vec<Grant>) -> Identity {
        Identity {
            subject: "alice".into(),
            plugin: "test".into(),
            claims: Default::default(),
            grants,
        }
    }

    #[test]
    fn methods_map_to_operations() {
        assert_eq!(operation_for(Method::Get), Operation::Read);
        assert_eq!(operation_for(Method::Head), Operation::Read);
        assert_eq!(operation_for(Method::Put), Operation::Write);
        assert_eq!(operation_for(Method::Delete), Operation::Delete);
    }

    #[test]
    fn read_on_prefix_allows_read_only() {
        let id = identity(vec![Grant::new("data", "a/", &[Operation::Read])]);
        assert!(check(&id, Operation::Read, "data", "a/x").is_ok());
        assert!(check(&id, Operation::Write, "data", "a/x").is_err());
        assert!(check(&id, Operation::Delete, "data", "a/x").is_err());
    }

    #[test]
    fn other_prefix_is_denied() {
        let id = identity(vec![Grant::new("data", "a/", &[Operation::Read])]);
        assert!(check(&id, Operation::Read, "data", "b/x").is_err());
        assert!(
            check(&id, Operation::Read, "data", "ab").is_err(),
            "a/ is not a prefix of ab"
        );
    }

    #[test]
    fn other_bucket_is_denied() {
        let id = identity(vec![Grant::new("data", "", &[Operation::Read])]);
        assert!(check(&id, Operation::Read, "secret", "k").is_err());
    }

    #[test]
    fn grants_are_a_union() {
        let id = identity(vec![
            Grant::new("data", "a/", &[Operation::Read]),
            Grant::new("data", "a/drafts/", &[Operation::Write]),
        ]);
        assert!(check(&id, Operation::Write, "data", "a/drafts/x").is_ok());
        assert!(check(&id, Operation::Read, "data", "a/drafts/x").is_ok());
        assert!(check(&id, Operation::Write, "data", "a/x").is_err());
    }

    #[test]
    fn reach_covers_both_directions_of_prefix() {
        let id = identity(vec![Grant::new("data", "users/alice/", &[Operation::List])]);
        assert!(reaches(&id, Operation::List, "data", ""));
        assert!(reaches(&id, Operation::List, "data", "users/"));
        assert!(reaches(&id, Operation::List, "data", "users/alice/docs/"));
        assert!(!reaches(&id, Operation::List, "data", "users/bob/"));
        assert!(!reaches(&id, Operation::Read, "data", "users/"));
        assert!(!reaches(&id, Operation::List, "other", ""));
        assert!(allows(&id, Operation::List, "data", "users/alice/x"));
        assert!(!allows(&id, Operation::List, "data", "users/x"));
    }

    #[test]
    fn no_grants_deny_everything_with_a_reason() {
        let id = identity(vec![]);
        let why = check(&id, Operation::Read, "data", "k").unwrap_err();
        assert!(why.contains("no grants"), "{why}");
    }

    #[test]
    fn denial_reason_names_operation_and_key() {
        let id = identity(vec![Grant::new("data", "a/", &[Operation::Read])]);
        let why = check(&id, Operation::Write, "data", "a/k").unwrap_err();
        assert!(why.contains("write") && why.contains("a/k"), "{why}");
    }
}
