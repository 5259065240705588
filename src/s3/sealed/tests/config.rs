//! Keyring config: key encodings, lengths, ids, duplicates, and messages that never echo keys.

use data_encoding::{BASE64, BASE64URL_NOPAD, HEXLOWER, HEXUPPER};

use super::super::keyring::validate;
use super::super::{generate_sealing_key, Keyring, SealingKeyConfig};
use super::support::key;

fn entry(id: &str, key: &str) -> SealingKeyConfig {
    SealingKeyConfig {
        id: id.into(),
        key: key.into(),
    }
}

fn raw() -> Vec<u8> {
    (0..32u8).map(|i| i * 7 + 3).collect()
}

#[test]
fn keys_are_accepted_as_base64_or_hex() {
    for text in [
        BASE64.encode(&raw()),
        BASE64URL_NOPAD.encode(&raw()),
        HEXLOWER.encode(&raw()),
        HEXUPPER.encode(&raw()),
        format!("  {}\n", BASE64.encode(&raw())),
    ] {
        assert!(
            Keyring::from_config(&[entry("k1", &text)]).is_ok(),
            "{text}"
        );
    }
    let generated = generate_sealing_key().unwrap();
    assert!(Keyring::from_config(&[entry("k1", &generated)]).is_ok());
    assert_ne!(generated, generate_sealing_key().unwrap());
}

#[test]
fn bad_keys_are_refused_without_being_echoed() {
    for text in [
        String::new(),
        BASE64.encode(&raw()[..16]),
        BASE64.encode(&[raw(), raw()].concat()),
        HEXLOWER.encode(&raw()[..31]),
        "not a key at all, not base64 !!".to_string(),
        BASE64.encode(&[0u8; 32]),
    ] {
        let err = Keyring::from_config(&[entry("k1", &text)]).unwrap_err();
        assert!(err.starts_with("sealing_keys[0].key: "), "{err}");
        if !text.is_empty() {
            assert!(!err.contains(&text), "{err}");
        }
    }
}

#[test]
fn ids_must_be_short_plain_and_unique() {
    for id in ["", "toolong12", "k 1", "k/1", "ключ"] {
        let err = Keyring::from_config(&[entry(id, &key("x", 1).key)]).unwrap_err();
        assert!(err.starts_with("sealing_keys[0].id: "), "{id}: {err}");
    }
    let problems = validate(&[key("k1", 1), key("k2", 50), key("k1", 100)]);
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].index, problems[0].field), (Some(2), "id"));
    assert!(problems[0].message.contains("sealing_keys[0]"));
}

#[test]
fn the_same_key_under_two_ids_is_refused() {
    let problems = validate(&[key("k1", 1), key("k2", 1)]);
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].index, problems[0].field), (Some(1), "key"));
}

#[test]
fn an_empty_ring_is_refused() {
    let err = Keyring::from_config(&[]).unwrap_err();
    assert!(err.contains("at least one key"), "{err}");
}

#[test]
fn config_deserializes_strictly() {
    let yaml = "- id: k2\n  key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n- id: k1\n  key: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    let config: Vec<SealingKeyConfig> = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(config.len(), 2);
    // The same bytes in two encodings: refused as one key listed twice.
    assert_eq!(validate(&config).len(), 1);
    let unknown = "- id: k1\n  key: x\n  primary: true\n";
    let err = serde_yaml::from_str::<Vec<SealingKeyConfig>>(unknown).unwrap_err();
    assert!(err.to_string().contains("primary"), "{err}");
}
