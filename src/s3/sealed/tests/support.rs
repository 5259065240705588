//! Keyrings, claims and a small deterministic random source shared by the sealed-key tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketgate_plugin::{Grant, Operation, Operations};
use data_encoding::BASE64;

use super::super::{Claims, Keyring, SealingKeyConfig};

/// 2033-05-18: far enough ahead that the test keys are live at [`NOW`].
pub const EXPIRES: u64 = 2_000_000_000;
/// The instant the tests open keys at, a day before [`EXPIRES`].
pub const NOW: u64 = EXPIRES - 86_400;

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub fn now() -> SystemTime {
    at(NOW)
}

/// A config entry whose key is 32 bytes of `seed`, `seed + 1`, ...
pub fn key(id: &str, seed: u8) -> SealingKeyConfig {
    let raw: Vec<u8> = (0..32u8).map(|i| seed.wrapping_add(i)).collect();
    SealingKeyConfig {
        id: id.into(),
        key: BASE64.encode(&raw),
    }
}

pub fn ring(keys: &[SealingKeyConfig]) -> Keyring {
    Keyring::from_config(keys).unwrap()
}

pub fn grant(bucket: &str, prefix: &str, ops: &[Operation]) -> Grant {
    Grant {
        bucket: bucket.into(),
        prefix: prefix.into(),
        operations: Operations::of(ops),
    }
}

/// A subject of 17 bytes with two grants: the "typical" key of the length budget.
pub fn typical() -> Claims {
    Claims {
        subject: "alice@example.com".into(),
        grants: vec![
            grant("data", "users/alice/", &[Operation::Read, Operation::Write]),
            grant("public", "", &[Operation::Read]),
        ],
        expires_at: at(EXPIRES),
    }
}

/// xorshift64*: reproducible noise for the fuzz-style tests, without a dependency.
pub struct Noise(pub u64);

impl Noise {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
