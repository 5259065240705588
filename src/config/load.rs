//! Reads `bucketgate.yaml` into a [`Config`], or explains everything that is wrong with it.
//!
//! The steps: parse the YAML (a syntax error stops here), find where every node is, apply `<<`
//! merge keys, interpolate `${VAR}`s, check the top-level sections, type each section, list
//! item and upstream on its own, then run the semantic checks and fill in credentials. Every
//! step reports all it finds.

use std::collections::{BTreeMap, HashSet};
use std::path::Path as FsPath;

use serde_yaml::{Mapping, Value};

use super::access_keys;
use super::credentials;
use super::interpolate::{interpolate_tree, TreeReport};
use super::locate::{Locations, Pos};
use super::model::{AccessKeys, Config, Frontend, Listener, Route, ServerConfig, Upstream};
use super::path::{key_text, Path};
use super::problem::{Problem, Reporter};
use super::suggest;
use super::typed::typed;
use super::validate;

const SECTIONS: [&str; 7] = [
    "server",
    "listeners",
    "upstreams",
    "routes",
    "access_keys",
    "metrics",
    "limits",
];
const REQUIRED: [&str; 3] = ["listeners", "upstreams", "routes"];

/// Loads the config at `path`, with `${VAR}`s and default credentials from the process
/// environment.
pub fn load(path: &FsPath) -> Result<Config, Vec<Problem>> {
    let label = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&label, &text, &|var| std::env::var(var).ok()),
        Err(e) => Err(vec![Problem {
            file: label,
            line: 1,
            column: 1,
            message: format!("cannot read the configuration file: {e}"),
        }]),
    }
}

