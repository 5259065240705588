//! Why a sealed key could not be minted or opened. The messages never include key material or
//! secrets; the only input they echo is a key id, which is checked to be short and plain first.

use std::fmt;

/// Why [`super::mint`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// The claims break the format's rules (empty subject, too many grants, ...): why.
    Claims(String),
    /// The access key id would be `len` characters, over the cap of `max`.
    TooLong { len: usize, max: usize },
    /// The operating system's random source failed.
    Random,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Claims(why) => write!(f, "cannot seal these claims: {why}"),
            SealError::TooLong { len, max } => write!(
                f,
                "the access key id would be {len} characters, over the limit of {max}: \
                 use fewer or shorter grants, or a shorter subject"
            ),
            SealError::Random => f.write_str("the system's random number source failed"),
        }
    }
}

impl std::error::Error for SealError {}

/// Why [`super::open`] refused an access key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// It does not start with the sealed prefix: a static key id, for another lookup.
    NotSealed,
    /// It has the prefix but is not a well-formed sealed key (bad characters, too short or too
    /// long, unknown version, or a sealed payload this code cannot read).
    Malformed,
    /// It was sealed with a key id that is not (or no longer) on the keyring.
    UnknownKey(String),
    /// The seal does not verify: altered, or sealed with other key bytes under the same id.
    Tampered,
    /// It opened, but its expiry has passed.
    Expired,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NotSealed => f.write_str("not a sealed access key"),
            OpenError::Malformed => f.write_str("malformed sealed access key"),
            OpenError::UnknownKey(id) => {
                write!(f, "sealed with key `{id}`, which is not on the keyring")
            }
            OpenError::Tampered => f.write_str("sealed access key does not verify"),
            OpenError::Expired => f.write_str("sealed access key has expired"),
        }
    }
}

impl std::error::Error for OpenError {}
