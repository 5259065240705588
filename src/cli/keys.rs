//! `bucketgate keys ...`: the operator's side of sealed S3 access keys ([`crate::s3::sealed`]).
//! `mint` hands out a key pair, `inspect` says what a key id carries (or why it does not open)
//! and `new-sealing-key` prints a keyring entry for the config.
//!
//! It exists so that `main.rs` stays a thin clap layer: the checks, the output formats and the
//! rotation advice live here, in the library, next to the code that seals and opens, and can be
//! tested without the binary. Nothing here prints: each command returns the text for stdout
//! or a [`Failure`] for stderr. A secret access key or a sealing key only ever appears in the
//! stdout text of `mint` and `new-sealing-key`; failures never carry one.

use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketgate_plugin::{Grant, Operation};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::model::AccessKeys;
use crate::s3::sealed::{
    self, keyring, Claims, Keyring, OpenError, SealError, SealingKeyConfig, SecretAccessKey,
};

/// The longest `--ttl` that `mint` accepts: a year and a day. A sealed key cannot be revoked on
/// its own (only by retiring its sealing key, with every other key it sealed), so long-lived
/// keys are a risk; mint a new one instead.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 86_400);

/// Exit code for a bad argument (the same as clap's usage errors).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for everything else: a bad config, a key that does not open.
pub const EXIT_FAILURE: u8 = 1;

/// Why a `keys` command failed: the message for stderr (never secret) and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    fn error(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How `mint` prints the key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `AWS_ACCESS_KEY_ID=...` and `AWS_SECRET_ACCESS_KEY=...` lines, for a shell or an env file.
    #[default]
    Env,
    /// One JSON object with the key pair, expiry, subject, grants and sealing key id.
    Json,
    /// A profile for `~/.aws/credentials`.
    Aws,
}

/// `--grant BUCKET:PREFIX:OPS`, for clap.
pub fn grant_arg(s: &str) -> Result<Grant, String> {
    sealed::parse_grant_arg(s)
}

/// `--ttl`: a duration such as `24h` or `7d`, at most [`MAX_TTL`], for clap.
pub fn ttl_arg(s: &str) -> Result<Duration, String> {
    let ttl = sealed::parse_ttl(s)?;
    if ttl > MAX_TTL {
        return Err(format!(
            "`{s}` is longer than the maximum of 366 days: a sealed key cannot be revoked on \
             its own, mint a new one when it expires"
        ));
    }
    Ok(ttl)
}

/// `--profile` of `--format aws`: a plain profile name, for clap.
pub fn profile_arg(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        Ok(s.to_string())
    } else {
        Err("a profile name is 1 to 64 characters of A-Z, a-z, 0-9, `_`, `-` and `.`".into())
    }
}

/// A freshly minted key pair and what it carries.
pub struct Minted {
    pub access_key_id: String,
    pub secret: SecretAccessKey,
    /// As the key opens: `expires_at` is rounded down to whole seconds.
    pub claims: Claims,
    /// The id of the sealing key that sealed it (the first of `sealing_keys`).
    pub sealing_key: String,
}

/// Mints a key for `subject` with `grants`, valid for `ttl` from `now`, with the first sealing
/// key of `keys`.
pub fn mint(
    keys: &AccessKeys,
    subject: &str,
    grants: Vec<Grant>,
    ttl: Duration,
    now: SystemTime,
) -> Result<Minted, Failure> {
    if ttl > MAX_TTL {
        return Err(Failure::usage(
            "--ttl is longer than the maximum of 366 days",
        ));
    }
    let ring = keyring_of(keys)?;
    let claims = Claims {
        subject: subject.to_string(),
        grants,
        expires_at: now + ttl,
    };
    let (access_key_id, secret) = sealed::mint(&ring, &claims).map_err(|e| match e {
        SealError::Claims(_) | SealError::TooLong { .. } => Failure::usage(e.to_string()),
        SealError::Random => Failure::error(e.to_string()),
    })?;
    // Open what was just sealed: the claims as the proxy will see them, and a last check that
    // the pair works before it is handed out.
    let (opened, again) = sealed::open(&ring, &access_key_id, now).map_err(|e| {
        Failure::error(format!(
            "the key just minted does not open ({e}); not printed"
        ))
    })?;
    if again.expose() != secret.expose() {
        return Err(Failure::error(
            "the key just minted opens with another secret; not printed",
        ));
    }
    Ok(Minted {
        access_key_id,
        secret,
        claims: opened,
        sealing_key: ring.primary_id().to_string(),
    })
}

