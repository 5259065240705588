//! HTTP Basic authentication end to end, through the real bucketgate binary in front of a real
//! S3 server: an inline user (bcrypt hash in the config) and a user of an htpasswd file read
//! their objects; a wrong password, an unknown user and malformed `Authorization: Basic` headers
//! get 401 with the route's `Basic realm=...` challenge; good credentials outside the user's
//! grants get 403; and a rewritten htpasswd file takes effect while the gateway runs (the new
//! password works, the old one, even though it was just verified and cached, no longer does).
//! Passwords never appear in a response or in the log. Hashes use bcrypt cost 4, for speed.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use common::client::{self, request, Response};
use common::gateway::{config_with_routes, Gateway};
use common::upstream::Upstream;
use common::{fresh_bucket, wait_until};

const REALM: &str = "genomes";
const IGV_PASSWORD: &str = "igv-pass-7f3a";
const ALICE_PASSWORD: &str = "alice-pass-old-91c2";
const ALICE_NEW_PASSWORD: &str = "alice-pass-new-4d8e";

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_result(password, 4)
        .expect("bcrypt")
        .format_for_version(bcrypt::Version::TwoY)
}

fn write_htpasswd(path: &Path, entries: &[(&str, &str)]) {
    let text: String = entries
        .iter()
        .map(|(user, pw)| format!("{user}:{}\n", bcrypt_hash(pw)))
        .collect();
    std::fs::write(path, text).expect("writing the htpasswd file");
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn get_as(gw: &Gateway, path: &str, authorization: &str) -> Response {
    request(
        gw.addr(),
        "GET",
        path,
        &[("Authorization", authorization)],
        None,
    )
}

/// A gateway on one bucket with objects `genome/ref.fa`, `users/alice/notes.txt` and
/// `users/igv/prefs.txt`. Inline user `igv` may read `genome/`; every user (the htpasswd
/// file's `alice` too) may read `users/<name>/`. The htpasswd file lives in a temp dir of the
/// test, since it must exist before the gateway starts.
struct Setup {
    gw: Gateway,
    htpasswd: PathBuf,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let up = Upstream::get();
    let bucket = fresh_bucket("basic");
    up.put_object(&bucket, "genome/ref.fa", b">chr1\nACGT\n", &[]);
    up.put_object(&bucket, "users/alice/notes.txt", b"alice's notes\n", &[]);
    up.put_object(&bucket, "users/igv/prefs.txt", b"igv prefs\n", &[]);
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    write_htpasswd(&htpasswd, &[("alice", ALICE_PASSWORD)]);
    let gw = Gateway::start(&config_with_routes(&format!(
        "routes:
  - name: genomes
    path_prefix: /files
    upstream: s3
    bucket: {bucket}
    methods: [GET, HEAD]
    auth:
      - basic:
          realm: {REALM}
          htpasswd_file: \"{htpasswd}\"
          users:
            - name: igv
              password_hash: '{igv_hash}'
              grants:
                - {{bucket: \"{bucket}\", prefix: \"genome/\", operations: [read]}}
          grants:
            - {{bucket: \"{bucket}\", prefix: \"users/{{sub}}/\", operations: [read]}}
",
        htpasswd = htpasswd.display(),
        igv_hash = bcrypt_hash(IGV_PASSWORD),
    )));
    Setup {
        gw,
        htpasswd,
        _dir: dir,
    }
}

/// Panics unless `r` is a 401 with this route's Basic challenge and no secret in the body.
#[track_caller]
fn assert_basic_401(r: &Response, what: &str, secrets: &[&str]) {
    assert_eq!(
        r.status,
        401,
        "{what}: want 401; headers {:?}, body {}",
        r.headers,
        r.text()
    );
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with(&format!("Basic realm=\"{REALM}\"")),
        "{what}: challenge {challenge:?}, want Basic realm=\"{REALM}\""
    );
    assert_eq!(r.json()["error"], "unauthorized", "{what}: {}", r.text());
    for s in secrets {
        assert!(!r.text().contains(s), "{what}: body contains {s:?}");
    }
}

#[test]
fn inline_and_htpasswd_users_read_their_objects() {
    let s = setup();
    let r = get_as(&s.gw, "/files/genome/ref.fa", &basic("igv", IGV_PASSWORD));
    r.assert_status(200);
    assert_eq!(r.body, b">chr1\nACGT\n");
    // IGV re-sends its credentials with every Range request.
    let ranged = request(
        s.gw.addr(),
        "GET",
        "/files/genome/ref.fa",
        &[
            ("Authorization", &basic("igv", IGV_PASSWORD)),
            ("Range", "bytes=6-9"),
        ],
        None,
    );
    ranged.assert_status(206);
    assert_eq!(ranged.body, b"ACGT");
    // The plugin-wide {sub} grant applies to inline users too.
    let own = get_as(
        &s.gw,
        "/files/users/igv/prefs.txt",
        &basic("igv", IGV_PASSWORD),
    );
    own.assert_status(200);
    assert_eq!(own.body, b"igv prefs\n");

    let a = get_as(
        &s.gw,
        "/files/users/alice/notes.txt",
        &basic("alice", ALICE_PASSWORD),
    );
    a.assert_status(200);
    assert_eq!(a.body, b"alice's notes\n");

    // Good credentials, but outside the user's grants: 403, not 401.
    for (user, pw, path) in [
        ("alice", ALICE_PASSWORD, "/files/genome/ref.fa"),
        ("alice", ALICE_PASSWORD, "/files/users/igv/prefs.txt"),
        ("igv", IGV_PASSWORD, "/files/users/alice/notes.txt"),
    ] {
        let r = get_as(&s.gw, path, &basic(user, pw));
        assert_eq!(r.status, 403, "{user} {path}: {}", r.text());
        assert_eq!(r.json()["error"], "forbidden");
    }

    let log = s.gw.wait_for_log("status=403", Duration::from_secs(5));
    for secret in [IGV_PASSWORD, ALICE_PASSWORD] {
        assert!(!log.contains(secret), "a password is in the log:\n{log}");
    }
}

#[test]
fn bad_credentials_get_401_with_the_basic_challenge() {
    let s = setup();
    let path = "/files/genome/ref.fa";
    let secrets = [IGV_PASSWORD, "wrong-password-x1", ALICE_PASSWORD];

    assert_basic_401(&client::get(s.gw.addr(), path), "no credentials", &[]);
    let cases: Vec<(&str, String)> = vec![
        ("wrong password", basic("igv", "wrong-password-x1")),
        (
            "wrong password, htpasswd user",
            basic("alice", "wrong-password-x1"),
        ),
        ("another user's password", basic("alice", IGV_PASSWORD)),
        ("unknown user", basic("mallory", IGV_PASSWORD)),
        ("empty password", basic("igv", "")),
        ("not base64", "Basic !!!not*base64!!!".into()),
        ("no colon", format!("Basic {}", STANDARD.encode("igv"))),
        ("empty user name", basic("", IGV_PASSWORD)),
        ("no credentials after the scheme", "Basic ".into()),
        (
            "invalid UTF-8",
            format!("Basic {}", STANDARD.encode(b"igv:\xff\xfe")),
        ),
    ];
    for (what, header) in &cases {
        let r = get_as(&s.gw, path, header);
        assert_basic_401(&r, what, &secrets);
        assert!(!r.text().contains("ACGT"), "{what}: the object was served");
    }

    let log = s.gw.wait_for_log("status=401", Duration::from_secs(5));
    for secret in secrets {
        assert!(!log.contains(secret), "a password is in the log:\n{log}");
    }
    let blob = STANDARD.encode(format!("igv:{IGV_PASSWORD}"));
    assert!(
        !log.contains(&blob),
        "encoded credentials are in the log:\n{log}"
    );

    // Every refused credential is counted against the client IP (for the rate limiter); a
    // request with no credential at all is not a failed attempt.
    let counts: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("auth rejected:"))
        .filter_map(|l| l.split("failures=").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    let want: Vec<u64> = (1..=counts.len() as u64).collect();
    assert_eq!(
        counts, want,
        "failed attempts are counted one by one:\n{log}"
    );
    assert!(
        counts.len() >= 8,
        "only {} counted failures:\n{log}",
        counts.len()
    );
}

#[test]
fn a_rewritten_htpasswd_file_takes_effect() {
    let s = setup();
    let path = "/files/users/alice/notes.txt";
    // Verified (and cached) with the old password first.
    get_as(&s.gw, path, &basic("alice", ALICE_PASSWORD)).assert_status(200);

    write_htpasswd(&s.htpasswd, &[("alice", ALICE_NEW_PASSWORD)]);
    // Each refusal before the file is re-read counts as a failed attempt against this address
    // (limits.failed_auth_per_ip, 50 a minute by default): poll gently.
    wait_until(
        "the new htpasswd password to be accepted",
        Duration::from_secs(15),
        || {
            let ok = get_as(&s.gw, path, &basic("alice", ALICE_NEW_PASSWORD)).status == 200;
            if !ok {
                std::thread::sleep(Duration::from_millis(250));
            }
            ok
        },
    );
    let new = get_as(&s.gw, path, &basic("alice", ALICE_NEW_PASSWORD));
    new.assert_status(200);
    assert_eq!(new.body, b"alice's notes\n");
    assert_basic_401(
        &get_as(&s.gw, path, &basic("alice", ALICE_PASSWORD)),
        "old password after the file changed",
        &[ALICE_PASSWORD],
    );
    // The inline user is untouched by the reload.
    get_as(&s.gw, "/files/genome/ref.fa", &basic("igv", IGV_PASSWORD)).assert_status(200);

    // A user removed from the file is gone too.
    write_htpasswd(&s.htpasswd, &[("bob", ALICE_NEW_PASSWORD)]);
    wait_until(
        "alice to be removed with the file's new version",
        Duration::from_secs(15),
        || get_as(&s.gw, path, &basic("alice", ALICE_NEW_PASSWORD)).status == 401,
    );
}
