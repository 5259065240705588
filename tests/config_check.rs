//! `bucketgate check -c FILE` on a good config and on broken ones: the exit code, and that
//! every problem is printed as `FILE:LINE:COL: message` with the right place and a useful
//! message. This is the operator's view of the config loader.

use std::io::Write;
use std::process::Command;

use tempfile::NamedTempFile;

/// The valid example config. Line numbers in the tests below refer to it.
const VALID: &str = include_str!("data/config/valid.yaml");

const SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

/// Every variable the loader may read; the child sees only the ones a test sets.
const VARS: [&str; 5] = [
    "S3_KEY",
    "S3_SECRET",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

struct Outcome {
    file: String,
    code: Option<i32>,
    stderr: String,
}

/// Writes `text` to a temp file and runs `bucketgate check -c` on it with exactly `env` of
/// the loader's variables set.
fn check_with(text: &str, env: &[(&str, &str)]) -> Outcome {
    let mut f = NamedTempFile::with_suffix(".yaml").expect("temp file");
    f.write_all(text.as_bytes()).expect("write config");
    f.flush().expect("flush config");
    let file = f.path().display().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bucketgate"));
    cmd.args(["check", "-c", &file]);
    for var in VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run bucketgate");
    Outcome {
        file,
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `check_with` the example's variables set.
fn check(text: &str) -> Outcome {
    check_with(text, &[("S3_KEY", "AKIAEXAMPLE"), ("S3_SECRET", SECRET)])
}

/// `VALID` with each `(from, to)` replaced once; `from` must be there.
fn broken(edits: &[(&str, &str)]) -> String {
    let mut text = VALID.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in the config");
        text = text.replacen(from, to, 1);
    }
    text
}

impl Outcome {
    /// Asserts a failed check that reports a problem at `line` (and `column`, if given) whose
    /// message contains every fragment.
    fn expect(&self, line: usize, column: Option<usize>, fragments: &[&str]) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "check should fail; stderr:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.contains("test failed"),
            "no summary line; stderr:\n{}",
            self.stderr
        );
        let place = match column {
            Some(c) => format!("{}:{line}:{c}: ", self.file),
            None => format!("{}:{line}:", self.file),
        };
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with(&place) && fragments.iter().all(|f| l.contains(f))),
            "no line starting with {place:?} containing {fragments:?}; stderr:\n{}",
            self.stderr
        );
        assert!(
            !self.stderr.contains(SECRET),
            "the secret leaked; stderr:\n{}",
            self.stderr
        );
        self
    }

    /// How many problems were printed.
    fn problem_count(&self) -> usize {
        let prefix = format!("{}:", self.file);
        self.stderr
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .count()
    }
}

#[test]
fn a_good_config_passes() {
    let out = check(VALID);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("test is successful"),
        "stderr:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains(&out.file), "stderr:\n{}", out.stderr);
}

#[test]
fn credentials_may_come_from_the_aws_environment() {
    let text = broken(&[(
        "    credentials:\n      access_key_id: ${S3_KEY}\n      secret_access_key: ${S3_SECRET}\n",
        "",
    )]);
    let out = check_with(
        &text,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    );
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("test is successful"));
}

#[test]
fn unknown_key_in_a_route() {
    check(&broken(&[(
        "    bucket: data\n",
        "    bucket: data\n    buckt_name: x\n",
    )]))
    .expect(
        17,
        Some(5),
        &[
            "routes[0].buckt_name",
            "unknown field `buckt_name`",
            "expected one of",
        ],
    );
}

#[test]
fn misspelt_key_gets_a_suggestion() {
    check(&broken(&[(
        "    region: us-east-1",
        "    regoin: us-east-1",
    )]))
    .expect(
        8,
        Some(5),
        &["upstreams.local.regoin", "did you mean `region`?"],
    );
}

#[test]
fn unknown_top_level_key() {
    check(&format!("{VALID}logging:\n  level: debug\n")).expect(
        24,
        Some(1),
        &[
            "unknown top-level section `logging`",
            "server, listeners, upstreams, routes",
        ],
    );
}

#[test]
fn string_where_a_number_belongs() {
    check(&broken(&[(
        "grace_period_seconds: 1",
        "grace_period_seconds: soon",
    )]))
    .expect(
        2,
        Some(3),
        &[
            "server.grace_period_seconds",
            "invalid type: string \"soon\", expected u64",
        ],
    );
}

#[test]
fn bad_endpoint() {
    // The second item of the flow list starts at column 33.
    check(&broken(&[(
        "[127.0.0.1:9000]",
        "[127.0.0.1:9000, \"http://s3:9000\"]",
    )]))
    .expect(
        7,
        Some(33),
        &[
            "upstreams.local.endpoints[1]",
            "invalid endpoint",
            "expected host:port",
        ],
    );
}

