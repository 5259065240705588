//! `bucketgate keys mint | inspect | new-sealing-key`, run as the real binary: what it prints
//! opens with the library, bad arguments exit 2 with a message, configs without sealing keys
//! are refused, and rotation keeps old keys open until their sealing key is removed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use bucketgate::s3::sealed::{self, Claims, Keyring, OpenError, SealingKeyConfig};
use bucketgate_plugin::{Grant, Operation, Operations};

/// A sealing key of 32 bytes `seed`, `seed + 1`, ..., in hex.
fn key(id: &str, seed: u8) -> SealingKeyConfig {
    let hex: String = (0..32u8)
        .map(|i| format!("{:02x}", seed.wrapping_add(i)))
        .collect();
    SealingKeyConfig {
        id: id.into(),
        key: hex,
    }
}

/// A minimal valid config (one public files route) with `sealing_keys`, at `dir/name`.
fn config(dir: &Path, name: &str, sealing_keys: &[SealingKeyConfig]) -> PathBuf {
    let mut text = String::from(
        "listeners:
  - address: 127.0.0.1:1
upstreams:
  local:
    endpoints: [127.0.0.1:9]
    credentials: {access_key_id: a, secret_access_key: b}
routes:
  - path_prefix: /files
    upstream: local
    bucket: data
    public: true
",
    );
    if !sealing_keys.is_empty() {
        text.push_str("access_keys:\n  sealing_keys:\n");
        for k in sealing_keys {
            text.push_str(&format!("    - {{id: {}, key: \"{}\"}}\n", k.id, k.key));
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn bucketgate(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_bucketgate"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run bucketgate");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn mint(conf: &Path, extra: &[&str]) -> Out {
    let mut args = vec!["keys", "mint", "-c", conf.to_str().unwrap()];
    args.extend_from_slice(extra);
    bucketgate(&args)
}

fn inspect(conf: &Path, access_key_id: &str) -> Out {
    bucketgate(&[
        "keys",
        "inspect",
        "-c",
        conf.to_str().unwrap(),
        access_key_id,
    ])
}

/// The access key id and secret of `--format env` output.
fn env_pair(out: &Out) -> (String, String) {
    assert_eq!(
        out.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let value = |name: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {}", out.stdout))
            .to_string()
    };
    (value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY"))
}

fn mint_env(conf: &Path) -> (String, String) {
    env_pair(&mint(
        conf,
        &[
            "--subject",
            "alice",
            "--grant",
            "data:users/alice/:read,write",
            "--ttl",
            "24h",
        ],
    ))
}

fn ring(keys: &[SealingKeyConfig]) -> Keyring {
    Keyring::from_config(keys).unwrap()
}

#[test]
fn minted_key_opens_and_inspect_shows_its_claims() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [key("k2", 100), key("k1", 1)];
    let conf = config(dir.path(), "c.yaml", &keys);
    let out = mint(
        &conf,
        &[
            "--subject",
            "alice",
            "--grant",
            "data:users/alice/:read,write",
            "--grant",
            "public::read,list",
            "--ttl",
            "24h",
        ],
    );
    assert!(out.stderr.is_empty(), "stderr: {}", out.stderr);
    let (akid, secret) = env_pair(&out);
    assert!(akid.starts_with("BG1"), "{akid}");
    assert_eq!(secret.len(), 40, "{secret}");
    let comment = out.stdout.lines().nth(2).unwrap();
    assert!(
        comment.starts_with("# expires 20") && comment.ends_with("Z (sealed with key k2)"),
        "{comment}"
    );

    let (claims, lib_secret) = sealed::open(&ring(&keys), &akid, SystemTime::now()).unwrap();
    assert_eq!(lib_secret.expose(), secret);
    assert_eq!(claims.subject, "alice");
    let ops = |o: &[Operation]| Operations::of(o);
    assert_eq!(
        claims.grants,
        [
            Grant {
                bucket: "data".into(),
                prefix: "users/alice/".into(),
                operations: ops(&[Operation::Read, Operation::Write]),
            },
            Grant {
                bucket: "public".into(),
                prefix: String::new(),
                operations: ops(&[Operation::Read, Operation::List]),
            },
        ]
    );
    let left = claims.expires_at.duration_since(SystemTime::now()).unwrap();
    assert!(left > Duration::from_secs(86_400 - 120) && left <= Duration::from_secs(86_400));

    let shown = inspect(&conf, &akid);
    assert_eq!(shown.code, Some(0), "{}{}", shown.stdout, shown.stderr);
    assert!(
        shown.stdout.contains("subject:     alice"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("sealing_key: k2"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("  data:users/alice/:read,write\n"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("  public::read,list\n"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("valid, expires in 23h"),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains(&secret) && !shown.stderr.contains(&secret));
}

#[test]
fn json_and_aws_formats() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [key("k2", 100)];
    let conf = config(dir.path(), "c.yaml", &keys);
    let args = [
        "--subject",
        "ci-runner",
        "--grant",
        "builds:artifacts/:all",
        "--ttl",
        "1h30m",
    ];

    let out = mint(&conf, &[&args[..], &["--format", "json"]].concat());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let akid = doc["access_key_id"].as_str().unwrap();
    let (claims, secret) = sealed::open(&ring(&keys), akid, SystemTime::now()).unwrap();
    assert_eq!(doc["secret_access_key"], secret.expose());
    assert_eq!(doc["subject"], "ci-runner");
    assert_eq!(doc["sealing_key"], "k2");
    assert_eq!(
        doc["grants"],
        serde_json::json!([{"bucket": "builds", "prefix": "artifacts/",
                            "operations": ["read", "write", "delete", "list"]}])
    );
    assert_eq!(
        doc["expires_at"],
        bucketgate::cli::keys::rfc3339(claims.expires_at)
    );
    assert_eq!(claims.grants[0].operations, Operations::ALL);

    let out = mint(
        &conf,
        &[&args[..], &["--format", "aws", "--profile", "ci"]].concat(),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("# expires "), "{}", out.stdout);
    assert_eq!(lines[1], "[ci]");
    let akid = lines[2].strip_prefix("aws_access_key_id = ").unwrap();
    let secret = lines[3].strip_prefix("aws_secret_access_key = ").unwrap();
    let (_, lib_secret) = sealed::open(&ring(&keys), akid, SystemTime::now()).unwrap();
    assert_eq!(lib_secret.expose(), secret);
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), "c.yaml", &[key("k1", 1)]);
    let cases: [(&[&str], &str); 7] = [
        (
            &["--subject", "a", "--grant", "data:x/:frob", "--ttl", "1h"],
            "unknown operation `frob`",
        ),
        (
            &["--subject", "a", "--grant", "data", "--ttl", "1h"],
            "expected BUCKET:PREFIX:OPERATIONS",
        ),
        (
            &["--subject", "a", "--grant", "data::", "--ttl", "1h"],
            "no operations",
        ),
        (
            &["--subject", "a", "--grant", "data::read", "--ttl", "soon"],
            "expected a duration",
        ),
        (
            &["--subject", "a", "--grant", "data::read", "--ttl", "400d"],
            "maximum of 366 days",
        ),
        (
            &[
                "--subject",
                &"x".repeat(65),
                "--grant",
                "data::read",
                "--ttl",
                "1h",
            ],
            "subject is 65 bytes",
        ),
        (&["--subject", "a", "--ttl", "1h"], "--grant"),
    ];
    for (args, expect) in cases {
        let out = mint(&conf, args);
        assert_eq!(out.code, Some(2), "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
    }
    let help = bucketgate(&["keys", "mint", "--help"]);
    assert!(help.stdout.contains("at most 366d"), "{}", help.stdout);
}

#[test]
fn a_config_without_sealing_keys_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), "c.yaml", &[]);
    let out = mint(
        &conf,
        &["--subject", "a", "--grant", "data::read", "--ttl", "1h"],
    );
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("add `access_keys.sealing_keys`"),
        "{}",
        out.stderr
    );
    let out = inspect(&conf, "BG1AAAA");
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("access_keys.sealing_keys"),
        "{}",
        out.stderr
    );

    // A broken config is reported like `check` does.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "listeners: []\nbogus: 1\n").unwrap();
    let out = mint(
        &bad,
        &["--subject", "a", "--grant", "data::read", "--ttl", "1h"],
    );
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("test failed"), "{}", out.stderr);
}

