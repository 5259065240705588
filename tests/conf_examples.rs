//! The example configs and the token script work as their comments say: `bucketgate check`
//! accepts `conf/jwt.yaml` and `conf/basic.yaml` with their environment variables set (and
//! names the variable when one is missing); `conf/mint-jwt.sh` prints a well-formed HS256 JWT
//! that an independent verifier (the `jsonwebtoken` crate) accepts; and a gateway running each
//! example, with only its listen address, upstream and bucket swapped for the test harness's,
//! serves an object to a token minted by the script (or to IGV's Basic credentials) and refuses
//! a token minted with the wrong secret.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};

use common::client::{self, request};
use common::fresh_bucket;
use common::gateway::Gateway;
use common::s3::S3Client;
use common::upstream::Upstream;

const JWT_SECRET: &str = "conf-example-secret-0123456789-0123456789";
const ISSUER: &str = "https://login.example.org/";
const AUDIENCE: &str = "bucketgate";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn testdata(name: &str) -> String {
    repo("plugins/jwt/testdata")
        .join(name)
        .display()
        .to_string()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_result(password, 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY)
}

/// The environment `conf/jwt.yaml` needs, upstream settings from the harness.
fn jwt_env() -> Vec<(&'static str, String)> {
    let up = Upstream::get();
    vec![
        ("S3_ENDPOINT", up.endpoint()),
        ("S3_ACCESS_KEY", up.access_key().to_string()),
        ("S3_SECRET_KEY", up.secret_key().to_string()),
        ("JWT_SECRET", JWT_SECRET.to_string()),
        ("JWT_RS256_PUBLIC_KEY", testdata("rsa_public.pem")),
    ]
}

/// The environment `conf/basic.yaml` needs; the htpasswd file (user alice) goes into `dir`.
fn basic_env(dir: &Path, igv_password: &str) -> Vec<(&'static str, String)> {
    let up = Upstream::get();
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, format!("alice:{}\n", bcrypt_hash("alice-pw"))).unwrap();
    vec![
        ("S3_ENDPOINT", up.endpoint()),
        ("S3_ACCESS_KEY", up.access_key().to_string()),
        ("S3_SECRET_KEY", up.secret_key().to_string()),
        ("HTPASSWD_FILE", htpasswd.display().to_string()),
        ("IGV_PASSWORD_HASH", bcrypt_hash(igv_password)),
    ]
}

/// `bucketgate check -c <config>` from the repository root, with exactly `env` set (plus PATH).
const ALICE_SECRET: &str = "alice-example-secret-0123456789";
const SEALING_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The environment `conf/sso.yaml` needs (check only: no provider is contacted).
fn sso_env() -> Vec<(&'static str, String)> {
    let mut env = s3_env();
    env.retain(|(k, _)| *k != "ALICE_SECRET");
    env.extend([
        (
            "OIDC_ISSUER",
            "https://login.example.com/realms/acme".to_string(),
        ),
        ("OIDC_CLIENT_ID", "bucketgate".to_string()),
        ("OIDC_CLIENT_SECRET", "client-secret-0123456789".to_string()),
        ("PUBLIC_URL", "https://files.localhost:8080".to_string()),
        ("S3_PUBLIC_URL", "https://s3.localhost:8080".to_string()),
        ("REDIS_URL", "redis://127.0.0.1:6379/0".to_string()),
    ]);
    env
}

/// The environment `conf/s3.yaml` needs, upstream settings from the harness.
fn s3_env() -> Vec<(&'static str, String)> {
    let up = Upstream::get();
    vec![
        ("S3_ENDPOINT", up.endpoint()),
        ("S3_ACCESS_KEY", up.access_key().to_string()),
        ("S3_SECRET_KEY", up.secret_key().to_string()),
        ("ALICE_SECRET", ALICE_SECRET.to_string()),
        ("SEALING_KEY", SEALING_KEY.to_string()),
    ]
}

fn check(config: &str, env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(Gateway::bin());
    cmd.args(["check", "-c", config])
        .current_dir(repo(""))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running bucketgate check")
}

