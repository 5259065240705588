//! Tests of the plugin as bucketgate drives it: `authenticate` on request views, with inline
//! users, htpasswd files that change under it, and the verification cache.

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::process::Command;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::Engine;
use bucketgate_plugin::{Grant, Operation, Operations};

use super::*;

/// `authenticate` never waits on anything, so polling until ready is enough (no tokio).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

fn hash(password: &str) -> String {
    bcrypt::hash_with_result(password, hash::MIN_COST)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY)
}

fn cfg(yaml: &str) -> BasicConfig {
    serde_yaml::from_str(yaml).unwrap()
}

fn plugin(yaml: &str) -> BasicPlugin {
    BasicPlugin::new(&cfg(yaml)).unwrap()
}

fn inline_plugin() -> BasicPlugin {
    plugin(&format!(
        "users:\n\
         - name: igv\n\
         \x20 password_hash: '{}'\n\
         \x20 grants: [{{bucket: genomics, prefix: '', operations: [read]}}]\n\
         grants: [{{bucket: data, prefix: 'users/{{sub}}/', operations: [read, write]}}]\n",
        hash("s3cret")
    ))
}

fn request(authorization: &[&[u8]]) -> RequestView {
    let mut headers = http::HeaderMap::new();
    for value in authorization {
        headers.append(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    RequestView {
        method: http::Method::GET,
        path: "/genomics/sample.bam".into(),
        query: String::new(),
        headers,
        client_addr: None,
        route: "igv".into(),
        tls: false,
    }
}

fn basic(user: &str, password: &str) -> RequestView {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    request(&[format!("Basic {token}").as_bytes()])
}

fn auth(p: &BasicPlugin, req: &RequestView) -> Verdict {
    block_on(p.authenticate(req))
}

fn subject(p: &BasicPlugin, user: &str, password: &str) -> Option<String> {
    match auth(p, &basic(user, password)) {
        Verdict::Authenticated(id) => Some(id.subject),
        _ => None,
    }
}

fn rejection(v: Verdict) -> Rejection {
    match v {
        Verdict::Reject(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

const CHALLENGE: &str = "Basic realm=\"bucketgate\", charset=\"UTF-8\"";

fn write_htpasswd(path: &Path, lines: &[(&str, &str)]) {
    let text: String = lines
        .iter()
        .map(|(user, password)| format!("{user}:{}\n", hash(password)))
        .collect();
    std::fs::write(path, format!("# bucketgate users\n\n{text}")).unwrap();
}

fn wait_past_check_interval() {
    std::thread::sleep(reload::CHECK_INTERVAL + Duration::from_millis(150));
}

#[test]
fn name_and_challenge() {
    let p = inline_plugin();
    assert_eq!(p.name(), "basic");
    assert_eq!(p.challenge().as_deref(), Some(CHALLENGE));
    let p = plugin(&format!(
        "realm: genomics data\nusers: [{{name: a, password_hash: '{}'}}]\n",
        hash("x")
    ));
    assert_eq!(
        p.challenge().as_deref(),
        Some("Basic realm=\"genomics data\", charset=\"UTF-8\"")
    );
}

#[test]
fn accepts_the_right_password_with_claims_and_grants() {
    let p = inline_plugin();
    let Verdict::Authenticated(id) = auth(&p, &basic("igv", "s3cret")) else {
        panic!("not authenticated");
    };
    assert_eq!(id.subject, "igv");
    assert_eq!(id.plugin, "basic");
    assert_eq!(id.claims.len(), 1);
    assert_eq!(id.claims["sub"], "igv");
    assert_eq!(
        id.grants,
        [
            Grant {
                bucket: "data".into(),
                prefix: "users/igv/".into(),
                operations: Operations::of(&[Operation::Read, Operation::Write]),
            },
            Grant {
                bucket: "genomics".into(),
                prefix: String::new(),
                operations: Operations::of(&[Operation::Read]),
            },
        ]
    );
}

#[test]
fn file_users_get_only_the_plugin_grants_and_unfillable_templates_drop_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    write_htpasswd(&path, &[("alice", "pw"), ("a/b", "pw")]);
    let p = plugin(&format!(
        "htpasswd_file: {}\n\
         grants:\n\
         - {{bucket: data, prefix: 'users/{{sub}}/', operations: [read]}}\n\
         - {{bucket: shared, operations: [list]}}\n",
        path.display()
    ));
    let Verdict::Authenticated(alice) = auth(&p, &basic("alice", "pw")) else {
        panic!("alice");
    };
    let prefixes: Vec<&str> = alice.grants.iter().map(|g| g.prefix.as_str()).collect();
    assert_eq!(prefixes, ["users/alice/", ""]);
    // A name that cannot fill {sub} safely gets nothing from that template.
    let Verdict::Authenticated(ab) = auth(&p, &basic("a/b", "pw")) else {
        panic!("a/b");
    };
    assert_eq!(ab.grants.len(), 1);
    assert_eq!(ab.grants[0].bucket, "shared");
}

#[test]
fn rejects_a_wrong_password() {
    let p = inline_plugin();
    let r = rejection(auth(&p, &basic("igv", "S3cret")));
    assert_eq!(
        r,
        Rejection {
            status: 401,
            public_message: "invalid credentials".into(),
            log_reason: "basic: wrong password for user igv".into(),
            headers: vec![("www-authenticate".into(), CHALLENGE.into())],
        }
    );
}

#[test]
fn rejects_an_unknown_user_after_a_dummy_verification_of_the_same_cost() {
    let p = inline_plugin();
    let before = p.bcrypt_verifications();
    let r = rejection(auth(&p, &basic("nobody", "s3cret")));
    assert_eq!(r.status, 401);
    assert_eq!(r.public_message, "invalid credentials");
    assert_eq!(r.log_reason, "basic: unknown user nobody");
    assert_eq!(r.headers, [("www-authenticate".into(), CHALLENGE.into())]);
    assert_eq!(p.bcrypt_verifications(), before + 1);
    assert_eq!(p.current().dummy.cost(), hash::MIN_COST);
}

#[test]
fn log_reasons_escape_user_names_and_never_show_passwords() {
    let p = inline_plugin();
    let r = rejection(auth(&p, &basic("evil\nname", "hunter2")));
    assert_eq!(r.log_reason, "basic: unknown user evil\\nname");
    let long = "x".repeat(500);
    let r = rejection(auth(&p, &basic(&long, "hunter2")));
    assert!(r.log_reason.len() < 120, "{}", r.log_reason);
    let r = rejection(auth(&p, &basic("igv", "hunter2")));
    assert!(!format!("{r:?}").contains("hunter2"));
}

#[test]
fn rejects_malformed_basic_headers() {
    let p = inline_plugin();
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let cases: Vec<Vec<u8>> = vec![
        b"Basic".to_vec(),
        b"Basic %%%".to_vec(),
        format!("Basic {}", b64(b"igv")).into_bytes(),
        format!("basic {}", b64(b"igv:\xff")).into_bytes(),
        b"BASIC \xe2\x82\xac".to_vec(),
    ];
    for case in cases {
        let r = rejection(auth(&p, &request(&[&case])));
        assert_eq!(r.status, 401, "{case:?}");
        assert_eq!(r.headers, [("www-authenticate".into(), CHALLENGE.into())]);
        assert!(r.log_reason.starts_with("basic: "), "{}", r.log_reason);
    }
    assert_eq!(p.bcrypt_verifications(), 0);
}

#[test]
fn not_mine_without_basic_credentials() {
    let p = inline_plugin();
    assert_eq!(auth(&p, &request(&[])), Verdict::NotMine);
    assert_eq!(
        auth(&p, &request(&[b"Bearer eyJhbGciOi.x.y"])),
        Verdict::NotMine
    );
    assert_eq!(
        auth(&p, &request(&[b"AWS4-HMAC-SHA256 Credential=AKIA/x"])),
        Verdict::NotMine
    );
}

#[test]
fn never_panics_on_odd_headers() {
    let p = inline_plugin();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..300 {
        let len = (state % 40) as usize;
        let mut value = b"Basic ".to_vec();
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Visible ASCII and obs-text, as HeaderValue allows.
            let b = (state % 224) as u8 + 32;
            if b != 127 {
                value.push(b);
            }
        }
        let _ = auth(&p, &request(&[&value]));
    }
}

#[test]
fn accepts_bcrypt_crate_hashes_from_an_htpasswd_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    write_htpasswd(&path, &[("igv", "s3cret"), ("bob", "hunter2")]);
    let p = plugin(&format!("htpasswd_file: {}\n", path.display()));
    assert_eq!(subject(&p, "igv", "s3cret").as_deref(), Some("igv"));
    assert_eq!(subject(&p, "bob", "hunter2").as_deref(), Some("bob"));
    assert_eq!(subject(&p, "bob", "s3cret"), None);
}

#[test]
fn accepts_hashes_made_by_the_htpasswd_tool() {
    let output = Command::new("htpasswd")
        .args(["-nbB", "-C", "5", "igv", "from htpasswd"])
        .output();
    let Ok(output) = output else {
        println!("note: no `htpasswd` binary (apache2-utils); skipping the htpasswd -nbB check");
        return;
    };
    assert!(output.status.success(), "{output:?}");
    let line = String::from_utf8(output.stdout).unwrap();
    assert!(line.starts_with("igv:$2y$05$"), "{line}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, line).unwrap();
    let p = plugin(&format!("htpasswd_file: {}\n", path.display()));
    assert_eq!(subject(&p, "igv", "from htpasswd").as_deref(), Some("igv"));
    assert_eq!(subject(&p, "igv", "from htpasswd!"), None);
}

#[test]
fn reload_picks_up_a_new_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    write_htpasswd(&path, &[("igv", "old password")]);
    let p = plugin(&format!("htpasswd_file: {}\n", path.display()));
    assert!(subject(&p, "igv", "old password").is_some());
    write_htpasswd(&path, &[("igv", "new password"), ("carol", "pw")]);
    wait_past_check_interval();
    assert!(subject(&p, "igv", "new password").is_some());
    assert!(subject(&p, "igv", "old password").is_none());
    assert!(subject(&p, "carol", "pw").is_some());
}

#[test]
fn a_broken_rewrite_keeps_the_previous_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    write_htpasswd(&path, &[("igv", "pw")]);
    let p = plugin(&format!("htpasswd_file: {}\n", path.display()));
    assert!(subject(&p, "igv", "pw").is_some());

    let broken = format!(
        "igv:{}\nold:$apr1$8a7s6d5f$ZlH0q1ZFA/kUSw2ApJRkQ1\n",
        hash("other")
    );
    std::fs::write(&path, broken).unwrap();
    wait_past_check_interval();
    assert!(subject(&p, "igv", "pw").is_some());
    assert!(subject(&p, "igv", "other").is_none());

    std::fs::remove_file(&path).unwrap();
    wait_past_check_interval();
    assert!(subject(&p, "igv", "pw").is_some());

    // Fixed again: picked up.
    write_htpasswd(&path, &[("igv", "fixed")]);
    wait_past_check_interval();
    assert!(subject(&p, "igv", "fixed").is_some());
    assert!(subject(&p, "igv", "pw").is_none());
}

#[test]
fn a_file_user_that_clashes_with_an_inline_user_keeps_the_previous_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    write_htpasswd(&path, &[("bob", "pw")]);
    let p = plugin(&format!(
        "htpasswd_file: {}\nusers: [{{name: igv, password_hash: '{}'}}]\n",
        path.display(),
        hash("inline")
    ));
    write_htpasswd(&path, &[("bob", "pw2"), ("igv", "from file")]);
    wait_past_check_interval();
    assert!(subject(&p, "igv", "inline").is_some());
    assert!(subject(&p, "igv", "from file").is_none());
    assert!(subject(&p, "bob", "pw").is_some());
}