#[test]
fn new_sealing_key_prints_a_yaml_entry_the_keyring_accepts() {
    let out = bucketgate(&["keys", "new-sealing-key"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("TOP"), "{}", out.stdout);
    let entries: Vec<SealingKeyConfig> = serde_yaml::from_str(&out.stdout).unwrap();
    assert_eq!(entries.len(), 1);
    let id = &entries[0].id;
    assert!(
        id.len() == 7 && id.starts_with('k') && id[1..].bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    Keyring::from_config(&entries).unwrap();

    let out = bucketgate(&["keys", "new-sealing-key", "--id", "rot-2"]);
    let entries: Vec<SealingKeyConfig> = serde_yaml::from_str(&out.stdout).unwrap();
    assert_eq!(entries[0].id, "rot-2");
    let again: Vec<SealingKeyConfig> =
        serde_yaml::from_str(&bucketgate(&["keys", "new-sealing-key", "--id", "rot-3"]).stdout)
            .unwrap();
    assert_ne!(entries[0].key, again[0].key, "every key is new");
    let both = [again[0].clone(), entries[0].clone()];
    assert_eq!(ring(&both).primary_id(), "rot-3");

    // The entry works in a config as printed.
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), "c.yaml", &entries);
    let (akid, _) = mint_env(&conf);
    assert!(inspect(&conf, &akid).stdout.contains("sealing_key: rot-2"));

    let out = bucketgate(&["keys", "new-sealing-key", "--id", "far-too-long"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("1 to 8 characters"), "{}", out.stderr);
}

#[test]
fn rotation_keeps_old_keys_until_their_sealing_key_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = key("k1", 1);
    let k2 = key("k2", 100);
    let before = config(dir.path(), "before.yaml", std::slice::from_ref(&k1));
    let (old_akid, old_secret) = mint_env(&before);

    // k2 added on top: new keys are sealed with it, the old key still opens with k1.
    let rotated = config(dir.path(), "rotated.yaml", &[k2.clone(), k1.clone()]);
    let shown = inspect(&rotated, &old_akid);
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert!(shown.stdout.contains("sealing_key: k1"), "{}", shown.stdout);
    let (_, secret) = sealed::open(&ring(&[k2.clone(), k1]), &old_akid, SystemTime::now()).unwrap();
    assert_eq!(secret.expose(), old_secret);
    let (new_akid, _) = mint_env(&rotated);
    assert!(inspect(&rotated, &new_akid)
        .stdout
        .contains("sealing_key: k2"));

    // k1 removed: every key it sealed is retired, the new one lives on.
    let after = config(dir.path(), "after.yaml", std::slice::from_ref(&k2));
    let out = inspect(&after, &old_akid);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("sealed with sealing key `k1`, which is not in"),
        "{}",
        out.stderr
    );
    assert_eq!(
        sealed::open(&ring(&[k2]), &old_akid, SystemTime::now()).unwrap_err(),
        OpenError::UnknownKey("k1".into())
    );
    assert_eq!(inspect(&after, &new_akid).code, Some(0));
}