/// Loads a config from `text`; `file_label` names it in problems and `env` looks up
/// environment variables.
pub fn load_str(
    file_label: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Vec<Problem>> {
    let parsed = serde_yaml::from_str::<Value>(text);
    if let Err(e) = &parsed {
        if !e.to_string().contains("duplicate entry") {
            return Err(vec![syntax_problem(file_label, e)]);
        }
    }
    let locations = Locations::scan(text);
    let mut r = Reporter::new(file_label, &locations);
    let mut root = match parsed {
        Ok(v) => v,
        Err(e) => {
            for d in locations.duplicates() {
                r.at_pos(
                    d.again,
                    format!(
                        "{}: this key is already set at line {}",
                        d.path, d.first.line
                    ),
                );
            }
            if r.is_empty() {
                return Err(vec![syntax_problem(file_label, &e)]);
            }
            return Err(r.finish());
        }
    };

    if let Err(e) = root.apply_merge() {
        r.at_pos(Pos::START, format!("invalid merge key `<<`: {e}"));
        return Err(r.finish());
    }

    let mut interpolation = TreeReport::default();
    interpolate_tree(&mut root, &Path::root(), env, &mut interpolation);
    for (path, err) in &interpolation.errors {
        r.at_value(path, err);
    }
    for (path, _) in interpolation.errors {
        r.mute(path);
    }
    let substituted = &interpolation.substituted;

    let top = match &root {
        Value::Mapping(m) => m,
        Value::Null => {
            r.at_pos(
                Pos::START,
                "the configuration is empty: it needs the sections listeners, upstreams and \
                 routes (server is optional)",
            );
            return Err(r.finish());
        }
        _ => {
            r.at(
                &Path::root(),
                "the configuration must be a mapping with the sections server, listeners, \
                 upstreams and routes",
            );
            return Err(r.finish());
        }
    };
    check_sections(top, &mut r);

    let server = match top.get("server") {
        None | Some(Value::Null) => Some(ServerConfig::default()),
        Some(v) => typed::<ServerConfig>(v, &Path::root().key("server"), substituted, &mut r),
    };
    if let Some(s) = &server {
        validate::check_server(s, &mut r);
    }

    let (listeners, written) = typed_list::<Listener>(top, "listeners", substituted, &mut r);
    if top.contains_key("listeners") {
        validate::check_listeners(&listeners, written, &mut r);
    }

    let (mut upstreams, names) = typed_upstreams(top, substituted, &mut r);
    if top.contains_key("upstreams") {
        validate::check_upstreams(&upstreams, names.as_ref().map(Vec::len), &mut r);
    }
    for (name, u) in &mut upstreams {
        credentials::resolve(name, u, env, &mut r);
    }

    let (routes, written) = typed_list::<Route>(top, "routes", substituted, &mut r);
    if top.contains_key("routes") {
        validate::check_routes(&routes, written, names.as_deref(), &mut r);
    }

    let mut access_keys = match top.get("access_keys") {
        None | Some(Value::Null) => Some(AccessKeys::default()),
        Some(v) => typed::<AccessKeys>(v, &Path::root().key("access_keys"), substituted, &mut r),
    };
    let mut warnings = Reporter::new(file_label, &locations);
    validate::warn_open_prefixes(&routes, access_keys.as_ref(), &mut warnings);
    validate::warn_sign_in_hosts(&routes, &mut warnings);
    if let Some(keys) = &mut access_keys {
        let has_s3 = routes.iter().any(|(_, rt)| rt.frontend == Frontend::S3);
        access_keys::load_and_check(keys, has_s3, &mut r);
        validate::check_sign_in(&routes, !keys.sealing_keys.is_empty(), &mut r);
    }

    let metrics = super::validate_observe::metrics_section(top, &listeners, substituted, &mut r);

    let limits = super::validate_limits::limits_section(top, &routes, substituted, &mut r);

    match (server, access_keys, metrics, limits) {
        (Some(server), Some(access_keys), Some(metrics), Some(limits)) if r.is_empty() => {
            Ok(Config {
                server,
                listeners: listeners.into_iter().map(|(_, l)| l).collect(),
                upstreams: upstreams.into_iter().collect::<BTreeMap<_, _>>(),
                routes: routes.into_iter().map(|(_, rt)| rt).collect(),
                access_keys,
                metrics,
                limits,
                warnings: warnings.finish(),
            })
        }
        _ => {
            if r.is_empty() {
                // Unreachable: a section that did not type has reported why.
                r.at_pos(Pos::START, "the configuration could not be loaded");
            }
            Err(r.finish())
        }
    }
}

/// A YAML syntax error, at the place the parser gave up.
fn syntax_problem(file: &str, e: &serde_yaml::Error) -> Problem {
    let mut message = e.to_string();
    let (line, column) = match e.location() {
        Some(loc) => {
            let at = format!(" at line {} column {}", loc.line(), loc.column());
            message = message.replacen(&at, "", 1);
            (loc.line().max(1), loc.column().max(1))
        }
        None => (1, 1),
    };
    Problem {
        file: file.to_string(),
        line,
        column,
        message: format!("YAML syntax error: {message}"),
    }
}

/// Unknown sections, and required sections that are missing.
fn check_sections(top: &Mapping, r: &mut Reporter) {
    for key in top.keys() {
        let name = key_text(key);
        if !SECTIONS.contains(&name.as_str()) {
            let hint = suggest::closest(&name, &SECTIONS)
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            r.at(
                &Path::root().key(name.clone()),
                format!(
                    "unknown top-level section `{name}`: {hint}the known sections are {}",
                    SECTIONS.join(", ")
                ),
            );
        }
    }
    for section in REQUIRED {
        if !top.contains_key(section) {
            r.at_pos(Pos::START, format!("missing required section `{section}`"));
        }
    }
}

/// The items of the list `section` that typed, with their index, and how many were written
/// (`None` when the section is not a list at all).
fn typed_list<T: serde::de::DeserializeOwned>(
    top: &Mapping,
    section: &str,
    substituted: &HashSet<Path>,
    r: &mut Reporter,
) -> (Vec<(usize, T)>, Option<usize>) {
    let at = Path::root().key(section);
    match top.get(section) {
        None | Some(Value::Null) => (Vec::new(), Some(0)),
        Some(Value::Sequence(items)) => {
            let typed_items = items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| typed::<T>(v, &at.index(i), substituted, r).map(|t| (i, t)))
                .collect();
            (typed_items, Some(items.len()))
        }
        Some(_) => {
            r.at(
                &at,
                format!("`{section}` must be a list (items start with `- `)"),
            );
            (Vec::new(), None)
        }
    }
}

