//! Keyring rotation: the first key seals, every listed key opens, removed keys stop opening,
//! and keys with the same id but other bytes do not verify.

use super::super::{mint, open, OpenError};
use super::support::{key, now, ring, typical};

#[test]
fn rotation_keeps_old_keys_open_until_removed() {
    let old_ring = ring(&[key("k1", 1)]);
    let (old_akid, old_secret) = mint(&old_ring, &typical()).unwrap();

    let rotated = ring(&[key("k2", 100), key("k1", 1)]);
    assert_eq!(rotated.primary_id(), "k2");
    let (_, secret) = open(&rotated, &old_akid, now()).unwrap();
    assert_eq!(secret.expose(), old_secret.expose());

    let (new_akid, _) = mint(&rotated, &typical()).unwrap();
    assert_eq!(
        open(&old_ring, &new_akid, now()).unwrap_err(),
        OpenError::UnknownKey("k2".into()),
        "new mints are sealed with k2"
    );

    let retired = ring(&[key("k2", 100)]);
    assert!(open(&retired, &new_akid, now()).is_ok());
    assert_eq!(
        open(&retired, &old_akid, now()).unwrap_err(),
        OpenError::UnknownKey("k1".into())
    );
}

#[test]
fn a_key_added_last_opens_but_does_not_seal() {
    let staged = ring(&[key("k1", 1), key("k2", 100)]);
    assert_eq!(staged.primary_id(), "k1");
    assert_eq!(staged.ids().collect::<Vec<_>>(), ["k1", "k2"]);
    let (akid, _) = mint(&ring(&[key("k2", 100)]), &typical()).unwrap();
    assert!(open(&staged, &akid, now()).is_ok());
}

#[test]
fn same_id_other_bytes_does_not_verify() {
    let (akid, _) = mint(&ring(&[key("k1", 1)]), &typical()).unwrap();
    let impostor = ring(&[key("k1", 2)]);
    assert_eq!(
        open(&impostor, &akid, now()).unwrap_err(),
        OpenError::Tampered
    );
}