/// The text `mint` prints for `m` in `format`; `profile` names the `aws` profile.
pub fn render(m: &Minted, format: Format, profile: &str) -> String {
    let expires = rfc3339(m.claims.expires_at);
    let comment = format!("# expires {expires} (sealed with key {})", m.sealing_key);
    match format {
        Format::Env => format!(
            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n{comment}\n",
            m.access_key_id,
            m.secret.expose()
        ),
        Format::Aws => format!(
            "{comment}\n[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            m.access_key_id,
            m.secret.expose()
        ),
        Format::Json => {
            let doc = MintedJson {
                access_key_id: &m.access_key_id,
                secret_access_key: m.secret.expose(),
                expires_at: expires,
                subject: &m.claims.subject,
                grants: m.claims.grants.iter().map(GrantJson::of).collect(),
                sealing_key: &m.sealing_key,
            };
            let mut text = serde_json::to_string_pretty(&doc).expect("plain strings serialize");
            text.push('\n');
            text
        }
    }
}

#[derive(Serialize)]
struct MintedJson<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    expires_at: String,
    subject: &'a str,
    grants: Vec<GrantJson<'a>>,
    sealing_key: &'a str,
}

#[derive(Serialize)]
struct GrantJson<'a> {
    bucket: &'a str,
    prefix: &'a str,
    operations: Vec<&'static str>,
}

impl<'a> GrantJson<'a> {
    fn of(g: &'a Grant) -> GrantJson<'a> {
        GrantJson {
            bucket: &g.bucket,
            prefix: &g.prefix,
            operations: operations(g),
        }
    }
}

/// A new `sealing_keys` entry with rotation advice, as YAML. The id defaults to `k` and
/// today's UTC date as `YYMMDD` (sealing key ids are at most 8 characters).
pub fn new_sealing_key(id: Option<&str>, now: SystemTime) -> Result<String, Failure> {
    let id = match id {
        Some(id) => id.to_string(),
        None => {
            let d = OffsetDateTime::from(whole_seconds(now));
            format!(
                "k{:02}{:02}{:02}",
                d.year().rem_euclid(100),
                u8::from(d.month()),
                d.day()
            )
        }
    };
    let key = keyring::generate_sealing_key().map_err(|e| Failure::error(e.to_string()))?;
    let entry = SealingKeyConfig {
        id: id.clone(),
        key,
    };
    if let Some(p) = keyring::validate(std::slice::from_ref(&entry)).first() {
        // Only the id can be wrong here; a problem message never contains the key.
        return Err(Failure::usage(format!("--id {id:?}: {}", p.message)));
    }
    let var = format!("SEALING_KEY_{}", id.to_ascii_uppercase().replace('-', "_"));
    Ok(format!(
        "# A new sealing key, generated {generated}. It goes in access_keys.sealing_keys:\n\
         #\n\
         #   access_keys:\n\
         #     sealing_keys:\n\
         #       - {{id: {id}, key: ...}}   <- the new key, at the TOP\n\
         #       - {{id: ..., key: ...}}    <- the older keys, below it\n\
         #\n\
         # Rotation: the FIRST key seals every key minted from now on; every listed key still\n\
         # opens the keys it sealed, so keys minted earlier keep working. Removing a key retires\n\
         # every access key it sealed at once (they fail as sealed with an unknown key): remove\n\
         # an old key once its keys have expired, or to revoke all of them.\n\
         # With several proxies, first add the new key at the END of the list everywhere (it\n\
         # opens but does not seal), then move it to the top, so no proxy meets a key it\n\
         # cannot open.\n\
         # The key is a secret: keep it out of version control, for example as\n\
         # `key: ${{{var}}}` with the value in the environment.\n\
         - {{id: {id}, key: \"{key}\"}}\n",
        generated = rfc3339(now),
        key = entry.key,
    ))
}

/// What `inspect` says about an access key id: its claims and sealing key, or why it does not
/// open at `now` (exit code 1). Never the secret.
pub fn inspect(keys: &AccessKeys, access_key_id: &str, now: SystemTime) -> Result<String, Failure> {
    let ring = keyring_of(keys)?;
    let access_key_id = access_key_id.trim();
    if !sealed::is_sealed(access_key_id) {
        return Err(Failure::error(format!(
            "not a sealed access key: sealed keys start with `{}`; static keys are listed in \
             access_keys.static and access_keys.files",
            sealed::PREFIX
        )));
    }
    match sealed::open(&ring, access_key_id, now) {
        Ok((claims, _secret)) => {
            let by = sealed_with(&keys.sealing_keys, access_key_id).unwrap_or_default();
            let left = claims.expires_at.duration_since(now).unwrap_or_default();
            Ok(describe(
                &claims,
                &by,
                &format!("valid, expires in {}", human(left)),
            ))
        }
        Err(OpenError::Expired) => {
            let by = sealed_with(&keys.sealing_keys, access_key_id).unwrap_or_default();
            // Opened as of 1970 to read what it carried; its expiry has passed all the same.
            let detail = match sealed::open(&ring, access_key_id, UNIX_EPOCH) {
                Ok((claims, _)) => {
                    let ago = now.duration_since(claims.expires_at).unwrap_or_default();
                    describe(&claims, &by, &format!("EXPIRED {} ago", human(ago)))
                }
                Err(_) => String::new(),
            };
            Err(Failure::error(format!(
                "the key does not open: it has expired\n{detail}"
            )))
        }
        Err(OpenError::UnknownKey(id)) => Err(Failure::error(format!(
            "the key does not open: it was sealed with sealing key `{id}`, which is not in \
             access_keys.sealing_keys (ids here: {}): that key was retired, or the access key \
             comes from another deployment",
            ring.ids().collect::<Vec<_>>().join(", ")
        ))),
        Err(OpenError::Tampered) => {
            let id = sealed_with(&keys.sealing_keys, access_key_id).unwrap_or_default();
            Err(Failure::error(format!(
                "the key does not open: it does not verify against sealing key `{id}`: it was \
                 altered, or sealed by another deployment with different key bytes under the \
                 same id"
            )))
        }
        Err(OpenError::Malformed) => Err(Failure::error(
            "the key does not open: it is malformed (not base32 after the prefix, truncated, \
             too long, or altered)",
        )),
        Err(OpenError::NotSealed) => Err(Failure::error("not a sealed access key")),
    }
}

/// The keyring of the config, or a failure saying how to get one.
fn keyring_of(keys: &AccessKeys) -> Result<Keyring, Failure> {
    if keys.sealing_keys.is_empty() {
        return Err(Failure::error(
            "the config has no sealing keys: add `access_keys.sealing_keys` \
             (`bucketgate keys new-sealing-key` prints an entry)",
        ));
    }
    Keyring::from_config(&keys.sealing_keys).map_err(|e| Failure::error(format!("access_keys.{e}")))
}

/// The id of the sealing key in `keys` under which `access_key_id` verifies, found by trying
/// each key alone (the opening error names the id only for unknown keys).
fn sealed_with(keys: &[SealingKeyConfig], access_key_id: &str) -> Option<String> {
    keys.iter()
        .find(|c| {
            Keyring::from_config(std::slice::from_ref(*c)).is_ok_and(|ring| {
                matches!(
                    sealed::open(&ring, access_key_id, UNIX_EPOCH),
                    Ok(_) | Err(OpenError::Tampered)
                )
            })
        })
        .map(|c| c.id.clone())
}

/// The report `inspect` prints: grants in the `--grant` syntax, ready to mint a similar key.
fn describe(claims: &Claims, sealing_key: &str, status: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "subject:     {}", claims.subject);
    let _ = writeln!(
        out,
        "expires_at:  {} ({status})",
        rfc3339(claims.expires_at)
    );
    let _ = writeln!(out, "sealing_key: {sealing_key}");
    let _ = writeln!(out, "grants:");
    for g in &claims.grants {
        let _ = writeln!(
            out,
            "  {}:{}:{}",
            g.bucket,
            g.prefix,
            operations(g).join(",")
        );
    }
    out
}