#[test]
fn bad_regex_in_rewrite() {
    check(&broken(&[(r"'\.bam\.bai$'", "'(unclosed'")])).expect(
        20,
        Some(9),
        &["routes[0].rewrite[0].match", "invalid regex \"(unclosed\""],
    );
}

#[test]
fn undefined_upstream() {
    check(&broken(&[("    upstream: local", "    upstream: lokal")])).expect(
        15,
        Some(5),
        &[
            "upstream `lokal` is not defined",
            "defined upstreams: local",
            "did you mean `local`?",
        ],
    );
}

#[test]
fn missing_environment_variable() {
    // The scalar `${S3_SECRET}` starts at column 26.
    check_with(VALID, &[("S3_KEY", "AKIAEXAMPLE")]).expect(
        11,
        Some(26),
        &["environment variable S3_SECRET is not set"],
    );
}

#[test]
fn yaml_syntax_error() {
    let out = check(&broken(&[("    bucket: data", "    bucket: data: x")]));
    out.expect(
        16,
        Some(17),
        &["YAML syntax error", "mapping values are not allowed"],
    );
    assert_eq!(out.problem_count(), 1, "stderr:\n{}", out.stderr);
}

#[test]
fn duplicate_key() {
    check(&broken(&[(
        "    max_body: 64MiB\n",
        "    max_body: 64MiB\n    bucket: other\n",
    )]))
    .expect(23, Some(5), &["routes[0].bucket", "already set at line 16"]);
}

#[test]
fn bad_listen_address() {
    check(&broken(&[("127.0.0.1:8080", "localhost:8080")])).expect(
        4,
        Some(5),
        &[
            "listeners[0].address",
            "invalid listen address \"localhost:8080\"",
            "ip:port",
        ],
    );
}

#[test]
fn bad_size_in_max_body() {
    check(&broken(&[("max_body: 64MiB", "max_body: 64 parsecs")])).expect(
        22,
        Some(5),
        &["routes[0].max_body", "invalid size \"64 parsecs\""],
    );
}

#[test]
fn bad_method_name() {
    // `PATCH` is the third item of the flow list, at column 26.
    check(&broken(&[("[GET, HEAD, PUT]", "[GET, HEAD, PATCH]")])).expect(
        18,
        Some(26),
        &[
            "routes[0].methods[2]",
            "unknown variant `PATCH`",
            "`GET`, `HEAD`, `PUT`, `DELETE`",
        ],
    );
}

#[test]
fn missing_credentials_without_aws_environment() {
    let text = broken(&[(
        "    credentials:\n      access_key_id: ${S3_KEY}\n      secret_access_key: ${S3_SECRET}\n",
        "",
    )]);
    check_with(&text, &[]).expect(
        6,
        Some(3),
        &[
            "upstream `local` has no credentials",
            "credentials:",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ],
    );
}

#[test]
fn duplicate_routes() {
    let text = format!(
        "{VALID}  - name: again\n    path_prefix: /files/\n    upstream: local\n    bucket: other\n    public: true\n"
    );
    check(&text).expect(
        25,
        Some(5),
        &["routes[1].path_prefix", "duplicate route", "line 13"],
    );
}

#[test]
fn invalid_bucket_name_and_relative_paths() {
    let out = check(&broken(&[
        ("    path_prefix: /files", "    path_prefix: files"),
        ("    bucket: data", "    bucket: My_Data"),
        ("    key_prefix: public/", "    key_prefix: /public/../x"),
    ]));
    out.expect(
        14,
        Some(5),
        &["routes[0].path_prefix", "must start with `/`"],
    )
    .expect(
        16,
        Some(5),
        &["routes[0].bucket", "invalid bucket name \"My_Data\""],
    )
    .expect(
        17,
        Some(5),
        &["routes[0].key_prefix", "must not start with `/`"],
    );
}

#[test]
fn three_independent_errors_are_all_reported() {
    let out = check(&broken(&[
        ("127.0.0.1:8080", "127.0.0.1:http"),
        (
            "    region: us-east-1",
            "    region: us-east-1\n    connect_timeout_ms: 0",
        ),
        ("    upstream: local", "    upstream: nowhere"),
    ]));
    out.expect(
        4,
        Some(5),
        &["listeners[0].address", "invalid listen address"],
    )
    .expect(
        9,
        Some(5),
        &["upstreams.local.connect_timeout_ms", "greater than 0"],
    )
    .expect(
        16,
        Some(5),
        &["routes[0].upstream", "upstream `nowhere` is not defined"],
    );
    assert_eq!(out.problem_count(), 3, "stderr:\n{}", out.stderr);
    // Printed in file order.
    let lines: Vec<&str> = out.stderr.lines().take(3).collect();
    assert!(lines[0].contains(":4:") && lines[1].contains(":9:") && lines[2].contains(":16:"));
}