/// `bash conf/mint-jwt.sh args...` with `env`; the token it printed.
fn mint(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg(repo("conf/mint-jwt.sh")).args(args);
    cmd.env_remove("JWT_ISS").env_remove("JWT_AUD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running conf/mint-jwt.sh");
    assert!(
        out.status.success(),
        "conf/mint-jwt.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("the token is ASCII");
    assert!(text.ends_with('\n'), "no newline after the token: {text:?}");
    text.trim_end().to_string()
}

fn decode_segment(segment: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap_or_else(|e| panic!("{segment:?} is not unpadded base64url: {e}"));
    serde_json::from_slice(&bytes).expect("a JSON segment")
}

/// The example config as a harness config: its own listener and server files in the gateway's
/// temp dir, and `bucket` for the example's bucket. Everything else is the file as shipped.
fn derive(example: &str, example_bucket: &str, bucket: &str) -> String {
    let text = std::fs::read_to_string(repo(example)).unwrap();
    let listen = "  - address: 127.0.0.1:8080\n";
    assert_eq!(text.matches(listen).count(), 1, "{example}: listener line");
    let bucket_uses = text.matches(&format!("bucket: {example_bucket}")).count();
    assert!(
        bucket_uses >= 2,
        "{example}: route and grants name the bucket"
    );
    let derived = text
        .replace(listen, "  - address: {listen}\n")
        .replacen(
            "server:\n",
            "server:\n  drain_notice_seconds: 0\n  pid_file: {dir}/bucketgate.pid\n  upgrade_sock: {dir}/upgrade.sock\n",
            1,
        )
        .replace(
            &format!("bucket: {example_bucket}"),
            &format!("bucket: {bucket}"),
        );
    assert!(
        derived.contains("{dir}/upgrade.sock"),
        "{example}: no server section"
    );
    derived
}

#[test]
fn check_accepts_the_examples_with_their_environment() {
    let dir = tempfile::tempdir().unwrap();
    for (config, env) in [
        ("conf/jwt.yaml", jwt_env()),
        ("conf/basic.yaml", basic_env(dir.path(), "pw")),
        ("conf/s3.yaml", s3_env()),
        ("conf/sso.yaml", sso_env()),
        ("conf/metrics.yaml", s3_env()[..3].to_vec()),
    ] {
        let out = check(config, &env);
        assert_eq!(
            out.status.code(),
            Some(0),
            "bucketgate check -c {config}:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("test is successful"), "{config}: {all}");
        for (name, value) in &env {
            if name.contains("SECRET") || name.contains("HASH") {
                assert!(
                    !all.contains(value.as_str()),
                    "{config}: check printed {name}"
                );
            }
        }

        // Each variable is really used: without it, check fails and names it.
        for (missing, _) in &env {
            let without: Vec<(&str, String)> =
                env.iter().filter(|(k, _)| k != missing).cloned().collect();
            let out = check(config, &without);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{config} without {missing}: {stderr}"
            );
            assert!(
                stderr.contains(missing),
                "{config} without {missing}: {stderr}"
            );
        }
    }
}

#[test]
fn mint_script_makes_a_valid_hs256_token() {
    let t0 = now();
    let token = mint(
        &[
            JWT_SECRET,
            "al\"ice",
            "120",
            r#"{"storage": [{"bucket": "data", "prefix": "shared/", "operations": ["read"]}]}"#,
        ],
        &[("JWT_ISS", ISSUER), ("JWT_AUD", AUDIENCE)],
    );
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    assert!(!token.contains('='), "padding in {token}");
    assert_eq!(
        decode_segment(parts[0]),
        json!({"alg": "HS256", "typ": "JWT"})
    );

    // An independent verifier accepts the signature and sees the claims.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("jsonwebtoken verifies the script's token");
    let c = data.claims;
    assert_eq!(c["sub"], "al\"ice");
    assert_eq!(c["storage"][0]["prefix"], "shared/");
    let exp = c["exp"].as_i64().unwrap();
    assert!(
        (t0 + 120..=now() + 120).contains(&exp),
        "exp {exp}, now {t0}"
    );
    assert!(
        jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_secret(b"another secret, not the one it was signed with"),
            &validation,
        )
        .is_err(),
        "a wrong secret verifies the token"
    );

    // Defaults: an hour, and no iss or aud unless asked for.
    let plain = mint(&[JWT_SECRET, "bob"], &[]);
    let c = decode_segment(plain.split('.').nth(1).unwrap());
    let exp = c["exp"].as_i64().unwrap();
    assert!((t0 + 3600..=now() + 3600).contains(&exp), "exp {exp}");
    assert!(c.get("iss").is_none() && c.get("aud").is_none(), "{c}");
}

