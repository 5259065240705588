//! Who may sign in, from the verified claims: the subject (a non-empty string claim), and the
//! optional `allow` rules (email domain, group membership). Every rule that is set must pass.
//! They are applied at sign-in, at each re-check, and on every request of a session, by the
//! route's own rules.
//!
//! An email is used for a decision only when it is verified: `email_verified` must be `true`
//! (a boolean, or the string `"true"` some providers send). The section's `email_verified:
//! when_present` accepts a missing claim, for providers that never send it; an explicit `false`
//! is refused either way. The same rule decides whether `{email}` may fill a grant.

use serde_json::Value;

use crate::config::{AllowConfig, EmailVerified};
use crate::records::Claims;

/// The subject: the claim `name`, a non-empty string without control characters.
pub fn subject(claims: &Claims, name: &str) -> Result<String, String> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => {
            Ok(s.clone())
        }
        _ => Err(format!(
            "subject claim {name:?} is missing, empty, not a string or holds control characters"
        )),
    }
}

/// Whether the claims' email may be trusted: `email_verified` is true, or (with
/// [`EmailVerified::WhenPresent`]) absent. Err says why not.
pub fn email_verified(claims: &Claims, mode: EmailVerified) -> Result<(), &'static str> {
    match claims.get("email_verified") {
        Some(Value::Bool(true)) => Ok(()),
        Some(Value::String(s)) if s == "true" => Ok(()),
        None if mode == EmailVerified::WhenPresent => Ok(()),
        None => Err("email_verified is missing (set email_verified: when_present for a provider that never sends it)"),
        Some(_) => Err("email_verified is not true"),
    }
}

/// The claims that fill grant templates: all of them, except an `email` that is not verified
/// (so a grant on `users/{email}/` is void for an unverified address).
pub fn for_grants(claims: &Claims, mode: EmailVerified) -> std::borrow::Cow<'_, Claims> {
    if claims.contains_key("email") && email_verified(claims, mode).is_err() {
        let mut trimmed = claims.clone();
        trimmed.remove("email");
        std::borrow::Cow::Owned(trimmed)
    } else {
        std::borrow::Cow::Borrowed(claims)
    }
}

