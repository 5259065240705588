//! Talking S3 to the upstream: SigV4 signing of forwarded requests, plus the path and query
//! encodings that make what is sent exactly what is signed.

pub mod chunked;
pub mod key;
pub mod results;
pub mod sealed;
pub mod sign;
pub mod verify;

pub use sign::{encode_key_path, normalize_query, Signer, UNSIGNED_PAYLOAD};
