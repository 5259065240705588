//! The `access_keys` section: static key pairs (inline and from key files) and the sealing
//! keys that open sealed access keys. Key files are read here, while loading, so a bad file is
//! reported like any other config problem and never takes effect.

use std::collections::HashMap;

use super::model::{AccessKeys, StaticKey};
use super::path::Path;
use super::problem::Reporter;
use crate::s3::sealed::{self, keyring};

/// Reads every key file into `keys.static_keys` and reports what is wrong with the section.
/// `has_s3_routes`: whether any route needs keys at all.
pub fn load_and_check(keys: &mut AccessKeys, has_s3_routes: bool, r: &mut Reporter) {
    let at = Path::root().key("access_keys");
    let inline = keys.static_keys.len();
    for (i, file) in keys.files.clone().iter().enumerate() {
        match read_key_file(file) {
            Ok(mut more) => keys.static_keys.append(&mut more),
            Err(why) => r.at(&at.key("files").index(i), why),
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, k) in keys.static_keys.iter().enumerate() {
        let where_ = at.key("static").index(i);
        let problem = check_static(k).err().or_else(|| {
            seen.insert(&k.access_key_id, i)
                .map(|_| format!("access key id {:?} is listed twice", k.access_key_id))
        });
        if let Some(why) = problem {
            // Keys from files have no place of their own in this file: point at `files`.
            let place = if i < inline { where_ } else { at.key("files") };
            r.at(&place, why);
        }
    }
    if !keys.sealing_keys.is_empty() {
        for p in keyring::validate(&keys.sealing_keys) {
            let place = match p.index {
                Some(i) => at.key("sealing_keys").index(i).key(p.field),
                None => at.key("sealing_keys"),
            };
            r.at(&place, p.message);
        }
    }
    if has_s3_routes && keys.static_keys.is_empty() && keys.sealing_keys.is_empty() {
        r.at(
            &at,
            "a `frontend: s3` route needs access keys: add `access_keys.static`, \
             `access_keys.files` or `access_keys.sealing_keys`",
        );
    }
}

/// The static keys in one key file: a YAML list shaped like `access_keys.static`.
pub fn read_key_file(file: &str) -> Result<Vec<StaticKey>, String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("cannot read key file {file}: {e}"))?;
    serde_yaml::from_str::<Vec<StaticKey>>(&text).map_err(|e| {
        // serde_yaml errors quote field names and positions, never values of other fields; a
        // secret cannot appear unless it was written where a key was expected.
        format!("key file {file}: {}", redact(&e.to_string()))
    })
}

/// Drops quoted values from a parse error so a misplaced secret is never echoed.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match c {
            '"' if !quoted => {
                quoted = true;
                out.push_str("\"…");
            }
            '"' => {
                quoted = false;
                out.push('"');
            }
            _ if quoted => {}
            _ => out.push(c),
        }
    }
    out
}

fn check_static(k: &StaticKey) -> Result<(), String> {
    let id = &k.access_key_id;
    if id.len() < 3 || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "access key id {id:?} must be 3 to 128 letters and digits (as AWS key ids are)"
        ));
    }
    if sealed::is_sealed(id) {
        return Err(format!(
            "access key id {id:?} starts with {:?}, which marks sealed keys: pick another",
            sealed::PREFIX
        ));
    }
    if k.secret_access_key.len() < 8 {
        return Err(format!(
            "the secret of {id:?} is shorter than 8 characters: generate one with \
             `openssl rand -base64 30`"
        ));
    }
    if k.subject.trim().is_empty() {
        return Err(format!("the key {id:?} needs a `subject`, used in logs"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, secret: &str) -> StaticKey {
        StaticKey {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            subject: "alice".into(),
            grants: vec![],
        }
    }

    #[test]
    fn static_key_rules() {
        assert!(check_static(&key("AKIAALICE", "0123456789")).is_ok());
        assert!(check_static(&key("ab", "0123456789")).is_err());
        assert!(check_static(&key("a-b-c", "0123456789")).is_err());
        assert!(check_static(&key("BG1ABC", "0123456789")).is_err());
        let short = check_static(&key("AKIAALICE", "short")).unwrap_err();
        assert!(!short.contains("short\""), "{short}");
    }

    #[test]
    fn key_files_parse_and_errors_hide_values() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("keys.yaml");
        std::fs::write(
            &good,
            "- access_key_id: AKIABOB\n  secret_access_key: bobsecret123\n  subject: bob\n  \
             grants: [{bucket: data, prefix: bob/, operations: [read]}]\n",
        )
        .unwrap();
        let keys = read_key_file(good.to_str().unwrap()).unwrap();
        assert_eq!(keys[0].subject, "bob");
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            "- access_key_id: AKIABOB\n  secret_acess_key: topsecretvalue\n",
        )
        .unwrap();
        let why = read_key_file(bad.to_str().unwrap()).unwrap_err();
        assert!(!why.contains("topsecretvalue"), "{why}");
        assert!(read_key_file("/nonexistent/keys.yaml").is_err());
    }
}
