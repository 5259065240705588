//! Turns one subtree of the config into its typed model, reporting failures at the line of
//! the offending key. The loader calls this once per section, list item and upstream, so one
//! bad route does not hide the problems of the next one.
//!
//! serde stops at the first error, so after reporting it the offending entry is removed from
//! a copy of the subtree and typing is tried again, until it succeeds or a required field is
//! gone. That finds every unknown field and bad value in the subtree, not just the first.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use serde_yaml::Value;

use super::path::{key_text, Path, Seg};
use super::problem::Reporter;
use super::suggest;

/// How many entries one subtree may lose before giving up.
const MAX_RETRIES: usize = 64;

/// Deserializes `value`, which is at `at`, as a `T`, reporting every problem found.
///
/// Returns `None` when it could not be typed at all. Returns `Some` when it typed after the
/// offending entries were dropped: good enough for the semantic checks of the rest (problems
/// at the dropped entries are muted), never for a loaded config, since problems were reported.
pub fn typed<T: DeserializeOwned>(
    value: &Value,
    at: &Path,
    substituted: &HashSet<Path>,
    r: &mut Reporter,
) -> Option<T> {
    let mut value = Cow::Borrowed(value);
    let mut dropped: Vec<Path> = Vec::new();
    for _ in 0..MAX_RETRIES {
        let err = match serde_path_to_error::deserialize::<_, T>(value.as_ref()) {
            Ok(t) => {
                for p in dropped {
                    r.mute(p);
                }
                return Some(t);
            }
            Err(err) => err,
        };
        let mut path = at.clone();
        for seg in err.path().iter() {
            match seg {
                Segment::Seq { index } => path = path.index(*index),
                Segment::Map { key } => path = path.key(key.clone()),
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        let raw = err.into_inner().to_string();
        let only_missing_because_dropped = quoted_after(&raw, "missing field `")
            .is_some_and(|field| dropped.contains(&path.key(field)));
        if !only_missing_because_dropped {
            let (explained, message) = explain(path, &raw, substituted);
            r.at(&explained, message);
            path = explained;
        }
        // A dropped field was required: drop the entry around it too (a whole rewrite
        // rule, say); if that is the subtree itself, nothing more can be found.
        match drop_entry(value.to_mut(), at, &path) {
            Some(gone) => dropped.push(gone),
            None => return None,
        }
    }
    None
}

/// Removes from `root` (which is at `at`) the mapping entry that contains `path`, returning
/// the path of the removed entry; `None` if there is none to remove.
fn drop_entry(root: &mut Value, at: &Path, path: &Path) -> Option<Path> {
    let rel = path.0.strip_prefix(at.0.as_slice())?;
    let last_key = rel.iter().rposition(|s| matches!(s, Seg::Key(_)))?;
    let Seg::Key(key) = &rel[last_key] else {
        return None;
    };
    let mut node = root;
    for seg in &rel[..last_key] {
        node = step(node, seg)?;
    }
    while let Value::Tagged(t) = node {
        node = &mut t.value;
    }
    let Value::Mapping(map) = node else {
        return None;
    };
    let before = map.len();
    map.retain(|k, _| key_text(k) != *key);
    if map.len() == before {
        return None;
    }
    let mut gone = at.clone();
    gone.0.extend_from_slice(&rel[..=last_key]);
    Some(gone)
}

fn step<'v>(node: &'v mut Value, seg: &Seg) -> Option<&'v mut Value> {
    match (node, seg) {
        (Value::Tagged(t), _) => step(&mut t.value, seg),
        (Value::Sequence(items), Seg::Index(i)) => items.get_mut(*i),
        (Value::Mapping(map), Seg::Key(k)) => map
            .iter_mut()
            .find(|(key, _)| key_text(key) == *k)
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Rewrites serde's message into something for a person editing the file, and moves the
/// path of an unknown field onto the field itself.
fn explain(mut path: Path, raw: &str, substituted: &HashSet<Path>) -> (Path, String) {
    let mut message = raw.replace("unit value", "empty value");
    if let Some(field) = quoted_after(raw, "unknown field `") {
        // serde_path_to_error usually has the field in the path already.
        if path.0.last() != Some(&Seg::Key(field.clone())) {
            path = path.key(field.clone());
        }
        message = match suggest::closest(&field, &suggest::backticked(raw)) {
            Some(s) => format!("{message}; did you mean `{s}`?"),
            None => message,
        };
    } else if let Some(variant) = quoted_after(raw, "unknown variant `") {
        if let Some(s) = suggest::closest(&variant, &suggest::backticked(raw)) {
            message = format!("{message}; did you mean `{s}`?");
        }
    } else if path.has_key("credentials") && !raw.starts_with("missing field") {
        // The value may be a secret: keep only what was expected.
        message = match raw.split_once(", expected ") {
            Some((_, expected)) => format!("invalid value, expected {expected}"),
            None => "invalid value (not shown, it may be a secret)".into(),
        };
    } else if raw.starts_with("invalid type: string") && substituted.contains(&path) {
        message.push_str(
            " (a value from ${...} is always a string; this setting needs a literal value)",
        );
    }
    (path, message)
}

/// The text between `prefix` and the next backtick, if `s` starts with `prefix`.
fn quoted_after(s: &str, prefix: &str) -> Option<String> {
    let rest = s.strip_prefix(prefix)?;
    rest.find('`').map(|end| rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::locate::Locations;
    use crate::config::model::{Route, Upstream};

    fn problems<T: DeserializeOwned>(text: &str) -> Vec<String> {
        let loc = Locations::scan(text);
        let value: Value = serde_yaml::from_str(text).unwrap();
        let mut r = Reporter::new("f", &loc);
        let got = typed::<T>(&value, &Path::root(), &HashSet::new(), &mut r);
        let out: Vec<String> = r.finish().iter().map(|p| p.to_string()).collect();
        assert!(got.is_some() || !out.is_empty());
        out
    }

    #[test]
    fn unknown_field_points_at_the_field() {
        let got = problems::<Route>("bucket: b\nupstreem: a\n");
        assert_eq!(got.len(), 2);
        assert!(
            got[0].starts_with("f:1:1: missing field `upstream`"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("f:2:1: upstreem: unknown field `upstreem`"),
            "{got:?}"
        );
        assert!(got[1].ends_with("did you mean `upstream`?"), "{got:?}");
    }

    #[test]
    fn nested_errors_point_at_the_item() {
        let got = problems::<Route>("upstream: a\nbucket: b\nmethods:\n  - GET\n  - get\n");
        assert!(
            got[0].starts_with("f:5:5: methods[1]: unknown variant `get`"),
            "{got:?}"
        );
        assert!(got[0].ends_with("did you mean `GET`?"), "{got:?}");
    }

    #[test]
    fn finds_every_problem_in_one_item() {
        let got = problems::<Route>(
            "upstream: a\ncolour: red\nbucket: b\nmethods: [GET, FETCH]\nmax_body: lots\n",
        );
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(
            got[0].starts_with("f:2:1: colour: unknown field"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("f:4:16: methods[1]: unknown variant `FETCH`"),
            "{got:?}"
        );
        assert!(
            got[2].starts_with("f:5:1: max_body: invalid size \"lots\""),
            "{got:?}"
        );
    }

    #[test]
    fn a_dropped_required_field_ends_the_search() {
        let got = problems::<Route>("upstream: [a]\nbucket: b\ncolour: red\n");
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with("f:1:1: upstream: invalid type: sequence"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("f:3:1: colour: unknown field"),
            "{got:?}"
        );
    }

    #[test]
    fn a_dropped_required_field_drops_its_parent_entry() {
        let got = problems::<Route>(
            "upstream: a\nbucket: b\nrewrite:\n  - match: '('\n    replace: x\nmethods: [NOPE]\n",
        );
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with("f:4:5: rewrite[0].match: invalid regex"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("f:6:11: methods[0]: unknown variant"),
            "{got:?}"
        );
    }

    #[test]
    fn missing_field_points_at_the_mapping() {
        let got = problems::<Route>("\nbucket: b\n");
        assert_eq!(got, ["f:2:1: missing field `upstream`"]);
    }

    #[test]
    fn secrets_stay_out_of_messages() {
        let got = problems::<Upstream>(
            "endpoints: [a:1]\ncredentials:\n  access_key_id: k\n  secret_access_key: 987654321\n",
        );
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("f:4:3: credentials.secret_access_key: invalid value"));
        assert!(!got[0].contains("987654321"), "{got:?}");
    }
}
