//! Altered, truncated or random access key ids never open and never panic.

use data_encoding::BASE32_NOPAD;

use super::super::{mint, open, OpenError, PREFIX};
use super::support::{key, now, ring, typical, Noise};

fn envelope_of(akid: &str) -> Vec<u8> {
    BASE32_NOPAD
        .decode(akid.strip_prefix(PREFIX).unwrap().as_bytes())
        .unwrap()
}

fn akid_of(envelope: &[u8]) -> String {
    format!("{PREFIX}{}", BASE32_NOPAD.encode(envelope))
}

#[test]
fn every_bit_flip_of_the_envelope_fails() {
    let keyring = ring(&[key("k1", 1)]);
    let (akid, _) = mint(&keyring, &typical()).unwrap();
    let envelope = envelope_of(&akid);
    for bit in 0..envelope.len() * 8 {
        let mut flipped = envelope.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let err = open(&keyring, &akid_of(&flipped), now()).unwrap_err();
        // Bits 0-7 are the id length and 8-23 the id itself ("k1"), in clear: a flip there
        // names another (unknown) id or none, and fails before the seal is checked.
        let expected = match bit {
            0..=23 => matches!(err, OpenError::Malformed | OpenError::UnknownKey(_)),
            _ => matches!(err, OpenError::Tampered),
        };
        assert!(expected, "bit {bit}: {err:?}");
    }
}

#[test]
fn every_bit_flip_of_the_text_fails() {
    let keyring = ring(&[key("k1", 1)]);
    let (akid, _) = mint(&keyring, &typical()).unwrap();
    for bit in 0..akid.len() * 8 {
        let mut bytes = akid.clone().into_bytes();
        bytes[bit / 8] ^= 1 << (bit % 8);
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let err = open(&keyring, &text, now()).unwrap_err();
        if bit < PREFIX.len() * 8 {
            assert_eq!(err, OpenError::NotSealed, "bit {bit}");
        }
    }
}

#[test]
fn truncated_and_extended_ids_fail() {
    let keyring = ring(&[key("k1", 1)]);
    let (akid, _) = mint(&keyring, &typical()).unwrap();
    for n in 0..akid.len() {
        assert!(open(&keyring, &akid[..n], now()).is_err(), "{n}");
    }
    for extra in ["A", "AA", "AAAAAAAA", "=", "/"] {
        assert!(open(&keyring, &format!("{akid}{extra}"), now()).is_err());
    }
    assert!(open(&keyring, &akid.to_lowercase(), now()).is_err());
    assert_eq!(
        open(&keyring, &"A".repeat(10_000), now()).unwrap_err(),
        OpenError::NotSealed
    );
    assert_eq!(
        open(&keyring, &format!("{PREFIX}{}", "A".repeat(10_000)), now()).unwrap_err(),
        OpenError::Malformed
    );
}

#[test]
fn random_input_never_opens_or_panics() {
    let keyring = ring(&[key("k1", 1)]);
    let (akid, _) = mint(&keyring, &typical()).unwrap();
    let envelope = envelope_of(&akid);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abc19=/+-_\0\xff";
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let len = noise.below(400);
        let mut text = if noise.below(2) == 0 {
            PREFIX.as_bytes().to_vec()
        } else {
            Vec::new()
        };
        text.extend((0..len).map(|_| alphabet[noise.below(alphabet.len())]));
        let text = String::from_utf8_lossy(&text);
        assert!(open(&keyring, &text, now()).is_err(), "{text}");
        // Random bytes after a valid header: id "k1", then noise.
        let mut forged = envelope[..3].to_vec();
        forged.extend((0..noise.below(300)).map(|_| noise.next() as u8));
        assert!(open(&keyring, &akid_of(&forged), now()).is_err());
        // A few random bit flips of the real envelope.
        let mut flipped = envelope.clone();
        for _ in 0..=noise.below(4) {
            let bit = noise.below(flipped.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
        }
        if flipped != envelope {
            assert!(open(&keyring, &akid_of(&flipped), now()).is_err());
        }
    }
}