#[test]
fn a_second_correct_request_is_served_from_the_cache() {
    let p = inline_plugin();
    assert!(subject(&p, "igv", "s3cret").is_some());
    assert_eq!(p.bcrypt_verifications(), 1);
    for _ in 0..5 {
        assert!(subject(&p, "igv", "s3cret").is_some());
    }
    assert_eq!(p.bcrypt_verifications(), 1);
}

#[test]
fn a_wrong_password_is_never_cached() {
    let p = inline_plugin();
    assert!(subject(&p, "igv", "wrong").is_none());
    assert!(subject(&p, "igv", "wrong").is_none());
    assert_eq!(p.bcrypt_verifications(), 2);
    assert_eq!(p.current().cache.len(), 0);
    // With the right password cached, a wrong one still goes to bcrypt and fails.
    assert!(subject(&p, "igv", "s3cret").is_some());
    assert!(subject(&p, "igv", "wrong").is_none());
    assert_eq!(p.bcrypt_verifications(), 4);
}

#[test]
fn cache_seconds_zero_disables_the_cache() {
    let p = plugin(&format!(
        "cache_seconds: 0\nusers: [{{name: igv, password_hash: '{}'}}]\n",
        hash("pw")
    ));
    assert!(subject(&p, "igv", "pw").is_some());
    assert!(subject(&p, "igv", "pw").is_some());
    assert_eq!(p.bcrypt_verifications(), 2);
}

#[test]
fn a_reload_clears_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    write_htpasswd(&path, &[("igv", "pw")]);
    let p = plugin(&format!("htpasswd_file: {}\n", path.display()));
    assert!(subject(&p, "igv", "pw").is_some());
    assert!(subject(&p, "igv", "pw").is_some());
    assert_eq!(p.bcrypt_verifications(), 1);
    // The same password, a new hash (new salt): a change of users.
    write_htpasswd(&path, &[("igv", "pw")]);
    wait_past_check_interval();
    assert!(subject(&p, "igv", "pw").is_some());
    assert_eq!(p.bcrypt_verifications(), 2);
}

#[test]
fn new_reports_the_first_problem() {
    let err = BasicPlugin::new(&cfg("users: [{name: a, password_hash: nope}]\n")).unwrap_err();
    assert_eq!(err.path, "users[0].password_hash");
    let err = BasicPlugin::new(&cfg("realm: x\n")).unwrap_err();
    assert_eq!(err.path, "");
}
