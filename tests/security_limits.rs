//! Limits that protect the gateway itself, end to end with the real binary in front of the
//! real upstream:
//!
//! - anonymous S3 requests (no credentials at all) are not failed sign-in attempts, so a
//!   burst of them never locks out the address (an office behind one NAT) for a client that
//!   then signs correctly; wrong signatures still do;
//! - the buffer budget (`limits.buffer_memory`): with a tiny budget, a listing, a signed
//!   aws-chunked upload and a large DeleteObjects get `503 SlowDown` with `Retry-After` and
//!   change nothing, while plain reads and writes (streamed, nothing held) and a small
//!   DeleteObjects pass;
//! - `/readyz` names the pools without a backend only to a client on the gateway's host.
//!
//! No assertion depends on timing: windows are an hour long, and readiness is waited for.

mod common;

use std::time::Duration;

use common::client::{self, Response};
use common::gateway::{config_with_routes, preamble_for_upstream, Gateway, PREAMBLE};
use common::s3::{assert_not_stored, assert_s3_error, assert_stored, S3Client};
use common::upstream::Upstream;
use common::{fresh_bucket, pattern, wait_until};

const ALICE_ID: &str = "AKIASECLIMITS01";
const ALICE_SECRET: &str = "alice-security-limits-1";

/// An `s3` route serving `bucket` as `data` to alice (read, write, delete, list), with
/// `limits` (a `limits:` section, or empty).
fn s3_gateway(bucket: &str, limits: &str) -> Gateway {
    let preamble = preamble_for_upstream();
    Gateway::start(&format!(
        "{preamble}{limits}access_keys:
  static:
    - access_key_id: {ALICE_ID}
      secret_access_key: {ALICE_SECRET}
      subject: alice
      grants: [{{bucket: \"{bucket}\", operations: [read, write, delete, list]}}]
routes:
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: s3
    buckets:
      - name: data
        bucket: \"{bucket}\"
"
    ))
}

/// Panics unless `r` carries `Retry-After` with a whole number of seconds of at least 1.
#[track_caller]
fn assert_retry_after(r: &Response) {
    let value = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?} {}", r.headers, r.text()));
    let secs: u64 = value.parse().expect("Retry-After in seconds");
    assert!(secs >= 1, "Retry-After {secs}");
}

#[test]
fn anonymous_s3_requests_do_not_lock_out_the_address() {
    let bucket = fresh_bucket("seclim-anon");
    Upstream::get().put_object(&bucket, "doc.txt", b"behind the NAT\n", &[]);
    let gw = s3_gateway(
        &bucket,
        "limits:\n  failed_auth_per_ip: {max_failures: 3, window_seconds: 3600}\n",
    );
    // A browser, a health probe, a misconfigured tool: requests with no credentials at all,
    // many more than the lockout allows.
    for path in ["/data/doc.txt", "/data/", "/", "/data/doc.txt?acl"] {
        for _ in 0..3 {
            let r = client::get(gw.addr(), path);
            assert_s3_error(&r, 403, "AccessDenied");
        }
    }
    // Someone behind the same address signs correctly: not locked out.
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    let r = alice.get("/data/doc.txt");
    r.assert_status(200);
    assert_eq!(r.body, b"behind the NAT\n");
    // Wrong signatures are still failed attempts: three lock the address out.
    let wrong = S3Client::new(gw.addr(), ALICE_ID, "not-alices-secret");
    for _ in 0..3 {
        assert_s3_error(&wrong.get("/data/doc.txt"), 403, "SignatureDoesNotMatch");
    }
    let r = alice.get("/data/doc.txt");
    assert_s3_error(&r, 503, "SlowDown");
    assert_retry_after(&r);
    gw.wait_for_log("failures=3", Duration::from_secs(5));
    assert!(
        !gw.log().contains("failures=4"),
        "an anonymous request was counted:\n{}",
        gw.log()
    );
}

#[test]
fn a_spent_buffer_budget_answers_slowdown_and_small_requests_pass() {
    let bucket = fresh_bucket("seclim-budget");
    for i in 0..5 {
        let key = format!("listing/a-key-with-a-rather-long-name-to-list-{i:03}.txt");
        Upstream::get().put_object(&bucket, &key, b"listed\n", &[]);
    }
    Upstream::get().put_object(&bucket, "doc.txt", b"small\n", &[]);
    let gw = s3_gateway(&bucket, "limits:\n  buffer_memory: 256B\n");
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);

    // Streamed requests hold nothing: a GET, a plain PUT of more than the budget, a HEAD.
    let r = alice.get("/data/doc.txt");
    r.assert_status(200);
    assert_eq!(r.body, b"small\n");
    let big = pattern(7, 8 << 10);
    alice.put("/data/plain.bin", &big).assert_status(200);
    assert_stored(&bucket, "plain.bin", &big);
    alice.head("/data/doc.txt").assert_status(200);

    // A listing is held to be rewritten: more than 256 bytes.
    for query in ["/data?list-type=2", "/data?prefix=listing/"] {
        let r = alice.get(query);
        assert_s3_error(&r, 503, "SlowDown");
        assert_retry_after(&r);
        assert!(r.header("x-amz-request-id").is_some(), "{:?}", r.headers);
        assert!(!r.text().contains("a-key-with"), "{}", r.text());
    }

    // A signed aws-chunked upload holds a chunk until its signature checks out.
    let data = pattern(9, 4 << 10);
    let r = alice
        .put_streaming_signed("/data/chunked.bin", &data, 1 << 10, None)
        .expect("the gateway answers the upload");
    assert_s3_error(&r, 503, "SlowDown");
    assert_retry_after(&r);
    assert_not_stored(&bucket, "chunked.bin");

    // DeleteObjects reads its body first: ten keys are more than the budget, one is not.
    let many: Vec<String> = (0..10)
        .map(|i| format!("listing/a-key-with-a-rather-long-name-to-list-{i:03}.txt"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = alice.delete_objects("data", &many);
    assert_s3_error(&r, 503, "SlowDown");
    assert_retry_after(&r);
    assert!(
        Upstream::get()
            .get_object(
                &bucket,
                "listing/a-key-with-a-rather-long-name-to-list-000.txt"
            )
            .is_some(),
        "a refused DeleteObjects deleted something"
    );
    let r = alice.delete_objects("data", &["doc.txt"]);
    r.assert_status(200);
    assert!(Upstream::get().get_object(&bucket, "doc.txt").is_none());

    // The same requests with room in the budget: nothing was left held by the refusals.
    let gw = s3_gateway(&bucket, "limits:\n  buffer_memory: 4MiB\n");
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    let r = alice.get("/data?list-type=2&prefix=listing/");
    r.assert_status(200);
    assert!(r.text().contains("a-key-with"), "{}", r.text());
    alice
        .put_streaming_signed("/data/chunked.bin", &data, 1 << 10, None)
        .expect("the gateway answers the upload")
        .assert_status(200);
    assert_stored(&bucket, "chunked.bin", &data);
}

#[test]
fn a_zero_buffer_budget_is_a_config_error() {
    let gw_yaml = config_with_routes(
        "limits:\n  buffer_memory: 0\nroutes:\n  - path_prefix: /f\n    upstream: s3\n    bucket: data\n    public: true\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("zero.yaml");
    let yaml = gw_yaml
        .replace("{dir}", &dir.path().display().to_string())
        .replace("{listen}", "127.0.0.1:1")
        .replace("{upstream}", "127.0.0.1:2")
        .replace("{access_key}", "key")
        .replace("{secret_key}", "secretsecret");
    std::fs::write(&file, yaml).expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bucketgate"))
        .args(["check", "-c", &file.display().to_string()])
        .output()
        .expect("run bucketgate check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("limits.buffer_memory: must be more than 0"),
        "{stderr}"
    );
    assert!(stderr.contains("(1 problem)"), "{stderr}");
}

/// A pool whose only endpoint is down, behind a trusted local proxy.
fn dead_pool_gateway() -> Gateway {
    let dead = common::gateway::free_addr();
    let yaml = format!(
        "{}limits:\n  trusted_proxies: [127.0.0.1/32, \"::1/128\"]\nroutes:\n  - path_prefix: /files\n    upstream: vault-east\n    bucket: data\n    public: true\n",
        PREAMBLE
            .replace("upstreams:\n  s3:", "upstreams:\n  vault-east:")
            .replace("{upstream}", &dead)
    );
    Gateway::start(&yaml)
}

#[test]
fn readyz_names_pools_only_to_a_local_client() {
    let gw = dead_pool_gateway();
    wait_until(
        "/readyz to report the dead pool",
        Duration::from_secs(20),
        || client::get(gw.addr(), "/readyz").status == 503,
    );
    // On the gateway's own host: the pool's name, for the operator.
    let local = client::get(gw.addr(), "/readyz");
    assert_eq!(local.status, 503);
    assert_eq!(local.json()["status"], "unready");
    assert_eq!(
        local.json()["upstreams_without_backend"],
        serde_json::json!(["vault-east"])
    );
    // A remote client, through the trusted local proxy: the status only. The last one claims
    // to be local, and the proxy appended its real address.
    for remote in [
        "203.0.113.9",
        "2001:db8::7",
        "203.0.113.9, 127.0.0.1",
        "127.0.0.1, 203.0.113.9",
    ] {
        let r = client::request(
            gw.addr(),
            "GET",
            "/readyz",
            &[("x-forwarded-for", remote)],
            None,
        );
        assert_eq!(r.status, 503, "{remote}");
        assert_eq!(
            r.json(),
            serde_json::json!({"status": "unready"}),
            "{remote}"
        );
        assert!(!r.text().contains("vault"), "{remote}: {}", r.text());
    }
}
