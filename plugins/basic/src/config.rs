//! The plugin's YAML section (`auth: [ {basic: {...}} ]`) and its validation: the static checks,
//! and reading and parsing the htpasswd file, each problem with its path inside the section.

use std::fmt;
use std::path::PathBuf;

use bucketgate_plugin::{ConfigProblem, GrantTemplate};
use serde::Deserialize;

use crate::hash;
use crate::htpasswd::{self, FileUser};
use crate::users::{self, User};

fn default_realm() -> String {
    "bucketgate".into()
}

fn default_cache_seconds() -> u64 {
    60
}

/// The `basic:` section of a route's `auth` list.
///
/// ```yaml
/// basic:
///   realm: bucketgate                          # default "bucketgate"
///   htpasswd_file: /etc/bucketgate/htpasswd    # bcrypt entries only (htpasswd -B)
///   users:                                     # inline users
///     - name: igv
///       password_hash: "$2y$10$..."
///       grants: [{bucket: genomics, prefix: "", operations: [read]}]
///   grants:                                    # for every user; {sub} is the user name
///     - {bucket: data, prefix: "users/{sub}/", operations: [read, write]}
///   cache_seconds: 60                          # default 60; 0 disables the cache
/// ```
///
/// At least one of `htpasswd_file` and `users` must be given. `Debug` never shows a hash.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicConfig {
    /// The realm of the `WWW-Authenticate: Basic realm="..."` challenge.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// An Apache htpasswd file (bcrypt entries only), re-read when it changes. A relative path
    /// is relative to bucketgate's working directory.
    #[serde(default)]
    pub htpasswd_file: Option<PathBuf>,
    /// Users given in the config itself.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Grants of every user of this plugin; `{sub}` is the user name. Users of the htpasswd
    /// file get only these.
    #[serde(default)]
    pub grants: Vec<GrantTemplate>,
    /// How long a successful verification is remembered; 0 disables the cache.
    #[serde(default = "default_cache_seconds")]
    pub cache_seconds: u64,
}

/// One inline user. `Debug` shows the name and grants, never the hash.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// A bcrypt hash: `$2y$`, `$2b$` or `$2a$`.
    pub password_hash: String,
    /// This user's own grants, added to the plugin's.
    #[serde(default)]
    pub grants: Vec<GrantTemplate>,
}

impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .field("grants", &self.grants)
            .finish()
    }
}

/// What a valid section yields.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub inline: Vec<(String, User)>,
    pub file: Vec<FileUser>,
}

