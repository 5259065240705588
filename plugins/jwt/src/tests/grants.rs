//! What a valid token may do: grant templates filled from its claims, and grants carried in a
//! claim (`grants_claim`), where a malformed entry is skipped and never widens anything.

use bucketgate_plugin::{Grant, Operation};
use serde_json::json;

use super::support::*;

#[test]
fn templates_are_filled_from_claims() {
    let p = plugin(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]
grants:
  - {{bucket: data, prefix: \"users/{{sub}}/\", operations: [read, write, delete, list]}}
  - {{bucket: \"{{tenant}}\", operations: [read]}}
  - {{bucket: shared, prefix: public/, operations: [list]}}"
    ));
    let id = accepted(&p, &hs(&claims_with(json!({"tenant": "acme"}))));
    assert_eq!(
        id.grants,
        vec![
            Grant::new(
                "data",
                "users/alice/",
                &[
                    Operation::Read,
                    Operation::Write,
                    Operation::Delete,
                    Operation::List
                ]
            ),
            Grant::new("acme", "", &[Operation::Read]),
            Grant::new("shared", "public/", &[Operation::List]),
        ]
    );
    // No tenant claim, and a subject that cannot fill a prefix safely: those templates yield
    // nothing, the token is still valid.
    let id = accepted(&p, &hs(&claims_with(json!({"sub": "../bob"}))));
    assert_eq!(id.subject, "../bob");
    assert_eq!(
        id.grants,
        vec![Grant::new("shared", "public/", &[Operation::List])]
    );
}

#[test]
fn grants_from_a_claim() {
    let p = plugin(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]
grants: [{{bucket: data, prefix: \"users/{{sub}}/\", operations: [read]}}]
grants_claim: storage"
    ));
    let storage = json!([
        {"bucket": "data", "prefix": "team/", "operations": ["read", "list"]},
        {"bucket": "data", "prefix": "x/", "operations": ["admin"]},
        {"bucket": "data", "operations": []},
        {"prefix": "no-bucket/", "operations": ["read"]},
        {"bucket": "data", "prefix": "y/", "operations": ["read"], "extra": true},
        "data/*",
        42,
        {"bucket": "logs", "operations": ["write"]}
    ]);
    let id = accepted(&p, &hs(&claims_with(json!({"storage": storage}))));
    assert_eq!(
        id.grants,
        vec![
            Grant::new("data", "users/alice/", &[Operation::Read]),
            Grant::new("data", "team/", &[Operation::Read, Operation::List]),
            Grant::new("logs", "", &[Operation::Write]),
        ]
    );
    // Not an array, or absent: only the templates.
    for storage in [
        json!({"bucket": "data", "operations": ["read"]}),
        json!("all"),
        json!(null),
    ] {
        let id = accepted(&p, &hs(&claims_with(json!({"storage": storage}))));
        assert_eq!(
            id.grants,
            vec![Grant::new("data", "users/alice/", &[Operation::Read])]
        );
    }
}

#[test]
fn no_grants_configured() {
    let p = plugin(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]"
    ));
    assert!(accepted(&p, &hs(&claims())).grants.is_empty());
}
