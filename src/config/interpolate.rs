//! `${VAR}` interpolation of string values, so secrets and per-host settings can come from the
//! environment. `$${` is a literal `${`; any other `$` is kept as it is.
//!
//! Interpolation works on the parsed tree, after YAML quoting is resolved, and the result is
//! always a string: a variable's value is never parsed as YAML.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde_yaml::Value;

use super::path::{key_text, Path};

/// Why a string could not be interpolated. Never contains a variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${NAME}` where `NAME` is not set.
    Missing(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// `${...}` whose content is not a variable name.
    BadName(String),
}

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpolationError::Missing(name) => {
                write!(f, "environment variable {name} is not set")
            }
            InterpolationError::Unterminated => {
                f.write_str("`${` without a closing `}` (write `$${` for a literal `${`)")
            }
            InterpolationError::BadName(name) => write!(
                f,
                "`${{{name}}}` is not a valid variable reference: a name is letters, digits and \
                 underscores, not starting with a digit (write `$${{` for a literal `${{`)"
            ),
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Replaces every `${NAME}` in `s` with `env(NAME)`. Returns every error in the string, not
/// just the first. Borrows when there is nothing to replace.
pub fn interpolate<'a>(
    s: &'a str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Cow<'a, str>, Vec<InterpolationError>> {
    if !s.contains('$') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut errors = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            match after.find('}') {
                None => {
                    errors.push(InterpolationError::Unterminated);
                    rest = "";
                }
                Some(end) => {
                    let name = &after[..end];
                    if !valid_name(name) {
                        errors.push(InterpolationError::BadName(name.to_string()));
                    } else if let Some(value) = env(name) {
                        out.push_str(&value);
                    } else {
                        errors.push(InterpolationError::Missing(name.to_string()));
                    }
                    rest = &after[end + 1..];
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(Cow::Owned(out))
    } else {
        Err(errors)
    }
}

/// What interpolating a whole tree did.
#[derive(Debug, Default)]
pub struct TreeReport {
    /// Every string that could not be interpolated, with the reason.
    pub errors: Vec<(Path, InterpolationError)>,
    /// Strings whose text changed, for hints in later type errors.
    pub substituted: HashSet<Path>,
}

/// Interpolates every string value (not mapping keys) under `value`, which is at `path`.
pub fn interpolate_tree(
    value: &mut Value,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    report: &mut TreeReport,
) {
    match value {
        Value::String(s) => match interpolate(s, env) {
            Ok(Cow::Borrowed(_)) => {}
            Ok(Cow::Owned(new)) => {
                if new != *s {
                    report.substituted.insert(path.clone());
                }
                *s = new;
            }
            Err(errors) => report
                .errors
                .extend(errors.into_iter().map(|e| (path.clone(), e))),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &path.index(i), env, report);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                interpolate_tree(v, &path.key(key_text(k)), env, report);
            }
        }
        Value::Tagged(tagged) => interpolate_tree(&mut tagged.value, path, env, report),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("AKIA".into()),
            "EMPTY" => Some(String::new()),
            "DOLLAR" => Some("${KEY}".into()),
            _ => None,
        }
    }

    fn ok(s: &str) -> String {
        interpolate(s, &env).unwrap().into_owned()
    }

    fn err(s: &str) -> Vec<InterpolationError> {
        interpolate(s, &env).unwrap_err()
    }

    #[test]
    fn replaces_variables() {
        assert_eq!(ok("${KEY}"), "AKIA");
        assert_eq!(ok("a-${KEY}-b-${KEY}"), "a-AKIA-b-AKIA");
        assert_eq!(ok("x${EMPTY}y"), "xy");
        // A value is not interpolated again.
        assert_eq!(ok("${DOLLAR}"), "${KEY}");
    }

    #[test]
    fn leaves_other_dollars_alone() {
        assert!(matches!(
            interpolate("plain", &env),
            Ok(Cow::Borrowed("plain"))
        ));
        assert_eq!(ok("$1 and $name and $ and $$"), "$1 and $name and $ and $$");
        assert_eq!(ok("end$"), "end$");
        assert_eq!(ok("$${KEY}"), "${KEY}");
        assert_eq!(ok("$$${KEY}"), "$${KEY}");
        assert_eq!(ok("ünï${KEY}cødé"), "ünïAKIAcødé");
    }

    #[test]
    fn reports_every_error() {
        assert_eq!(
            err("${NOPE} ${KEY} ${ALSO_NOPE}"),
            vec![
                InterpolationError::Missing("NOPE".into()),
                InterpolationError::Missing("ALSO_NOPE".into())
            ]
        );
        assert_eq!(err("${KEY"), vec![InterpolationError::Unterminated]);
        assert_eq!(err("${}"), vec![InterpolationError::BadName(String::new())]);
        assert_eq!(err("${1X}"), vec![InterpolationError::BadName("1X".into())]);
        assert_eq!(
            InterpolationError::Missing("S3_KEY".into()).to_string(),
            "environment variable S3_KEY is not set"
        );
    }

    #[test]
    fn walks_the_tree() {
        let mut v: Value = serde_yaml::from_str(
            "a: ${KEY}\nb: [x, '${NOPE}', 3]\nc: {d: '$${KEY}'}\n${KEY}: keys are left alone\n",
        )
        .unwrap();
        let mut report = TreeReport::default();
        interpolate_tree(&mut v, &Path::root(), &env, &mut report);
        assert_eq!(v["a"], Value::String("AKIA".into()));
        assert_eq!(v["c"]["d"], Value::String("${KEY}".into()));
        assert!(v.get("${KEY}").is_some());
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].0.to_string(), "b[1]");
        assert!(report.substituted.contains(&Path::root().key("a")));
        assert!(report.substituted.contains(&Path::root().key("c").key("d")));
        assert!(!report.substituted.contains(&Path::root().key("b").index(0)));
    }
}