impl BasicConfig {
    /// Every problem of the section: static checks, then reading and parsing the htpasswd file.
    /// Paths are relative to the section (`htpasswd_file`, `users[2].password_hash`); a bad line
    /// of the file is named by its number. No message contains a hash or a password.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        self.load().err().unwrap_or_default()
    }

    /// Checks everything and reads the file, or says every problem.
    pub(crate) fn load(&self) -> Result<Loaded, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        if let Some(why) = realm_problem(&self.realm) {
            problems.push(ConfigProblem::new("realm", why));
        }
        if self.htpasswd_file.is_none() && self.users.is_empty() {
            problems.push(ConfigProblem::new(
                "",
                "no users: give htpasswd_file, users, or both",
            ));
        }
        for (i, t) in self.grants.iter().enumerate() {
            template_problems(&format!("grants[{i}]"), t, &mut problems);
        }
        let inline = self.inline_users(&mut problems);
        let file = match &self.htpasswd_file {
            None => Some(Vec::new()),
            Some(path) if path.as_os_str().is_empty() => {
                problems.push(ConfigProblem::new("htpasswd_file", "is empty"));
                None
            }
            Some(path) => match htpasswd::load(path) {
                Ok(users) => Some(users),
                Err(messages) => {
                    problems.extend(
                        messages
                            .into_iter()
                            .map(|m| ConfigProblem::new("htpasswd_file", m)),
                    );
                    None
                }
            },
        };
        if let (Some(inline), Some(file)) = (&inline, &file) {
            if let Err(conflicts) = users::check_disjoint(inline, file) {
                problems.extend(
                    conflicts
                        .into_iter()
                        .map(|m| ConfigProblem::new("htpasswd_file", m)),
                );
            }
        }
        match (inline, file) {
            (Some(inline), Some(file)) if problems.is_empty() => Ok(Loaded { inline, file }),
            _ => Err(problems),
        }
    }

    /// The inline users, or None after recording their problems.
    fn inline_users(&self, problems: &mut Vec<ConfigProblem>) -> Option<Vec<(String, User)>> {
        let before = problems.len();
        let mut users: Vec<(String, User)> = Vec::new();
        for (i, u) in self.users.iter().enumerate() {
            let path = format!("users[{i}]");
            if let Some(why) = htpasswd::name_problem(&u.name) {
                problems.push(ConfigProblem::new(format!("{path}.name"), why));
            } else if let Some(j) = self.users[..i].iter().position(|o| o.name == u.name) {
                problems.push(ConfigProblem::new(
                    format!("{path}.name"),
                    format!("user {} is already defined at users[{j}]", u.name),
                ));
            }
            for (k, t) in u.grants.iter().enumerate() {
                template_problems(&format!("{path}.grants[{k}]"), t, problems);
            }
            match hash::parse(&u.password_hash) {
                Ok(hash) => users.push((
                    u.name.clone(),
                    User {
                        hash,
                        grants: u.grants.clone(),
                    },
                )),
                Err(why) => problems.push(ConfigProblem::new(
                    format!("{path}.password_hash"),
                    format!("the password hash {why}"),
                )),
            }
        }
        (problems.len() == before).then_some(users)
    }
}

/// The realm goes inside a quoted string of a header: printable ASCII without `"` or `\`.
fn realm_problem(realm: &str) -> Option<&'static str> {
    if realm.is_empty() {
        Some("must not be empty")
    } else if !realm.bytes().all(|b| (b' '..=b'~').contains(&b)) || realm.contains(['"', '\\']) {
        Some("must be printable ASCII without '\"' or '\\'")
    } else {
        None
    }
}

/// A template that can never resolve (an unknown placeholder, an unbalanced brace) is a mistake:
/// the only claim this plugin fills is `sub`.
fn template_problems(path: &str, t: &GrantTemplate, problems: &mut Vec<ConfigProblem>) {
    for (field, value) in [("bucket", &t.bucket), ("prefix", &t.prefix)] {
        if let Some(why) = placeholder_problem(value) {
            problems.push(ConfigProblem::new(format!("{path}.{field}"), why));
        }
    }
}