#[test]
fn jwt_example_serves_a_minted_token() {
    let up = Upstream::get();
    let bucket = fresh_bucket("confjwt");
    up.put_object(&bucket, "users/alice/notes.txt", b"alice's notes\n", &[]);
    up.put_object(&bucket, "users/bob/notes.txt", b"bob's notes\n", &[]);
    let env = jwt_env();
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gw = Gateway::start_with_env(&derive("conf/jwt.yaml", "data", &bucket), &env_refs);
    let claims_env = [("JWT_ISS", ISSUER), ("JWT_AUD", AUDIENCE)];
    let path = "/files/users/alice/notes.txt";
    let get = |token: &str, path: &str| {
        let auth = format!("Bearer {token}");
        request(gw.addr(), "GET", path, &[("Authorization", &auth)], None)
    };

    let token = mint(&[JWT_SECRET, "alice"], &claims_env);
    let r = get(&token, path);
    r.assert_status(200);
    assert_eq!(r.body, b"alice's notes\n");
    let put = request(
        gw.addr(),
        "PUT",
        "/files/users/alice/new.txt",
        &[("Authorization", &format!("Bearer {token}"))],
        Some(b"written"),
    );
    put.assert_status(200);
    assert_eq!(
        up.get_object(&bucket, "users/alice/new.txt")
            .map(|(b, _)| b),
        Some(b"written".to_vec())
    );
    assert_eq!(get(&token, "/files/users/bob/notes.txt").status, 403);

    let wrong = mint(
        &["wrong-secret-0123456789-0123456789", "alice"],
        &claims_env,
    );
    let r = get(&wrong, path);
    assert_eq!(r.status, 401, "{}", r.text());
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let expired = mint(&[JWT_SECRET, "alice", "-120"], &claims_env);
    assert_eq!(get(&expired, path).status, 401);
    let no_iss = mint(&[JWT_SECRET, "alice"], &[]);
    assert_eq!(
        get(&no_iss, path).status,
        401,
        "the example requires iss and aud"
    );
    assert_eq!(client::get(gw.addr(), path).status, 401);

    // The RS256 entry: a token from the "identity provider" (the test RSA key).
    let rs = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600}),
        &EncodingKey::from_rsa_pem(&std::fs::read(testdata("rsa_private.pem")).unwrap()).unwrap(),
    )
    .unwrap();
    let r = get(&rs, path);
    r.assert_status(200);
    assert_eq!(r.body, b"alice's notes\n");
}

#[test]
fn basic_example_serves_igv_and_htpasswd_users() {
    let up = Upstream::get();
    let bucket = fresh_bucket("confbasic");
    up.put_object(&bucket, "sample.bai", b"index bytes", &[]);
    up.put_object(
        &bucket,
        "users/alice/my.vcf",
        b"##fileformat=VCFv4.2\n",
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let env = basic_env(dir.path(), "igv-secret");
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gw = Gateway::start_with_env(&derive("conf/basic.yaml", "genomics", &bucket), &env_refs);
    let basic = |user: &str, pw: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{pw}")));
    let get =
        |auth: &str, path: &str| request(gw.addr(), "GET", path, &[("Authorization", auth)], None);

    // IGV asks for x.bam.bai; the example's rewrite serves x.bai.
    let r = get(&basic("igv", "igv-secret"), "/genomes/sample.bam.bai");
    r.assert_status(200);
    assert_eq!(r.body, b"index bytes");
    let r = get(&basic("alice", "alice-pw"), "/genomes/users/alice/my.vcf");
    r.assert_status(200);
    assert_eq!(r.body, b"##fileformat=VCFv4.2\n");
    assert_eq!(
        get(&basic("alice", "alice-pw"), "/genomes/sample.bai").status,
        403
    );
    let wrong = get(&basic("igv", "not-it"), "/genomes/sample.bai");
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("Basic realm=\"genomes\"")),
        "{:?}",
        wrong.headers
    );
}

/// `conf/s3.yaml` as shipped: alice's static key reads and writes her prefix and sees the
/// `pics` alias without its key prefix; a key minted with `bucketgate keys mint` against the
/// same file works for its own prefix only; a wrong secret is refused with S3's code.
#[test]
fn s3_example_serves_static_and_minted_keys() {
    let up = Upstream::get();
    let bucket = fresh_bucket("confs3");
    up.put_object(&bucket, "photos/cat.jpg", b"meow", &[]);
    let env = s3_env();
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gw = Gateway::start_with_env(&derive("conf/s3.yaml", "data", &bucket), &env_refs);

    let alice = S3Client::new(gw.addr(), "AKIAALICE0000001", ALICE_SECRET);
    alice
        .put("/data/users/alice/notes.txt", b"hello")
        .assert_status(200);
    assert_eq!(
        up.get_object(&bucket, "users/alice/notes.txt").unwrap().0,
        b"hello"
    );
    let listing = alice.get("/pics?list-type=2");
    listing.assert_status(200);
    assert!(
        listing.text().contains("<Key>cat.jpg</Key>"),
        "{}",
        listing.text()
    );
    assert!(!listing.text().contains("photos/"), "{}", listing.text());
    alice.put("/pics/dog.jpg", b"woof").assert_status(403);
    let wrong = S3Client::new(gw.addr(), "AKIAALICE0000001", "not-the-secret-at-all");
    let refused = wrong.get("/data/users/alice/notes.txt");
    refused.assert_status(403);
    assert!(
        refused.text().contains("SignatureDoesNotMatch"),
        "{}",
        refused.text()
    );

    let mut cmd = Command::new(Gateway::bin());
    cmd.args(["keys", "mint", "-c", gw.config_path().to_str().unwrap()])
        .args([
            "--subject",
            "bob",
            "--grant",
            &format!("{bucket}:users/bob/:read,write"),
        ])
        .args(["--ttl", "1h"]);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_string()
    };
    let bob = S3Client::new(
        gw.addr(),
        &field("AWS_ACCESS_KEY_ID"),
        &field("AWS_SECRET_ACCESS_KEY"),
    );
    bob.put("/data/users/bob/b.txt", b"bob").assert_status(200);
    bob.get("/data/users/alice/notes.txt").assert_status(403);
}