#[test]
fn inspect_says_why_a_key_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [key("k2", 100)];
    let conf = config(dir.path(), "c.yaml", &keys);

    // Expired: minted with the library an hour ago, for a minute.
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let claims = Claims {
        subject: "bob".into(),
        grants: vec![Grant {
            bucket: "data".into(),
            prefix: "bob/".into(),
            operations: Operations::of(&[Operation::Read]),
        }],
        expires_at: hour_ago + Duration::from_secs(60),
    };
    let (expired, _) = sealed::mint(&ring(&keys), &claims).unwrap();
    let out = inspect(&conf, &expired);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("it has expired"), "{}", out.stderr);
    assert!(out.stderr.contains("subject:     bob"), "{}", out.stderr);
    assert!(out.stderr.contains("EXPIRED 59m"), "{}", out.stderr);
    assert!(out.stderr.contains("sealing_key: k2"), "{}", out.stderr);

    // Tampered: one base32 character of the sealed part changed.
    let (akid, _) = mint_env(&conf);
    let mut chars: Vec<char> = akid.chars().collect();
    let i = 60;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let out = inspect(&conf, &tampered);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("does not verify against sealing key `k2`"),
        "{}",
        out.stderr
    );

    // Malformed and not sealed at all.
    let out = inspect(&conf, "BG1lowercase");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("malformed"), "{}", out.stderr);
    let out = inspect(&conf, "AKIAALICE0001");
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("not a sealed access key"),
        "{}",
        out.stderr
    );
}
