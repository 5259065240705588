//! Grant templates cannot be widened by a claim, and `bucketgate check` warns about prefixes
//! that cover more than a folder. Through the real binary in front of the real upstream: a JWT
//! whose `tenant` claim is `*` (filled into `bucket: "{tenant}"`, it would have been the
//! any-bucket wildcard) or a value with `/` or `..` gets nothing; the same template with a
//! plain tenant reads its own bucket only. `check` prints a warning with file, line and column
//! for a template prefix, a static key's prefix and a public route's `key_prefix` that do not
//! end in `/`, and still succeeds.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use common::client::{self, Response};
use common::fresh_bucket;
use common::gateway::{config_with_routes, Gateway};
use common::upstream::Upstream;

/// The route's HS256 secret (at least 32 bytes).
const SECRET: &str = "grant-template-test-secret-0123456789-abc";

fn token(tenant: &str) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"sub": "mallory", "tenant": tenant, "iat": t, "exp": t + 600});
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("a test token")
}

fn get(gw: &Gateway, path: &str, tenant: &str) -> Response {
    let auth = format!("Bearer {}", token(tenant));
    client::request(gw.addr(), "GET", path, &[("authorization", &auth)], None)
}

/// Two routes over two buckets, one JWT plugin whose only grant is the tenant's own bucket.
#[test]
fn a_claim_can_never_become_the_bucket_wildcard() {
    let ours = fresh_bucket("gt-ours");
    let theirs = fresh_bucket("gt-theirs");
    for bucket in [&ours, &theirs] {
        Upstream::get().put_object(bucket, "doc.txt", b"tenant data\n", &[]);
    }
    let auth = format!(
        "    auth:
      - jwt:
          keys: [{{algorithm: HS256, secret: {SECRET}}}]
          grants: [{{bucket: \"{{tenant}}\", operations: [read]}}]
"
    );
    let gw = Gateway::start(&config_with_routes(&format!(
        "routes:
  - path_prefix: /ours
    upstream: s3
    bucket: {ours}
{auth}  - path_prefix: /theirs
    upstream: s3
    bucket: {theirs}
{auth}"
    )));
    // The tenant's own bucket, and nothing else.
    let r = get(&gw, "/ours/doc.txt", &ours);
    r.assert_status(200);
    assert_eq!(r.body, b"tenant data\n");
    get(&gw, "/theirs/doc.txt", &ours).assert_status(403);
    // `*` and values that are more than one segment fill nothing: no grant at all.
    for tenant in ["*", &format!("{theirs}*"), "*/..", "a/b", "..", ""] {
        for path in ["/ours/doc.txt", "/theirs/doc.txt"] {
            let r = get(&gw, path, tenant);
            assert_eq!(r.status, 403, "tenant {tenant:?} on {path}: {}", r.text());
            assert!(!r.text().contains("tenant data"));
        }
    }
}

/// Runs `bucketgate check` on `yaml`; (exit code, stderr, the file's path).
fn check(yaml: &str) -> (Option<i32>, String, String) {
    let mut f = tempfile::NamedTempFile::with_suffix(".yaml").expect("temp file");
    f.write_all(yaml.as_bytes()).expect("write config");
    let file = f.path().display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_bucketgate"))
        .args(["check", "-c", &file])
        .output()
        .expect("run bucketgate check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file,
    )
}

const CHECKED: &str = "\
listeners:
  - address: 127.0.0.1:8080
upstreams:
  local:
    endpoints: [127.0.0.1:9000]
    credentials: {access_key_id: key, secret_access_key: secretsecret}
routes:
  - path_prefix: /pub
    upstream: local
    bucket: data
    key_prefix: public
    public: true
  - path_prefix: /home
    upstream: local
    bucket: data
    auth:
      - jwt:
          keys: [{algorithm: HS256, secret: 0123456789abcdef0123456789abcdef}]
          grants:
            - {bucket: data, prefix: \"users/{sub}\", operations: [read]}
            - {bucket: data, prefix: \"shared/\", operations: [read]}
      - basic:
          users:
            - name: alice
              password_hash: \"HASH\"
              grants:
                - {bucket: data, prefix: reports/2024, operations: [read]}
  - path_prefix: /s3
    frontend: s3
    upstream: local
    buckets: [{name: data}]
access_keys:
  static:
    - access_key_id: AKIAGRANTWARN1
      secret_access_key: grant-warn-secret
      subject: alice
      grants:
        - {bucket: data, prefix: users/alice, operations: [read, list]}
        - {bucket: data, prefix: users/alice/, operations: [write]}
";

/// [`CHECKED`] with a real bcrypt hash for its Basic user.
fn checked() -> String {
    let hash = bcrypt::hash("correct-horse-battery", 4).expect("a bcrypt hash");
    CHECKED.replace("HASH", &hash)
}

#[test]
fn check_warns_about_prefixes_that_do_not_end_in_a_slash() {
    let (code, stderr, file) = check(&checked());
    assert_eq!(code, Some(0), "warnings do not fail the check:\n{stderr}");
    assert!(stderr.contains("test is successful"), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning:")).collect();
    let expect = [
        (
            11,
            "routes[0].key_prefix: \"public\" does not end in `/`",
            "public route",
        ),
        (
            20,
            "routes[1].auth[0].jwt.grants[0].prefix: \"users/{sub}\" does not end in `/`",
            "alice2",
        ),
        (
            27,
            "routes[1].auth[1].basic.users[0].grants[0].prefix: \"reports/2024\"",
            "end it with `/`",
        ),
        (
            38,
            "access_keys.static[0].grants[0].prefix: \"users/alice\"",
            "end it with `/`",
        ),
    ];
    assert_eq!(warnings.len(), expect.len(), "{stderr}");
    for (line, what, why) in expect {
        let found = warnings
            .iter()
            .find(|w| w.contains(what))
            .unwrap_or_else(|| panic!("no warning {what:?}:\n{stderr}"));
        assert!(
            found.starts_with(&format!("{file}:{line}:")),
            "{what:?} not at line {line}: {found}"
        );
        assert!(found.contains(why), "{found}");
    }
    // Prefixes that end in `/` (and the empty prefix: the whole bucket) warn about nothing.
    let fixed = checked()
        .replace("key_prefix: public\n", "key_prefix: public/\n")
        .replace("users/{sub}\"", "users/{sub}/\"")
        .replace("reports/2024,", "reports/2024/,")
        .replace("prefix: users/alice,", "prefix: \"\",");
    let (code, stderr, _) = check(&fixed);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}