/// Whether the claims pass `allow`; Err says why not (for the log: no claim values).
pub fn check(
    claims: &Claims,
    allow: Option<&AllowConfig>,
    mode: EmailVerified,
) -> Result<(), String> {
    let Some(allow) = allow else {
        return Ok(());
    };
    if !allow.email_domains.is_empty() {
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .ok_or("no email claim")?;
        email_verified(claims, mode)?;
        let domain = email
            .rsplit_once('@')
            .map(|(_, d)| d)
            .filter(|d| !d.is_empty())
            .ok_or("the email claim has no domain")?;
        if !allow
            .email_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
        {
            return Err("email domain not allowed".into());
        }
    }
    if !allow.groups.is_empty() {
        let member = match claims.get(&allow.groups_claim) {
            Some(Value::Array(groups)) => groups
                .iter()
                .filter_map(Value::as_str)
                .any(|g| allow.groups.iter().any(|a| a == g)),
            Some(Value::String(g)) => allow.groups.iter().any(|a| a == g),
            _ => false,
        };
        if !member {
            return Err(format!(
                "not in an allowed group (claim {:?})",
                allow.groups_claim
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: EmailVerified = EmailVerified::Required;
    const WHEN_PRESENT: EmailVerified = EmailVerified::WhenPresent;

    fn claims(v: serde_json::Value) -> Claims {
        serde_json::from_value(v).unwrap()
    }

    fn allow(domains: &[&str], groups: &[&str]) -> AllowConfig {
        AllowConfig {
            email_domains: domains.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            groups_claim: "groups".into(),
        }
    }

    #[test]
    fn subject_must_be_a_clean_string() {
        let c = claims(serde_json::json!({"sub": "alice", "n": 1, "e": "", "c": "a\nb"}));
        assert_eq!(subject(&c, "sub").unwrap(), "alice");
        for bad in ["n", "e", "c", "missing"] {
            assert!(subject(&c, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_domain_rule() {
        let a = allow(&["example.com"], &[]);
        for good in [
            serde_json::json!({"email": "alice@EXAMPLE.com", "email_verified": true}),
            serde_json::json!({"email": "alice@example.com", "email_verified": "true"}),
        ] {
            assert!(
                check(&claims(good.clone()), Some(&a), REQUIRED).is_ok(),
                "{good}"
            );
        }
        for bad in [
            serde_json::json!({"email": "bob@other.example", "email_verified": true}),
            serde_json::json!({"email": "bob@example.com.evil", "email_verified": true}),
            serde_json::json!({"email": "bob@evil.example.com", "email_verified": true}),
            serde_json::json!({"email": "example.com", "email_verified": true}),
            serde_json::json!({"email": 7, "email_verified": true}),
            serde_json::json!({"email_verified": true}),
            serde_json::json!({}),
        ] {
            assert!(
                check(&claims(bad.clone()), Some(&a), REQUIRED).is_err(),
                "{bad}"
            );
            assert!(
                check(&claims(bad.clone()), Some(&a), WHEN_PRESENT).is_err(),
                "{bad}"
            );
        }
    }

    /// Missing, false and true `email_verified`, by default and with the opt-out.
    #[test]
    fn email_domains_need_a_verified_email_unless_the_provider_opts_out() {
        let a = allow(&["example.com"], &[]);
        let missing = claims(serde_json::json!({"email": "alice@example.com"}));
        let verified =
            claims(serde_json::json!({"email": "alice@example.com", "email_verified": true}));
        let unverified = [
            claims(serde_json::json!({"email": "alice@example.com", "email_verified": false})),
            claims(serde_json::json!({"email": "alice@example.com", "email_verified": "false"})),
            claims(serde_json::json!({"email": "alice@example.com", "email_verified": null})),
            claims(serde_json::json!({"email": "alice@example.com", "email_verified": 1})),
            claims(serde_json::json!({"email": "alice@example.com", "email_verified": "yes"})),
        ];
        // Default: only true counts.
        assert!(check(&verified, Some(&a), REQUIRED).is_ok());
        assert!(check(&missing, Some(&a), REQUIRED).is_err(), "missing");
        for c in &unverified {
            assert!(check(c, Some(&a), REQUIRED).is_err(), "{c:?}");
        }
        // Opt-out: missing is accepted, false still is not.
        assert!(check(&verified, Some(&a), WHEN_PRESENT).is_ok());
        assert!(
            check(&missing, Some(&a), WHEN_PRESENT).is_ok(),
            "missing, opted out"
        );
        for c in &unverified {
            assert!(check(c, Some(&a), WHEN_PRESENT).is_err(), "{c:?}");
        }
        // Without an email rule, email_verified does not matter for allow.
        let groups = allow(&[], &["staff"]);
        let staff = claims(
            serde_json::json!({"email": "x@y", "email_verified": false, "groups": ["staff"]}),
        );
        assert!(check(&staff, Some(&groups), REQUIRED).is_ok());
    }

    #[test]
    fn unverified_emails_do_not_fill_grants() {
        let missing = claims(serde_json::json!({"sub": "a", "email": "alice@example.com"}));
        let verified = claims(
            serde_json::json!({"sub": "a", "email": "alice@example.com", "email_verified": true}),
        );
        let unverified = claims(
            serde_json::json!({"sub": "a", "email": "alice@example.com", "email_verified": false}),
        );
        assert!(!for_grants(&missing, REQUIRED).contains_key("email"));
        assert!(for_grants(&missing, REQUIRED).contains_key("sub"));
        assert!(for_grants(&verified, REQUIRED).contains_key("email"));
        assert!(!for_grants(&unverified, REQUIRED).contains_key("email"));
        assert!(for_grants(&missing, WHEN_PRESENT).contains_key("email"));
        assert!(!for_grants(&unverified, WHEN_PRESENT).contains_key("email"));
    }

    #[test]
    fn group_rule_and_both_rules_together() {
        let g = allow(&[], &["staff"]);
        let ok =
            |v: serde_json::Value, a: &AllowConfig| check(&claims(v), Some(a), REQUIRED).is_ok();
        assert!(ok(serde_json::json!({"groups": ["x", "staff"]}), &g));
        assert!(ok(serde_json::json!({"groups": "staff"}), &g));
        assert!(!ok(serde_json::json!({"groups": []}), &g));
        assert!(!ok(serde_json::json!({"groups": ["Staff"]}), &g));
        assert!(!ok(serde_json::json!({}), &g));
        let both = allow(&["example.com"], &["staff"]);
        assert!(ok(
            serde_json::json!({"email": "carol@example.com", "email_verified": true, "groups": ["staff"]}),
            &both
        ));
        assert!(!ok(
            serde_json::json!({"email": "carol@example.com", "email_verified": true, "groups": []}),
            &both
        ));
        assert!(check(&claims(serde_json::json!({})), None, REQUIRED).is_ok());
    }
}