/// The upstreams that typed, and the names of all that were written (`None` when the
/// section is not a mapping at all).
fn typed_upstreams(
    top: &Mapping,
    substituted: &HashSet<Path>,
    r: &mut Reporter,
) -> (Vec<(String, Upstream)>, Option<Vec<String>>) {
    let at = Path::root().key("upstreams");
    match top.get("upstreams") {
        None | Some(Value::Null) => (Vec::new(), Some(Vec::new())),
        Some(Value::Mapping(map)) => {
            let mut typed_items = Vec::new();
            let mut names = Vec::new();
            for (k, v) in map {
                let name = key_text(k);
                let here = at.key(name.clone());
                if !matches!(k, Value::String(_)) {
                    r.at(&here, "an upstream name must be a string");
                    continue;
                }
                names.push(name.clone());
                if let Some(u) = typed::<Upstream>(v, &here, substituted, r) {
                    typed_items.push((name, u));
                }
            }
            (typed_items, Some(names))
        }
        Some(_) => {
            r.at(
                &at,
                "`upstreams` must be a mapping from names to upstreams, for example \
                 `upstreams: {local: {endpoints: [127.0.0.1:9000]}}`",
            );
            (Vec::new(), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const VALID: &str = include_str!("../../tests/data/config/valid.yaml");

    fn env(var: &str) -> Option<String> {
        match var {
            "S3_KEY" => Some("AKIAEXAMPLE".into()),
            "S3_SECRET" => Some("very-secret-value".into()),
            _ => None,
        }
    }

    fn problems(text: &str) -> Vec<String> {
        problems_with(text, &env)
    }

    fn problems_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        match load_str("t.yaml", text, env) {
            Ok(_) => Vec::new(),
            Err(ps) => ps.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn assert_has(got: &[String], prefix: &str, fragment: &str) {
        assert!(
            got.iter()
                .any(|p| p.starts_with(prefix) && p.contains(fragment)),
            "no problem starting with {prefix:?} containing {fragment:?} in {got:#?}"
        );
    }

    #[test]
    fn loads_the_example() {
        let cfg = load_str("t.yaml", VALID, &env).unwrap();
        assert_eq!(cfg.server.grace_period_seconds, 1);
        assert_eq!(cfg.server.log_level, "info");
        let local = &cfg.upstreams["local"];
        assert_eq!(
            local.credentials.as_ref().unwrap().access_key_id,
            "AKIAEXAMPLE"
        );
        assert_eq!(cfg.routes[0].max_body.unwrap().0, 64 << 20);
        assert_eq!(
            cfg.routes[0].rewrite[0]
                .pattern
                .0
                .replace("a.bam.bai", "$0"),
            "a.bam.bai"
        );
    }

    #[test]
    fn credentials_come_from_the_environment() {
        let text = VALID.replace(
            concat!(
                "    credentials:\n",
                "      access_key_id: ${S3_KEY}\n",
                "      secret_access_key: ${S3_SECRET}\n",
            ),
            "",
        );
        let aws = |v: &str| match v {
            "AWS_ACCESS_KEY_ID" => Some("AKIA".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("shh".to_string()),
            "AWS_SESSION_TOKEN" => Some("tok".to_string()),
            _ => None,
        };
        let cfg = load_str("t.yaml", &text, &aws).unwrap();
        let c = cfg.upstreams["local"].credentials.clone().unwrap();
        assert_eq!(c.secret_access_key, "shh");
        assert_eq!(c.session_token.as_deref(), Some("tok"));

        let got = problems_with(&text, &|_| None);
        assert_has(&got, "t.yaml:6:3: upstreams.local: ", "AWS_ACCESS_KEY_ID");
        assert_has(&got, "t.yaml:6:3: ", "credentials:");
    }

    #[test]
    fn reports_every_problem_in_order() {
        let text = VALID
            .replace("    upstream: local\n", "    upstream: lokal\n")
            .replace(
                "      - match: '\\.bam\\.bai$'",
                "      - match: '(unclosed'",
            )
            .replace("  grace_period_seconds: 1", "  grace_period_seconds: soon")
            .replace("    bucket: data\n", "    bucket: data\n    colour: blue\n");
        let got = problems(&text);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got[0].starts_with("t.yaml:2:3: server.grace_period_seconds: invalid type"));
        assert!(got[1].starts_with("t.yaml:15:5: routes[0].upstream: upstream `lokal` is not"));
        assert!(got[1].contains("defined upstreams: local"));
        assert!(got[2].starts_with("t.yaml:17:5: routes[0].colour: unknown field `colour`"));
        assert!(got[3].starts_with("t.yaml:21:9: routes[0].rewrite[0].match: invalid regex"));
    }

    #[test]
    fn one_bad_item_does_not_hide_another() {
        let text = format!(
            "{VALID}{}",
            concat!(
                "  - name: two\n",
                "    upstream: local\n",
                "    bucket: Bad_Bucket\n",
                "    public: true\n",
                "  - name: three\n",
                "    upstream: local\n",
                "    bucket: ok-bucket\n",
                "    methods: [GET, PATCH]\n",
                "    public: true\n",
            ),
        );
        let got = problems(&text);
        assert_has(
            &got,
            "t.yaml:26:5: routes[1].bucket: ",
            "invalid bucket name",
        );
        assert_has(
            &got,
            "t.yaml:31:20: routes[2].methods[1]: ",
            "unknown variant `PATCH`",
        );
        // Routes two and three both take every path on every host.
        assert_has(
            &got,
            "t.yaml:28:5: routes[2].path_prefix: ",
            "duplicate route: the route at line 24",
        );
        assert_eq!(got.len(), 3, "{got:#?}");
    }

    #[test]
    fn missing_variables_point_at_the_value() {
        let got = problems_with(VALID, &|v| (v == "S3_KEY").then(|| "k".to_string()));
        assert_eq!(
            got,
            [
                "t.yaml:11:26: upstreams.local.credentials.secret_access_key: \
              environment variable S3_SECRET is not set"
            ]
        );
    }

    #[test]
    fn interpolated_values_are_strings() {
        let text = VALID.replace("grace_period_seconds: 1", "grace_period_seconds: ${S3_KEY}");
        let got = problems(&text);
        assert_has(
            &got,
            "t.yaml:2:3: ",
            "a value from ${...} is always a string",
        );
        let text = VALID.replace("bucket: data", "bucket: ${NOPE}");
        assert_eq!(
            problems(&text),
            ["t.yaml:16:13: routes[0].bucket: environment variable NOPE is not set"]
        );
    }

    #[test]
    fn sections() {
        let got = problems("");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("t.yaml:1:1: the configuration is empty"));
        let got = problems("# only a comment\nlisteners: []\nextra: 1\n");
        assert_has(&got, "t.yaml:1:1: ", "missing required section `upstreams`");
        assert_has(&got, "t.yaml:1:1: ", "missing required section `routes`");
        assert_has(&got, "t.yaml:2:1: listeners: ", "at least one listener");
        assert_has(
            &got,
            "t.yaml:3:1: extra: ",
            "the known sections are server, listeners",
        );
        let got = problems(&VALID.replace("routes:", "rotues:"));
        assert_has(&got, "t.yaml:12:1: rotues: ", "did you mean `routes`?");
        let got = problems("- a\n- b\n");
        assert_has(&got, "t.yaml:1:1: ", "must be a mapping");
        let got = problems(&VALID.replace("routes:\n", "routes: 7\nx:\n"));
        assert_has(&got, "t.yaml:12:1: routes: ", "must be a list");
    }

    #[test]
    fn merge_keys_work() {
        let text = format!(
            "{VALID}{}",
            concat!(
                "  - &two\n",
                "    name: two\n",
                "    path_prefix: /two\n",
                "    upstream: local\n",
                "    bucket: data\n",
                "    public: true\n",
                "  - <<: *two\n",
                "    name: three\n",
                "    path_prefix: /three\n",
            ),
        );
        let cfg = load_str("t.yaml", &text, &env).unwrap();
        assert_eq!(cfg.routes[2].bucket, "data");
        assert_eq!(cfg.routes[2].path_prefix, "/three");
        let got = problems(&format!("{VALID}  - <<: 1\n"));
        assert_has(&got, "t.yaml:1:1: ", "invalid merge key");
    }

    #[test]
    fn a_dropped_value_does_not_cause_false_duplicates() {
        let text = format!(
            "{VALID}{}",
            concat!(
                "  - name: a\n",
                "    path_prefix: [x]\n",
                "    upstream: local\n",
                "    bucket: data\n",
                "    public: true\n",
                "  - name: b\n",
                "    upstream: local\n",
                "    bucket: data\n",
                "    public: true\n",
            ),
        );
        let got = problems(&text);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_has(
            &got,
            "t.yaml:25:5: routes[1].path_prefix: ",
            "invalid type: sequence",
        );
    }

    #[test]
    fn s3_routes_and_access_keys() {
        let base = "listeners: [{address: 127.0.0.1:8080}]\nupstreams:\n  u:\n    endpoints: [127.0.0.1:9000]\n    credentials: {access_key_id: k, secret_access_key: s}\n";
        let ok = format!(
            "{base}access_keys:\n  static:\n    - {{access_key_id: AKIAALICE, secret_access_key: alicesecret1, subject: alice, grants: [{{bucket: data, operations: [read]}}]}}\nroutes:\n  - {{frontend: s3, upstream: u, buckets: [{{name: data}}, {{name: pics, bucket: data, key_prefix: p/}}]}}\n"
        );
        assert_eq!(problems(&ok), Vec::<String>::new());

        let no_keys = format!(
            "{base}routes:\n  - {{frontend: s3, upstream: u, buckets: [{{name: data}}]}}\n"
        );
        assert_has(
            &problems(&no_keys),
            "t.yaml:1:1: access_keys",
            "needs access keys",
        );

        let bad = format!(
            "{base}access_keys:\n  static:\n    - {{access_key_id: BG1X, secret_access_key: short, subject: a, grants: []}}\nroutes:\n  - {{frontend: s3, upstream: u, bucket: data, public: true, buckets: [{{name: Data}}, {{name: ok1, upstream: nope}}]}}\n  - {{upstream: u, path_prefix: /f, public: true, buckets: [{{name: x}}]}}\n"
        );
        let got = problems(&bad);
        for fragment in [
            "starts with \"BG1\"",
            "`frontend: s3` routes: list buckets under `buckets`",
            "`frontend: s3` routes: S3 routes authenticate",
            "invalid bucket name \"Data\"",
            "upstream `nope` is not defined",
            "a `files` route needs `bucket`",
            "`buckets` is for `frontend: s3` routes",
        ] {
            assert!(
                got.iter().any(|p| p.contains(fragment)),
                "{fragment}: {got:#?}"
            );
        }
        assert!(!got.iter().any(|p| p.contains("short")), "{got:#?}");
    }

    #[test]
    fn semantic_checks() {
        let text = r#"server:
  log_level: loud
  threads: 0
listeners:
  - address: 127.0.0.1:8080
  - address: 127.0.0.1:8080
upstreams:
  a:
    endpoints: []
    region: ""
    connect_timeout_ms: 0
    credentials: {access_key_id: "", secret_access_key: x}
routes:
  - name: r
    path_prefix: files
    upstream: a
    bucket: ab
    key_prefix: /abs
    health_key: ""
    methods: []
  - name: r
    path_prefix: files
    upstream: a
    bucket: abc
    key_prefix: a/../b
    health_key: /x
"#;
        let got = problems(text);
        for (prefix, fragment) in [
            ("t.yaml:2:3: server.log_level: ", "use one of error, warn"),
            ("t.yaml:3:3: server.threads: ", "at least 1"),
            (
                "t.yaml:6:5: listeners[1].address: ",
                "already a listener (line 5)",
            ),
            (
                "t.yaml:9:5: upstreams.a.endpoints: ",
                "at least one endpoint",
            ),
            ("t.yaml:10:5: upstreams.a.region: ", "must not be empty"),
            (
                "t.yaml:11:5: upstreams.a.connect_timeout_ms: ",
                "greater than 0",
            ),
            (
                "t.yaml:12:19: upstreams.a.credentials.access_key_id: ",
                "must not be empty",
            ),
            (
                "t.yaml:15:5: routes[0].path_prefix: ",
                "must start with `/`",
            ),
            ("t.yaml:17:5: routes[0].bucket: ", "3 to 63"),
            (
                "t.yaml:18:5: routes[0].key_prefix: ",
                "must not start with `/`",
            ),
            ("t.yaml:19:5: routes[0].health_key: ", "must not be empty"),
            ("t.yaml:20:5: routes[0].methods: ", "at least one"),
            (
                "t.yaml:21:5: routes[1].name: ",
                "already used by the route at line 14",
            ),
            (
                "t.yaml:22:5: routes[1].path_prefix: ",
                "duplicate route: the route at line 14",
            ),
            ("t.yaml:25:5: routes[1].key_prefix: ", "`..` segment"),
            (
                "t.yaml:26:5: routes[1].health_key: ",
                "must not start with `/`",
            ),
        ] {
            assert_has(&got, prefix, fragment);
        }
    }

    #[test]
    fn secrets_never_appear() {
        let text = VALID.replace("${S3_SECRET}", "12345678\n      bogus: 1");
        let got = problems(&text);
        assert!(!got.iter().any(|p| p.contains("12345678")), "{got:#?}");
        let text = VALID.replace("${S3_SECRET}", "[1, 2]");
        let got = problems(&text);
        assert_has(&got, "t.yaml:11:7: ", "invalid value, expected a string");
        let text = VALID
            .replace("route", "x")
            .replace("path_prefix: /files", "path_prefix: 1");
        assert!(!problems(&text)
            .iter()
            .any(|p| p.contains("very-secret-value")));
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let got = problems("listeners:\n  - address: [1\nroutes: []\n");
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(got[0].starts_with("t.yaml:3:"), "{got:#?}");
        assert!(got[0].contains("YAML syntax error"));
        let got = problems("a: 1\nb: 1\na: 2\nb: 3\n");
        assert_eq!(
            got,
            [
                "t.yaml:3:1: a: this key is already set at line 1",
                "t.yaml:4:1: b: this key is already set at line 2"
            ]
        );
    }

    /// Truncated and garbled versions of a valid config: never a panic, and every problem has
    /// a real position.
    #[test]
    fn garbage_never_panics() {
        let check = |text: &str| {
            if let Err(ps) = load_str("t.yaml", text, &env) {
                assert!(!ps.is_empty());
                for p in ps {
                    assert!(p.line >= 1 && p.column >= 1, "{p} for {text:?}");
                }
            }
        };
        for (i, _) in VALID.char_indices() {
            check(&VALID[..i]);
            check(&VALID[i..]);
        }
        let noise = [
            ":", "-", " ", "\t", "[", "]", "{", "}", "'", "\"", "&a", "*a", "!t", "#", "\n", "${",
            "$", "|", ">", "?", "%", "@", "\u{0}", "é", "---\n", "...\n", "<<: ",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut text = VALID.to_string();
            for _ in 0..=(next() % 4) {
                let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
                let at = cuts[(next() as usize) % cuts.len()];
                let what = noise[(next() as usize) % noise.len()];
                if next() % 3 == 0 {
                    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                    text.replace_range(at..end, what);
                } else {
                    text.insert_str(at, what);
                }
            }
            check(&text);
        }
        check(&"[".repeat(300));
        check(&"a: ".repeat(500));
        check(&"- ".repeat(500));
        check("a: &x [*x]");
        check("routes: &r [{upstream: a, bucket: abc}]\nx: *r\n");
    }
}
