//! Gives every upstream its credentials: the ones written in the file, or else the standard
//! AWS environment variables, so that after a successful load nothing else has to look.
//! Messages name variables and fields, never their values.

use super::model::{Credentials, Upstream};
use super::path::Path;
use super::problem::Reporter;

pub const ACCESS_KEY_VAR: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_KEY_VAR: &str = "AWS_SECRET_ACCESS_KEY";
pub const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";

/// Checks the credentials of the upstream `name`, filling them from `env` when the file has
/// none. Reports a problem (and leaves `None`) when neither place has them.
pub fn resolve(
    name: &str,
    upstream: &mut Upstream,
    env: &dyn Fn(&str) -> Option<String>,
    r: &mut Reporter,
) {
    let at = Path::root().key("upstreams").key(name);
    match &upstream.credentials {
        Some(c) => check_written(c, &at.key("credentials"), r),
        None => match from_env(env) {
            Ok(c) => upstream.credentials = Some(c),
            Err(missing) => r.at(
                &at,
                format!(
                    "upstream `{name}` has no credentials and {missing}: either add \
                     `credentials:` with `access_key_id` and `secret_access_key` (values may \
                     be ${{VARIABLES}}) to this upstream, or set {ACCESS_KEY_VAR} and \
                     {SECRET_KEY_VAR} (and {SESSION_TOKEN_VAR} if needed) in bucketgate's \
                     environment"
                ),
            ),
        },
    }
}

fn check_written(c: &Credentials, at: &Path, r: &mut Reporter) {
    if c.access_key_id.trim().is_empty() {
        r.at(&at.key("access_key_id"), "must not be empty");
    }
    if c.secret_access_key.trim().is_empty() {
        r.at(&at.key("secret_access_key"), "must not be empty");
    }
    if c.session_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        r.at(
            &at.key("session_token"),
            "must not be empty (omit it when there is no session token)",
        );
    }
}

/// The credentials in the environment, or a description of what is missing.
fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, String> {
    let get = |var: &str| env(var).filter(|v| !v.trim().is_empty());
    match (get(ACCESS_KEY_VAR), get(SECRET_KEY_VAR)) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token: get(SESSION_TOKEN_VAR),
        }),
        (None, None) => Err(format!(
            "neither {ACCESS_KEY_VAR} nor {SECRET_KEY_VAR} is set"
        )),
        (None, Some(_)) => Err(format!("{ACCESS_KEY_VAR} is not set")),
        (Some(_), None) => Err(format!("{SECRET_KEY_VAR} is not set")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_fills_in() {
        let env = |v: &str| match v {
            ACCESS_KEY_VAR => Some("AKIA".to_string()),
            SECRET_KEY_VAR => Some("s3cr3t".to_string()),
            SESSION_TOKEN_VAR => Some(String::new()),
            _ => None,
        };
        let c = from_env(&env).unwrap();
        assert_eq!(c.access_key_id, "AKIA");
        assert_eq!(c.session_token, None);
    }

    #[test]
    fn says_what_is_missing() {
        let only_secret = |v: &str| (v == SECRET_KEY_VAR).then(|| "s3cr3t".to_string());
        let err = from_env(&only_secret).unwrap_err();
        assert_eq!(err, "AWS_ACCESS_KEY_ID is not set");
        assert!(from_env(&|_| None).unwrap_err().contains("neither"));
    }
}
