//! Minting then opening gives back the claims and the same secret; the secret has the shape
//! clients accept; typical keys stay within the length budget.

use bucketgate_plugin::Operation;

use super::super::{
    is_sealed, mint, open, Claims, OpenError, SealError, MAX_ACCESS_KEY_ID_LEN, PREFIX,
    TYPICAL_BUDGET,
};
use super::support::{at, grant, key, now, ring, typical, EXPIRES};

#[test]
fn mint_then_open_gives_back_the_claims_and_secret() {
    let keyring = ring(&[key("k1", 1)]);
    let claims = Claims {
        subject: "ålice/ünïcode 🙂".into(),
        grants: vec![
            grant(
                "data",
                "users/ålice/日本語/",
                &[Operation::Read, Operation::List],
            ),
            grant("*", "", &[Operation::Delete]),
            grant("b", "a:b,c", &[Operation::Write]),
        ],
        expires_at: at(EXPIRES),
    };
    let (akid, secret) = mint(&keyring, &claims).unwrap();
    assert!(is_sealed(&akid));
    let (opened, opened_secret) = open(&keyring, &akid, now()).unwrap();
    assert_eq!(opened, claims);
    assert_eq!(opened_secret.expose(), secret.expose());
}

#[test]
fn expiry_is_kept_in_whole_seconds_rounded_down() {
    let keyring = ring(&[key("k1", 1)]);
    let mut claims = typical();
    claims.expires_at = at(EXPIRES) + std::time::Duration::from_millis(999);
    let (akid, _) = mint(&keyring, &claims).unwrap();
    assert_eq!(
        open(&keyring, &akid, now()).unwrap().0.expires_at,
        at(EXPIRES)
    );
}

#[test]
fn expired_keys_do_not_open() {
    let keyring = ring(&[key("k1", 1)]);
    let (akid, _) = mint(&keyring, &typical()).unwrap();
    assert!(open(&keyring, &akid, at(EXPIRES - 1)).is_ok());
    assert_eq!(
        open(&keyring, &akid, at(EXPIRES)).unwrap_err(),
        OpenError::Expired
    );
    assert_eq!(
        open(&keyring, &akid, at(EXPIRES + 3600)).unwrap_err(),
        OpenError::Expired
    );
}

#[test]
fn the_secret_has_the_s3_shape_and_differs_per_mint() {
    let keyring = ring(&[key("k1", 1)]);
    let mut seen = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..50 {
        let (akid, secret) = mint(&keyring, &typical()).unwrap();
        let s = secret.expose();
        assert_eq!(s.len(), 40, "{s}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+'),
            "{s}"
        );
        assert!(seen.insert(s.to_string()), "secret repeated");
        assert!(ids.insert(akid), "access key id repeated");
    }
}

#[test]
fn typical_keys_fit_the_budget_and_the_credential_scope() {
    let keyring = ring(&[key("k1", 1)]);
    let (akid, _) = mint(&keyring, &typical()).unwrap();
    assert!(akid.len() <= TYPICAL_BUDGET, "{} chars", akid.len());
    assert!(akid.starts_with(PREFIX));
    assert!(
        akid.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{akid}"
    );
}

#[test]
fn oversized_claims_are_refused_at_mint() {
    let keyring = ring(&[key("k1", 1)]);
    let mut claims = typical();
    claims.grants = (0..8)
        .map(|i| grant(&format!("bucket-{i}"), &"p".repeat(60), &[Operation::Read]))
        .collect();
    match mint(&keyring, &claims) {
        Err(SealError::TooLong { len, max }) => {
            assert!(len > max);
            assert_eq!(max, MAX_ACCESS_KEY_ID_LEN);
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        Claims {
            subject: String::new(),
            ..typical()
        },
        Claims {
            subject: "x".repeat(65),
            ..typical()
        },
        Claims {
            subject: "a\nb".into(),
            ..typical()
        },
        Claims {
            grants: vec![],
            ..typical()
        },
        Claims {
            grants: vec![grant("d", "", &[Operation::Read]); 9],
            ..typical()
        },
        Claims {
            grants: vec![grant("", "", &[Operation::Read])],
            ..typical()
        },
        Claims {
            grants: vec![grant("d", "", &[])],
            ..typical()
        },
        Claims {
            expires_at: at(1u64 << 32),
            ..typical()
        },
    ] {
        assert!(
            matches!(mint(&keyring, &bad), Err(SealError::Claims(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn debug_output_never_shows_keys_or_secrets() {
    let config = key("k1", 1);
    let keyring = ring(std::slice::from_ref(&config));
    let (_, secret) = mint(&keyring, &typical()).unwrap();
    for shown in [
        format!("{config:?}"),
        format!("{keyring:?}"),
        format!("{secret:?}"),
    ] {
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains(&config.key), "{shown}");
        assert!(!shown.contains(secret.expose()), "{shown}");
    }
}
