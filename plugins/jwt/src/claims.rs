//! The checks of a token's claims once its signature is good (exp, nbf, iss, aud, subject). Done
//! here rather than in jsonwebtoken so each failure has a precise log reason and no arithmetic on
//! untrusted numbers can overflow. The grants that claims yield come from the plugin API's
//! `grants_from_claims`, shared with the oidc plugin.

use serde_json::{Map, Value};

use crate::keys::truncate;

pub type Claims = Map<String, Value>;

/// What a token's claims must satisfy.
#[derive(Debug, Clone)]
pub struct Rules {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_seconds: u64,
    pub subject_claim: String,
}

/// The subject of claims that satisfy `rules` at `now` (seconds since the epoch), or why not.
pub fn check(claims: &Claims, rules: &Rules, now: u64) -> Result<String, String> {
    let now = now as f64;
    let leeway = rules.leeway_seconds as f64;
    let exp = time_claim(claims, "exp")?.ok_or("token has no exp")?;
    if now > exp + leeway {
        return Err("token expired".into());
    }
    if let Some(nbf) = time_claim(claims, "nbf")? {
        if nbf - leeway > now {
            return Err("token not yet valid (nbf in the future)".into());
        }
    }
    if let Some(issuer) = &rules.issuer {
        match claims.get("iss") {
            None => return Err("token has no iss".into()),
            Some(Value::String(iss)) if iss == issuer => {}
            Some(Value::String(iss)) => {
                return Err(format!("wrong issuer {:?}", truncate(iss)));
            }
            Some(_) => return Err("wrong issuer (not a string)".into()),
        }
    }
    if let Some(audience) = &rules.audience {
        let ok = match claims.get("aud") {
            None => return Err("token has no aud".into()),
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            Some(_) => false,
        };
        if !ok {
            return Err("wrong audience".into());
        }
    }
    match claims.get(&rules.subject_claim) {
        Some(Value::String(subject)) if !subject.is_empty() => {
            if subject.chars().any(char::is_control) {
                return Err(format!(
                    "subject claim {:?} holds control characters",
                    rules.subject_claim
                ));
            }
            Ok(subject.clone())
        }
        _ => Err(format!(
            "subject claim {:?} is missing, empty or not a string",
            rules.subject_claim
        )),
    }
}

/// A NumericDate claim: absent, a number, or an error.
fn time_claim(claims: &Claims, name: &str) -> Result<Option<f64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|t| t.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{name} is not a usable number")),
        Some(_) => Err(format!("{name} is not a number")),
    }
}
