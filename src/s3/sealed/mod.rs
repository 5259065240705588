//! Sealed access keys: S3 access key ids that carry their own subject, grants and expiry,
//! sealed with a key only the proxy holds, so that the S3 frontend can accept keys it never
//! stored. [`mint`] makes a key pair; [`open`] turns an access key id back into its claims and
//! the secret access key the client signs with (the SigV4 check itself lives elsewhere).
//!
//! # Format (version 1)
//!
//! ```text
//! access key id = "BG1" || BASE32(envelope)       RFC 4648 alphabet A-Z 2-7, uppercase, no padding
//! envelope      = id_len:u8 || key_id || nonce[24] || XChaCha20-Poly1305(payload) || tag[16]
//!                 (the AAD is "BG1" || id_len || key_id: the clear header is authenticated)
//! payload       = version:u8 (1) || expires_at:u32 big-endian, Unix seconds
//!                 || subject_len:u8 || subject || grant_count:u8 || grant...
//! grant         = operations:u8 (read 1, write 2, delete 4, list 8) || bucket_len:u8 || bucket
//!                 || prefix_len:u8 || prefix
//! secret        = BASE64(HMAC-SHA256(secret_subkey, access key id)[..30])   40 chars, A-Za-z0-9+/
//! ```
//!
//! Each sealing key is expanded with HKDF-SHA256 into an AEAD subkey and a secret subkey, so the
//! secret is never stored anywhere, differs for every mint (the nonce is random) and cannot be
//! computed without the sealing key. Decoding is strict (uppercase only, canonical trailing
//! bits, no trailing bytes), so every key pair has exactly one spelling.
//!
//! # Length budget
//!
//! A subject of 17 bytes with two grants (`data:users/alice/:read,write`, `public::read`) gives an
//! access key id of about 155 characters; the tests hold such keys under [`TYPICAL_BUDGET`] (200).
//! Nothing longer than [`MAX_ACCESS_KEY_ID_LEN`] (512) is minted or opened; a 64-byte subject
//! with 8 short grants is about 420. Measured: awscli 1.45.11, boto3 1.43.11 (also presigned
//! URLs), rclone 1.60.1 and s3cmd 2.3.0 all sent access key ids of 128 to 8192 characters
//! unchanged (the table is in `budget.rs`). The cap of 512 is ours, not theirs: it keeps a
//! presigned URL well under the 8 KiB request-line limit of common load balancers.
//!
//! # Choices
//!
//! - XChaCha20-Poly1305, not AES-256-GCM: the 192-bit nonce can be drawn at random for any
//!   number of mints (a 96-bit random nonce is safe only to about 2^32 seals per key), and it is
//!   constant-time in pure Rust without AES instructions. It costs 12 bytes (about 19
//!   characters) more than GCM.
//! - Derived, not sealed, secret: 30 bytes shorter than carrying a random secret inside.
//! - Keyring order: the first key of `sealing_keys` seals, every listed key opens (see
//!   [`keyring`]).

mod args;
mod budget;
mod claims;
mod envelope;
mod error;
pub mod keyring;
mod payload;
mod secret;

#[cfg(test)]
mod tests;

pub use args::{parse_grant_arg, parse_ttl};
pub use budget::{MAX_ACCESS_KEY_ID_LEN, MAX_GRANTS, MAX_SUBJECT_BYTES, TYPICAL_BUDGET};
pub use claims::Claims;
pub use envelope::{is_sealed, mint, open, PREFIX};
pub use error::{OpenError, SealError};
pub use keyring::{generate_sealing_key, KeyProblem, Keyring, SealingKeyConfig};
pub use secret::SecretAccessKey;
