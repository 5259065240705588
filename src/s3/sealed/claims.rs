//! What a sealed access key says about its holder, and the rules every such statement obeys,
//! checked the same way when a key is minted and when one is opened.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketgate_plugin::Grant;

use super::budget::{MAX_FIELD_BYTES, MAX_GRANTS, MAX_SUBJECT_BYTES};

/// Who holds a sealed key, what it may do, and until when.
///
/// `expires_at` is kept in whole seconds: [`super::mint`] rounds it down, so an opened key
/// never lives longer than asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub subject: String,
    pub grants: Vec<Grant>,
    pub expires_at: SystemTime,
}

/// `expires_at` as whole Unix seconds, if it fits the format (after 1970, before 2106).
pub(super) fn expiry_seconds(expires_at: SystemTime) -> Result<u32, String> {
    let secs = expires_at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "expires_at is before 1970".to_string())?
        .as_secs();
    match u32::try_from(secs) {
        Ok(0) => Err("expires_at must be after 1970-01-01T00:00:00Z".into()),
        Ok(s) => Ok(s),
        Err(_) => Err("expires_at is after 2106-02-07, past what the format holds".into()),
    }
}

/// The instant `secs` Unix seconds stand for.
pub(super) fn expiry_time(secs: u32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::from(secs))
}

/// Checks the subject and grants against the format's limits; the message says what is wrong.
pub(super) fn check(subject: &str, grants: &[Grant]) -> Result<(), String> {
    check_subject(subject)?;
    if grants.is_empty() {
        return Err("a sealed key needs at least one grant".into());
    }
    if grants.len() > MAX_GRANTS {
        return Err(format!(
            "{} grants, at most {MAX_GRANTS} fit in a sealed key",
            grants.len()
        ));
    }
    for (i, g) in grants.iter().enumerate() {
        check_grant(g).map_err(|e| format!("grants[{i}]: {e}"))?;
    }
    Ok(())
}

fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("the subject must not be empty".into());
    }
    if subject.len() > MAX_SUBJECT_BYTES {
        return Err(format!(
            "the subject is {} bytes, at most {MAX_SUBJECT_BYTES}",
            subject.len()
        ));
    }
    if subject.chars().any(char::is_control) {
        return Err("the subject must not contain control characters".into());
    }
    Ok(())
}

/// Checks one grant; shared with the operator's `--grant` parser.
pub(super) fn check_grant(g: &Grant) -> Result<(), String> {
    if g.operations.is_empty() {
        return Err("no operations: name at least one of read, write, delete, list".into());
    }
    if g.bucket.is_empty() {
        return Err("the bucket must not be empty (`*` is any bucket)".into());
    }
    if g.bucket.contains('/') || g.bucket.chars().any(char::is_control) {
        return Err("the bucket must not contain `/` or control characters".into());
    }
    if g.bucket.len() > MAX_FIELD_BYTES {
        return Err(format!("the bucket is longer than {MAX_FIELD_BYTES} bytes"));
    }
    if g.prefix.chars().any(char::is_control) {
        return Err("the prefix must not contain control characters".into());
    }
    if g.prefix.len() > MAX_FIELD_BYTES {
        return Err(format!("the prefix is longer than {MAX_FIELD_BYTES} bytes"));
    }
    Ok(())
}