fn placeholder_problem(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(len) = after.find('}') else {
            return Some("has a '{' without its '}': the grant would never apply".into());
        };
        let name = &after[..len];
        if name != "sub" {
            return Some(format!(
                "uses {{{name}}}, which the basic plugin never fills (its only claim is sub): \
                 the grant would never apply"
            ));
        }
        rest = &after[len + 1..];
    }
    if rest.contains('}') {
        return Some("has a '}' without its '{': the grant would never apply".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> BasicConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn hash(password: &str) -> String {
        bcrypt::hash_with_result(password, hash::MIN_COST)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY)
    }

    fn paths(problems: &[ConfigProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn defaults_and_a_valid_section() {
        let c = cfg(&format!(
            "users: [{{name: igv, password_hash: '{}', grants: [{{bucket: g, operations: [read]}}]}}]\n\
             grants: [{{bucket: data, prefix: 'users/{{sub}}/', operations: [read, write]}}]\n",
            hash("pw")
        ));
        assert_eq!(c.realm, "bucketgate");
        assert_eq!(c.cache_seconds, 60);
        assert_eq!(c.htpasswd_file, None);
        assert!(c.validate().is_empty(), "{:?}", c.validate());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let unknown = serde_yaml::from_str::<BasicConfig>("users: []\nrealms: x\n");
        assert!(unknown.unwrap_err().to_string().contains("realms"));
        let in_user =
            serde_yaml::from_str::<BasicConfig>("users: [{name: a, password_hash: x, pass: y}]");
        assert!(in_user.is_err());
    }

    #[test]
    fn neither_file_nor_users() {
        let problems = cfg("realm: r\n").validate();
        assert_eq!(paths(&problems), [""]);
        assert!(problems[0].message.contains("htpasswd_file"));
        assert_eq!(paths(&cfg("users: []\n").validate()), [""]);
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let problems = cfg(&format!("htpasswd_file: {}\n", path.display())).validate();
        assert_eq!(paths(&problems), ["htpasswd_file"]);
        assert!(problems[0].message.contains("cannot open"), "{problems:?}");
        assert!(problems[0].message.contains(&*path.to_string_lossy()));
    }

    #[test]
    fn bad_lines_of_the_file_are_named_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let apr1 = "$apr1$8a7s6d5f$ZlH0q1ZFA/kUSw2ApJRkQ1";
        std::fs::write(&path, format!("# c\nok:{}\nold:{apr1}\n", hash("x"))).unwrap();
        let problems = cfg(&format!("htpasswd_file: {}\n", path.display())).validate();
        assert_eq!(paths(&problems), ["htpasswd_file"]);
        assert!(problems[0].message.contains("line 3"), "{problems:?}");
        assert!(!problems[0].message.contains(apr1));
    }

    #[test]
    fn bad_hash_in_users() {
        let good = hash("pw");
        let c = cfg(&format!(
            "users:\n\
             - {{name: a, password_hash: '{good}'}}\n\
             - {{name: b, password_hash: '{good}'}}\n\
             - {{name: c, password_hash: '{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g='}}\n\
             - {{name: d, password_hash: hunter2}}\n"
        ));
        let problems = c.validate();
        assert_eq!(
            paths(&problems),
            ["users[2].password_hash", "users[3].password_hash"]
        );
        assert!(problems[0].message.contains("SHA-1"));
        for p in &problems {
            assert!(!p.message.contains("W6ph5") && !p.message.contains("hunter2"));
        }
    }

    #[test]
    fn names_realm_and_templates_are_checked() {
        let good = hash("pw");
        let c = cfg(&format!(
            "realm: 'say \"hi\"'\n\
             users:\n\
             - {{name: a, password_hash: '{good}'}}\n\
             - {{name: a, password_hash: '{good}'}}\n\
             - {{name: 'x:y', password_hash: '{good}', grants: [{{bucket: '{{email}}', operations: [read]}}]}}\n\
             grants: [{{bucket: d, prefix: 'u/{{sub', operations: [read]}}, {{bucket: d, prefix: 'u}}', operations: [read]}}]\n"
        ));
        let problems = c.validate();
        assert_eq!(
            paths(&problems),
            [
                "realm",
                "grants[0].prefix",
                "grants[1].prefix",
                "users[1].name",
                "users[2].name",
                "users[2].grants[0].bucket"
            ],
            "{problems:?}"
        );
        assert!(problems[3].message.contains("users[0]"));
        assert!(problems[5].message.contains("{email}"));
    }

    #[test]
    fn a_user_both_inline_and_in_the_file_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, format!("igv:{}\n", hash("x"))).unwrap();
        let c = cfg(&format!(
            "htpasswd_file: {}\nusers: [{{name: igv, password_hash: '{}'}}]\n",
            path.display(),
            hash("y")
        ));
        let problems = c.validate();
        assert_eq!(paths(&problems), ["htpasswd_file"]);
        assert!(problems[0].message.contains("line 1"), "{problems:?}");
    }

    #[test]
    fn debug_never_shows_hashes() {
        let h = hash("pw");
        let c = cfg(&format!("users: [{{name: igv, password_hash: '{h}'}}]\n"));
        let shown = format!("{c:?}");
        assert!(!shown.contains(&h[7..]), "{shown}");
        assert!(shown.contains("igv"));
    }
}
