//! Where the verifier gets a caller's secret from: the [`KeyStore`] trait the S3 frontend
//! implements over its configured keys, and the [`Secret`] it hands back (with whatever
//! identity the frontend wants attached to a verified request).

use std::collections::HashMap;
use std::fmt;

/// Looks up the secret behind an access key id.
pub trait KeyStore {
    /// What a verified request carries back to the caller (a user, grants, a route...).
    type Identity;

    /// The secret for `access_key_id`, or `None` if the key is unknown (or disabled).
    fn secret(&self, access_key_id: &str) -> Option<Secret<Self::Identity>>;
}

/// One access key's secret material and the identity it authenticates as.
#[derive(Clone)]
pub struct Secret<I> {
    /// The secret access key.
    pub secret_access_key: String,
    /// For temporary credentials: the session token the request must carry
    /// (`x-amz-security-token` header, or `X-Amz-Security-Token` for presigned URLs). For
    /// long-term keys `None`, and a request carrying a token is refused.
    pub session_token: Option<String>,
    /// Returned in [`Verified::identity`](super::Verified::identity).
    pub identity: I,
}

impl<I> Secret<I> {
    /// A long-term key (no session token).
    pub fn new(secret_access_key: impl Into<String>, identity: I) -> Secret<I> {
        Secret {
            secret_access_key: secret_access_key.into(),
            session_token: None,
            identity,
        }
    }

    /// Temporary credentials: requests must carry `session_token`.
    pub fn with_session_token(mut self, session_token: impl Into<String>) -> Secret<I> {
        self.session_token = Some(session_token.into());
        self
    }
}

impl<I: fmt::Debug> fmt::Debug for Secret<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("identity", &self.identity)
            .finish()
    }
}

/// A fixed map from access key id to secret (tests, static configuration).
impl<I: Clone> KeyStore for HashMap<String, Secret<I>> {
    type Identity = I;

    fn secret(&self, access_key_id: &str) -> Option<Secret<I>> {
        self.get(access_key_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let s = Secret::new("very-secret", "alice").with_session_token("tok-secret");
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert!(shown.contains("alice"));
    }

    #[test]
    fn hash_map_store() {
        let mut keys = HashMap::new();
        keys.insert("AK".to_owned(), Secret::new("sk", 7u32));
        assert_eq!(keys.secret("AK").map(|s| s.identity), Some(7));
        assert!(keys.secret("ak").is_none());
    }
}
