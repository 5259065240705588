//! Turns what the auth steps decided into `bucketgate_auth_total{plugin, outcome}`: one hook in
//! the auth chain (src/access/chain.rs, which knows which plugin decided) and one in the S3
//! frontend (src/frontend/s3/mod.rs, SigV4 with access keys).

use bucketgate_plugin::{Identity, Rejection, Verdict};
use pingora_http::RequestHeader;

use super::metrics::{record_auth, AuthOutcome};

/// The plugin label of S3 signatures that did not verify (the key is unknown or wrong, so
/// which key kind it was is not known either).
pub const SIGV4: &str = "sigv4";
/// The plugin label when no plugin recognised the request.
pub const NONE: &str = "-";

/// Counts one plugin's verdict in the chain (`NotMine` is not an outcome: the next plugin
/// tries).
pub fn verdict(plugin: &str, verdict: &Result<Verdict, Rejection>) {
    match verdict {
        Ok(Verdict::Authenticated(_)) => record_auth(plugin, AuthOutcome::Authenticated),
        Ok(Verdict::Reject(_)) => record_auth(plugin, AuthOutcome::Rejected),
        Ok(Verdict::SignIn(_)) => record_auth(plugin, AuthOutcome::SignInRequired),
        Ok(Verdict::NotMine) => {}
        Err(_) => record_auth(plugin, AuthOutcome::Error),
    }
}

/// Counts a chain that no plugin recognised.
pub fn no_credentials() {
    record_auth(NONE, AuthOutcome::NoCredentials);
}

/// Counts the SigV4 outcome of an S3 request: the key's kind when it verified (even if the
/// request was then refused for its grants), `sigv4`/`rejected` when credentials were there
/// and did not verify, `-`/`no_credentials` for an anonymous request.
/// `identity` is who the signature verified as, if it did.
pub fn s3(req: &RequestHeader, identity: Option<&Identity>) {
    match identity {
        Some(id) => record_auth(&id.plugin, AuthOutcome::Authenticated),
        None if crate::s3::verify::carries_credentials(req) => {
            record_auth(SIGV4, AuthOutcome::Rejected)
        }
        None => no_credentials(),
    }
}
