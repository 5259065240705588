//! Who may sign in, from the verified claims: the subject (a non-empty string claim), and the
//! optional `allow` rules (email domain with the email not marked unverified, group
//! membership). Every rule that is set must pass.

use serde_json::Value;

use crate::config::AllowConfig;
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

/// Whether the claims pass `allow`; Err says why not (for the log: no claim values).
pub fn check(claims: &Claims, allow: Option<&AllowConfig>) -> Result<(), String> {
    let Some(allow) = allow else {
        return Ok(());
    };
    if !allow.email_domains.is_empty() {
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .ok_or("no email claim")?;
        let unverified = matches!(claims.get("email_verified"), Some(Value::Bool(false)))
            || matches!(claims.get("email_verified"), Some(Value::String(s)) if s == "false");
        if unverified {
            return Err("email_verified is false".into());
        }
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
        assert!(check(
            &claims(serde_json::json!({"email": "alice@example.com"})),
            Some(&a)
        )
        .is_ok());
        assert!(check(
            &claims(serde_json::json!({"email": "alice@EXAMPLE.com", "email_verified": true})),
            Some(&a)
        )
        .is_ok());
        for bad in [
            serde_json::json!({"email": "bob@other.example"}),
            serde_json::json!({"email": "bob@example.com.evil"}),
            serde_json::json!({"email": "bob@evil.example.com"}),
            serde_json::json!({"email": "alice@example.com", "email_verified": false}),
            serde_json::json!({"email": "alice@example.com", "email_verified": "false"}),
            serde_json::json!({"email": "example.com"}),
            serde_json::json!({"email": 7}),
            serde_json::json!({}),
        ] {
            assert!(check(&claims(bad.clone()), Some(&a)).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_rule_and_both_rules_together() {
        let g = allow(&[], &["staff"]);
        assert!(check(
            &claims(serde_json::json!({"groups": ["x", "staff"]})),
            Some(&g)
        )
        .is_ok());
        assert!(check(&claims(serde_json::json!({"groups": "staff"})), Some(&g)).is_ok());
        assert!(check(&claims(serde_json::json!({"groups": []})), Some(&g)).is_err());
        assert!(check(&claims(serde_json::json!({"groups": ["Staff"]})), Some(&g)).is_err());
        assert!(check(&claims(serde_json::json!({})), Some(&g)).is_err());
        let both = allow(&["example.com"], &["staff"]);
        assert!(check(
            &claims(serde_json::json!({"email": "carol@example.com", "groups": ["staff"]})),
            Some(&both)
        )
        .is_ok());
        assert!(check(
            &claims(serde_json::json!({"email": "carol@example.com", "groups": []})),
            Some(&both)
        )
        .is_err());
        assert!(check(&claims(serde_json::json!({})), None).is_ok());
    }
}