fn operations(g: &Grant) -> Vec<&'static str> {
    [
        Operation::Read,
        Operation::Write,
        Operation::Delete,
        Operation::List,
    ]
    .into_iter()
    .filter(|op| g.operations.contains(*op))
    .map(Operation::as_str)
    .collect()
}

/// `t` as RFC 3339 in UTC, to the second: `2026-11-25T07:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let t = whole_seconds(t);
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| {
            // Only years past 9999 fail to format; say it in Unix seconds then.
            let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            format!("@{secs}")
        })
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A duration for people: `3d 4h`, `23h 59m`, `5m 2s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m {secs}s")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        assert_eq!(rfc3339(at(1_795_590_000)), "2026-11-25T07:00:00Z");
        assert_eq!(
            rfc3339(at(1_795_590_000) + Duration::from_millis(999)),
            "2026-11-25T07:00:00Z"
        );
    }

    #[test]
    fn ttl_is_capped_at_366_days() {
        assert_eq!(ttl_arg("366d").unwrap(), MAX_TTL);
        assert!(ttl_arg("367d").unwrap_err().contains("366 days"));
        assert!(ttl_arg("53w").is_err());
        assert!(ttl_arg("soon").is_err());
    }

    #[test]
    fn default_sealing_key_id_is_k_and_the_date() {
        let text = new_sealing_key(None, at(1_795_590_000)).unwrap();
        assert!(text.contains("- {id: k261125, key: \""), "{text}");
        let err = new_sealing_key(Some("much-too-long"), at(0)).unwrap_err();
        assert_eq!(err.code, EXIT_USAGE);
        assert!(err.message.contains("1 to 8 characters"), "{}", err.message);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(86_399)), "23h 59m");
        assert_eq!(human(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d 4h");
        assert_eq!(human(Duration::from_secs(62)), "1m 2s");
        assert_eq!(human(Duration::from_secs(5)), "5s");
    }
}