#[test]
fn missing_sections_and_empty_file() {
    check("").expect(1, Some(1), &["the configuration is empty"]);
    let out = check("server:\n  log_level: chatty\nlisteners: []\n");
    out.expect(1, Some(1), &["missing required section `upstreams`"])
        .expect(1, Some(1), &["missing required section `routes`"])
        .expect(
            2,
            Some(3),
            &["server.log_level", "unknown log level \"chatty\""],
        )
        .expect(3, Some(1), &["at least one listener"]);
}

#[test]
fn unreadable_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_bucketgate"))
        .args(["check", "-c", "/nonexistent/bucketgate.yaml"])
        .output()
        .expect("run bucketgate");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/bucketgate.yaml:1:1: cannot read the configuration file"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn route_without_auth_or_public_is_rejected() {
    check(&broken(&[("    public: true\n", "")])).expect(
        13,
        Some(5),
        &["routes[0]", "no `auth`", "public: true"],
    );
}

/// A config with an oidc files route and an S3 route; `{files_extra}` goes into the files
/// route's oidc section, `{s3_auth}` is the S3 route's `auth` list, `{keys}` the access_keys.
fn sign_in_config(files_extra: &str, s3_auth: &str, keys: &str) -> String {
    format!(
        r#"listeners:
  - address: 127.0.0.1:8080
upstreams:
  storage:
    endpoints: [127.0.0.1:9000]
    region: us-east-1
    credentials: {{access_key_id: AKIAEXAMPLE, secret_access_key: {SECRET}}}
{keys}
routes:
  - name: files
    path_prefix: /files/
    bucket: data
    upstream: storage
    auth:
      - oidc:
          issuer: https://login.example.com
          client_id: bucketgate
          client_secret: s3cr3t
          redirect_url: https://files.example.com/_bucketgate/oidc/callback
{files_extra}
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: storage
    buckets: [{{name: data}}]
    auth:
{s3_auth}
"#
    )
}

const MINTING_OIDC: &str = "      - oidc:
          issuer: https://login.example.com
          client_id: bucketgate
          client_secret: s3cr3t
          redirect_url: https://s3.example.com/_bucketgate/oidc/callback
          mint_keys: {ttl: 12h}";

const SEALING: &str = "access_keys:
  sealing_keys:
    - {id: k1, key: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}";

#[test]
fn oidc_sign_in_rules() {
    // A minting oidc entry on an S3 route, sealing keys present: good.
    let ok = check(&sign_in_config("", MINTING_OIDC, SEALING));
    assert_eq!(ok.code, Some(0), "stderr:\n{}", ok.stderr);

    // Redis sessions without sealing keys: instances could not read each other's sessions.
    let text = sign_in_config(
        "          session_store: {redis: {url: \"redis://127.0.0.1:6379\"}}",
        MINTING_OIDC,
        "",
    );
    let out = check(&text);
    out.expect(
        20,
        None,
        &["redis session store needs `access_keys.sealing_keys`"],
    );
    // ... and minting without them cannot work either.
    out.expect(
        32,
        None,
        &["minting S3 keys needs `access_keys.sealing_keys`"],
    );

    // mint_keys on a files route.
    check(&sign_in_config(
        "          mint_keys: {ttl: 1h}",
        MINTING_OIDC,
        SEALING,
    ))
    .expect(22, None, &["`mint_keys` is for `frontend: s3` routes"]);

    // An S3 route's auth may hold only minting oidc entries.
    let no_mint = MINTING_OIDC.replace("\n          mint_keys: {ttl: 12h}", "");
    check(&sign_in_config("", &no_mint, SEALING)).expect(
        29,
        None,
        &["may list only `oidc` entries with `mint_keys`"],
    );
}

#[test]
fn cors_settings_are_checked() {
    let with_cors = |cors: &str| {
        VALID.replacen(
            "routes:\n",
            &format!(
                "routes:\n  - name: cors-route\n    path_prefix: /cors\n    upstream: local\n    bucket: data\n    public: true\n    cors:\n{cors}\n",
            ),
            1,
        )
    };
    let out = check(&with_cors(
        "      allow_origins: [\"*\", \"https://ok.example:8443\", \"https://a.example/path\", \"ftp://x\"]
      allow_credentials: true
      allow_methods: [GET, PATCH]
      max_age_seconds: 999999",
    ));
    for fragment in [
        "\"https://a.example/path\" is not an origin",
        "\"ftp://x\" is not an origin",
        "browsers refuse credentials with a \"*\" origin",
        "unknown method \"PATCH\"",
        "at most 86400",
    ] {
        assert!(
            out.stderr.contains(fragment),
            "no {fragment:?}; stderr:\n{}",
            out.stderr
        );
    }
    assert_eq!(out.problem_count(), 5, "stderr:\n{}", out.stderr);
    let ok = check(&with_cors(
        "      allow_origins: [\"https://ok.example:8443\"]",
    ));
    assert_eq!(ok.code, Some(0), "stderr:\n{}", ok.stderr);
}
