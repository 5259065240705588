//! The operator's `--grant` and `--ttl` arguments.

use std::time::Duration;

use bucketgate_plugin::{Operation, Operations};

use super::super::{parse_grant_arg, parse_ttl};

#[test]
fn grants_parse_bucket_prefix_and_operations() {
    let g = parse_grant_arg("data:users/alice/:read,write").unwrap();
    assert_eq!(g.bucket, "data");
    assert_eq!(g.prefix, "users/alice/");
    assert_eq!(
        g.operations,
        Operations::of(&[Operation::Read, Operation::Write])
    );
    let whole = parse_grant_arg("*::list").unwrap();
    assert_eq!((whole.bucket.as_str(), whole.prefix.as_str()), ("*", ""));
    assert_eq!(parse_grant_arg("d:a:b:c:all").unwrap().prefix, "a:b:c");
    assert_eq!(
        parse_grant_arg("d:x:all").unwrap().operations,
        Operations::ALL
    );
    assert_eq!(parse_grant_arg("d:日本/:read").unwrap().prefix, "日本/");
}

#[test]
fn bad_grants_are_refused() {
    for bad in [
        "",
        "data",
        "data:read",
        ":p:read",
        "data:p:",
        "data:p:read,",
        "data:p:admin",
        "da/ta:p:read",
        "data:a\nb:read",
    ] {
        assert!(parse_grant_arg(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn ttls_parse_units_and_sums() {
    assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_ttl("24h"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(604_800)));
    assert_eq!(parse_ttl("1d12h"), Ok(Duration::from_secs(129_600)));
    assert_eq!(parse_ttl("2w"), Ok(Duration::from_secs(1_209_600)));
    assert_eq!(parse_ttl("45s"), Ok(Duration::from_secs(45)));
}

#[test]
fn bad_ttls_are_refused() {
    for bad in [
        "",
        "0h",
        "24",
        "h",
        "1y",
        "-1h",
        "1.5h",
        "99999999999999999999999d",
        "18446744073709551615w",
    ] {
        assert!(parse_ttl(bad).is_err(), "{bad:?}");
    }
}
