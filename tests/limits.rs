//! Rate limits end to end (`limits:`), with the real bucketgate binary in front of the real
//! upstream: per-IP (429 + `Retry-After` on a `files` route), per-identity (`503 SlowDown` on
//! an `s3` route), the failed-auth lockout, two instances sharing one limit through a real
//! `redis-server` (and the local fallback once it is gone), `X-Forwarded-For` from trusted
//! peers only, and the concurrency limit.
//!
//! No assertion depends on timing: rates are small enough (2 per one-second window, or 5 per
//! 100 s) that a burst of quick requests is surely over them, and "the window passed" is
//! waited for, not timed.

mod common;

use std::io::Write;
use std::time::Duration;

use common::client::{self, Conn, Response};
use common::gateway::{config_with_routes, preamble_for_upstream, Gateway, PREAMBLE};
use common::redis::Redis;
use common::s3::{assert_s3_error, S3Client};
use common::upstream::Upstream;
use common::{fresh_bucket, wait_until};

const ALICE_ID: &str = "AKIALIMITALICE1";
const ALICE_SECRET: &str = "alice-limit-secret-1";
const BOB_ID: &str = "AKIALIMITBOB0001";
const BOB_SECRET: &str = "bob-limit-secret-01";

/// A gateway with a public `files` route on `/files` over `bucket`, and `limits` (a top-level
/// `limits:` section, or empty).
fn files_gateway(bucket: &str, limits: &str) -> Gateway {
    Gateway::start(&config_with_routes(&format!(
        "{limits}routes:
  - name: files
    path_prefix: /files
    upstream: s3
    bucket: {bucket}
    public: true
"
    )))
}

/// A gateway with an `s3` route serving `bucket` as `data` to the static keys of alice (read,
/// list and delete) and bob (read and list), and `limits`.
fn s3_gateway(bucket: &str, limits: &str) -> Gateway {
    let preamble = preamble_for_upstream();
    Gateway::start(&format!(
        "{preamble}{limits}access_keys:
  static:
    - access_key_id: {ALICE_ID}
      secret_access_key: {ALICE_SECRET}
      subject: alice
      grants: [{{bucket: \"{bucket}\", operations: [read, list, delete]}}]
    - access_key_id: {BOB_ID}
      secret_access_key: {BOB_SECRET}
      subject: bob
      grants: [{{bucket: \"{bucket}\", operations: [read, list]}}]
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

/// A bucket holding `doc.txt`.
fn seeded_bucket(prefix: &str) -> String {
    let bucket = fresh_bucket(prefix);
    Upstream::get().put_object(&bucket, "doc.txt", b"limited\n", &[]);
    bucket
}

fn get_with(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> Response {
    client::request(gw.addr(), "GET", path, headers, None)
}

/// Panics unless `r` carries `Retry-After` with a whole number of seconds in `1..=max`.
#[track_caller]
fn assert_retry_after(r: &Response, max: u64) {
    let value = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?} {}", r.headers, r.text()));
    let secs: u64 = value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {value:?} is not a number of seconds"));
    assert!(
        (1..=max).contains(&secs),
        "Retry-After {secs} not in 1..={max}"
    );
}

/// Panics unless `r` is the `files` frontend's 429 with `Retry-After` and a JSON body.
#[track_caller]
fn assert_429(r: &Response, max_retry: u64) {
    r.assert_status(429);
    assert_retry_after(r, max_retry);
    assert_eq!(r.json()["error"], "too_many_requests", "{}", r.text());
}

#[test]
fn a_per_ip_limit_answers_429_with_retry_after() {
    let bucket = seeded_bucket("lim-ip");
    let gw = files_gateway(&bucket, "limits:\n  per_ip: {requests_per_second: 2}\n");
    let responses: Vec<Response> = (0..20)
        .map(|_| client::get(gw.addr(), "/files/doc.txt"))
        .collect();
    responses[0].assert_status(200);
    assert_eq!(responses[0].body, b"limited\n");
    let refused: Vec<&Response> = responses.iter().filter(|r| r.status != 200).collect();
    assert!(
        !refused.is_empty(),
        "20 quick requests passed a 2/s limit: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in &refused {
        assert_429(r, 1);
        assert!(
            !r.text().contains("limited"),
            "a refused request was served"
        );
    }
    // A HEAD is refused the same way, without a body.
    let r = client::request(gw.addr(), "HEAD", "/files/doc.txt", &[], None);
    if r.status == 429 {
        assert_retry_after(&r, 1);
        assert!(r.body.is_empty());
    }
}

#[test]
fn a_per_identity_limit_answers_slowdown_on_s3_routes() {
    let bucket = seeded_bucket("lim-id");
    let gw = s3_gateway(
        &bucket,
        "limits:\n  per_identity: {requests_per_second: 2}\n",
    );
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    let responses: Vec<Response> = (0..20).map(|_| alice.get("/data/doc.txt")).collect();
    responses[0].assert_status(200);
    let refused: Vec<&Response> = responses.iter().filter(|r| r.status != 200).collect();
    assert!(
        !refused.is_empty(),
        "20 quick requests passed a 2/s limit: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in &refused {
        assert_s3_error(r, 503, "SlowDown");
        assert_retry_after(r, 1);
        assert!(r.header("x-amz-request-id").is_some(), "{:?}", r.headers);
    }
    // The limit is alice's, not the address's: bob, from the same address, goes through.
    let bob = S3Client::new(gw.addr(), BOB_ID, BOB_SECRET);
    bob.get("/data/doc.txt").assert_status(200);
}

/// Operations bucketgate answers itself (ListBuckets, DeleteObjects) count against and are
/// refused by the per-identity limit like proxied ones; a refused DeleteObjects deletes
/// nothing; the SlowDown's request id is the one the log line carries.
#[test]
fn a_per_identity_limit_covers_operations_answered_locally() {
    let bucket = seeded_bucket("lim-id-local");
    let gw = s3_gateway(
        &bucket,
        // Two requests per 2000 s: nothing refills during the test.
        "limits:\n  per_identity: {requests_per_second: 0.001, burst: 2}\n",
    );
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    alice.get("/").assert_status(200);
    alice.get("/").assert_status(200);
    let r = alice.get("/");
    assert_s3_error(&r, 503, "SlowDown");
    assert_retry_after(&r, 2000);
    let r = alice.delete_objects("data", &["doc.txt"]);
    assert_s3_error(&r, 503, "SlowDown");
    assert!(
        Upstream::get().get_object(&bucket, "doc.txt").is_some(),
        "a refused DeleteObjects deleted the object"
    );
    let id = r
        .header("x-amz-request-id")
        .expect("a request id")
        .to_owned();
    let log = gw.wait_for_log(&id, Duration::from_secs(5));
    assert!(
        log.lines().any(|l| l.contains(&id) && l.contains("POST")),
        "the access log line of the refused request carries its id {id}:\n{log}"
    );
    // Bob has his own budget.
    S3Client::new(gw.addr(), BOB_ID, BOB_SECRET)
        .get("/")
        .assert_status(200);
}

#[test]
fn failed_authentication_locks_the_address_out() {
    let bucket = seeded_bucket("lim-auth");
    let gw = s3_gateway(
        &bucket,
        "limits:\n  failed_auth_per_ip: {max_failures: 3, window_seconds: 3600}\n",
    );
    let wrong = S3Client::new(gw.addr(), ALICE_ID, "not-alices-secret");
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    alice.get("/data/doc.txt").assert_status(200);
    for _ in 0..3 {
        assert_s3_error(&wrong.get("/data/doc.txt"), 403, "SignatureDoesNotMatch");
    }
    // Over the limit: refused before the signature is even checked, the right secret too.
    for client in [&alice, &wrong] {
        let r = client.get("/data/doc.txt");
        assert_s3_error(&r, 503, "SlowDown");
        assert_retry_after(&r, 3600);
        assert!(!r.text().contains("limited"));
    }
    let log = gw.wait_for_log("failures=3", Duration::from_secs(5));
    assert!(!log.contains(ALICE_SECRET), "a secret is in the log");

    // With a short window, the address gets back in once the window has passed.
    let gw = s3_gateway(
        &bucket,
        "limits:\n  failed_auth_per_ip: {max_failures: 3, window_seconds: 1}\n",
    );
    let wrong = S3Client::new(gw.addr(), ALICE_ID, "not-alices-secret");
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    let mut locked = false;
    for _ in 0..200 {
        let r = wrong.get("/data/doc.txt");
        if r.status == 503 {
            assert_s3_error(&r, 503, "SlowDown");
            locked = true;
            break;
        }
        assert_s3_error(&r, 403, "SignatureDoesNotMatch");
    }
    assert!(locked, "200 wrong secrets and never locked out");
    wait_until(
        "the lockout to end with its window",
        Duration::from_secs(20),
        || alice.get("/data/doc.txt").status == 200,
    );
}

#[test]
fn failed_basic_auth_on_a_files_route_gets_429() {
    let bucket = seeded_bucket("lim-basic");
    let hash = bcrypt::hash_with_result("right-password", 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let gw = Gateway::start(&config_with_routes(&format!(
        "limits:
  failed_auth_per_ip: {{max_failures: 2, window_seconds: 3600}}
routes:
  - name: files
    path_prefix: /files
    upstream: s3
    bucket: {bucket}
    auth:
      - basic:
          realm: files
          users:
            - name: igv
              password_hash: '{hash}'
              grants: [{{bucket: \"{bucket}\", operations: [read]}}]
"
    )));
    let basic = |pw: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("igv:{pw}"))
        )
    };
    let good = basic("right-password");
    let bad = basic("wrong-password");
    get_with(&gw, "/files/doc.txt", &[("authorization", &good)]).assert_status(200);
    // No credentials at all is a challenge, not a failed attempt.
    for _ in 0..3 {
        get_with(&gw, "/files/doc.txt", &[]).assert_status(401);
    }
    get_with(&gw, "/files/doc.txt", &[("authorization", &good)]).assert_status(200);
    for _ in 0..2 {
        get_with(&gw, "/files/doc.txt", &[("authorization", &bad)]).assert_status(401);
    }
    let r = get_with(&gw, "/files/doc.txt", &[("authorization", &good)]);
    assert_429(&r, 3600);
    assert!(!r.text().contains("limited"));
}

/// With Redis, the attempt counted before auth is given back (by an EVAL) before the answer,
/// so a client that signs in correctly many times on two instances is never locked out, its
/// counter reads 0 right after each answer, and failures still add up across the fleet.
#[test]
fn shared_lockout_counts_only_failures() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let bucket = seeded_bucket("lim-redis-auth");
    let limits = format!(
        "limits:
  redis: {{url: \"{}\", key_prefix: \"bgauth:\", timeout_ms: 500}}
  failed_auth_per_ip: {{max_failures: 3, window_seconds: 3600}}
",
        redis.url()
    );
    let gws = [s3_gateway(&bucket, &limits), s3_gateway(&bucket, &limits)];
    let counter = || {
        let keys: Vec<String> = redis
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("bgauth:authfail:"))
            .collect();
        assert!(
            keys.len() <= 1,
            "one lockout counter for one address: {keys:?}"
        );
        keys.first().map_or(0, |k| {
            let v = redis.get(k).unwrap_or_default();
            String::from_utf8_lossy(&v).parse::<i64>().expect("a count")
        })
    };
    for i in 0..12 {
        let alice = S3Client::new(gws[i % 2].addr(), ALICE_ID, ALICE_SECRET);
        alice.get("/data/doc.txt").assert_status(200);
        assert_eq!(
            counter(),
            0,
            "request {i}: a good sign-in is not left counted"
        );
    }
    for i in 0..3 {
        let wrong = S3Client::new(gws[i % 2].addr(), ALICE_ID, "not-alices-secret");
        assert_s3_error(&wrong.get("/data/doc.txt"), 403, "SignatureDoesNotMatch");
        assert_eq!(
            counter(),
            i as i64 + 1,
            "failures add up over both instances"
        );
    }
    // The third failure locked the address out on both instances, the right secret too.
    for gw in &gws {
        let r = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET).get("/data/doc.txt");
        assert_s3_error(&r, 503, "SlowDown");
    }
}

#[test]
fn two_instances_share_one_limit_through_redis() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let bucket = seeded_bucket("lim-redis");
    // 5 requests per 100-second window, counted in Redis for both instances.
    let limits = format!(
        "limits:
  redis: {{url: \"{}\", key_prefix: \"bgtest:\", timeout_ms: 200}}
  per_ip: {{requests_per_second: 0.05, burst: 5}}
",
        redis.url()
    );
    let a = files_gateway(&bucket, &limits);
    let b = files_gateway(&bucket, &limits);
    let statuses: Vec<u16> = (0..10)
        .map(|i| {
            let gw = if i % 2 == 0 { &a } else { &b };
            let r = client::get(gw.addr(), "/files/doc.txt");
            if r.status == 429 {
                assert_429(&r, 100);
            }
            r.status
        })
        .collect();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        admitted, 5,
        "want exactly 5 of 10 admitted over both instances: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    let keys = redis.keys();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("bgtest:ip:") && k.ends_with(":127.0.0.1")),
        "no per-IP counter in Redis: {keys:?}"
    );

    // Redis gone: each instance still limits, on its own counters, and says so once.
    redis.kill();
    let statuses: Vec<u16> = (0..20)
        .map(|_| client::get(a.addr(), "/files/doc.txt").status)
        .collect();
    assert!(
        statuses.contains(&200) && statuses.contains(&429),
        "want the local fallback to admit its 5 and refuse the rest: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    let log = a.wait_for_log("unavailable", Duration::from_secs(5));
    assert_eq!(
        log.matches("rate limits: shared counters unavailable")
            .count(),
        1,
        "the outage is logged once, not per request:\n{log}"
    );
}

#[test]
fn x_forwarded_for_counts_only_from_trusted_peers() {
    let bucket = seeded_bucket("lim-xff");
    let rule = "  per_ip: {requests_per_second: 2}\n";
    let statuses = |gw: &Gateway, xff: &dyn Fn(usize) -> String| -> Vec<u16> {
        (0..20)
            .map(|i| get_with(gw, "/files/doc.txt", &[("x-forwarded-for", &xff(i))]).status)
            .collect()
    };

    // The test client (127.0.0.1) is a trusted proxy: each forwarded address is a client.
    let trusted = files_gateway(
        &bucket,
        &format!("limits:\n  trusted_proxies: [127.0.0.0/8, \"::1\"]\n{rule}"),
    );
    let each_own = statuses(&trusted, &|i| format!("203.0.113.{i}"));
    assert!(
        each_own.iter().all(|s| *s == 200),
        "distinct forwarded clients were limited together: {each_own:?}"
    );
    // A client cannot escape by forging the left part: the right-most untrusted hop counts.
    let forged = statuses(&trusted, &|i| format!("198.18.0.{i}, 198.51.100.7"));
    assert!(
        forged.contains(&429),
        "one client behind forged XFF entries was not limited: {forged:?}"
    );

    // Negative: the same headers from a peer that is not trusted are ignored.
    let untrusted = files_gateway(
        &bucket,
        &format!("limits:\n  trusted_proxies: [10.0.0.0/8]\n{rule}"),
    );
    let ignored = statuses(&untrusted, &|i| format!("203.0.113.{i}"));
    assert!(
        ignored.contains(&429),
        "an untrusted peer's X-Forwarded-For was believed: {ignored:?}"
    );
}

#[test]
fn a_concurrency_limit_refuses_a_second_request_in_flight() {
    let bucket = fresh_bucket("lim-conc");
    // Far larger than every socket buffer on the way, so the download stays in flight while
    // the client reads nothing.
    let big = vec![7u8; 48 << 20];
    Upstream::get().put_object(&bucket, "big.bin", &big, &[]);
    Upstream::get().put_object(&bucket, "doc.txt", b"limited\n", &[]);
    let gw = files_gateway(&bucket, "limits:\n  per_ip: {concurrent: 1}\n");

    let mut slow = Conn::connect(gw.addr()).expect("connect");
    let head = format!(
        "GET /files/big.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        gw.addr()
    );
    slow.stream.write_all(head.as_bytes()).unwrap();
    let first = slow.read_head().expect("the download's head");
    first.assert_status(200);

    let r = client::get(gw.addr(), "/files/doc.txt");
    assert_429(&r, 1);

    // The download ends (the client hangs up); its place is given back.
    drop(slow);
    wait_until(
        "the place of the finished download to be given back",
        Duration::from_secs(20),
        || client::get(gw.addr(), "/files/doc.txt").status == 200,
    );
}

#[test]
fn bad_limits_are_reported_with_their_place() {
    let text = format!(
        "{}limits:
  trusted_proxies: [10.0.0.0/33]
  per_ip: {{requests_per_second: 0}}
  per_route: {{requests_per_second: 10, burst: 5}}
  per_identity: {{}}
  failed_auth_per_ip: {{max_failures: 5, window_seconds: 0}}
  redis: {{url: \"nope://x\", timeout_ms: 0}}
routes:
  - upstream: s3
    bucket: bkt
    public: true
    limits: {{per_identity: {{concurrent: 2}}, per_ip: {{concurent: 1}}}}
",
        PREAMBLE
            .replace("{listen}", "127.0.0.1:1")
            .replace("{dir}", "/tmp")
            .replace("{upstream}", "127.0.0.1:2")
            .replace("{access_key}", "k")
            .replace("{secret_key}", "s")
    );
    let problems: Vec<String> = bucketgate::config::load_str("t.yaml", &text, &|_| None)
        .expect_err("bad limits are refused")
        .iter()
        .map(|p| p.to_string())
        .collect();
    let all = problems.join("\n");
    // Line numbers after the preamble: `limits:` is the first line of the text above.
    let line = |n: usize| format!("t.yaml:{}:", PREAMBLE.lines().count() + n);
    for want in [
        format!("{}21: limits.trusted_proxies[0]: invalid network", line(2)),
        format!(
            "{}12: limits.per_ip.requests_per_second: must be a number greater than 0",
            line(3)
        ),
        format!(
            "{}40: limits.per_route.burst: burst / requests_per_second is the window",
            line(4)
        ),
        format!(
            "{}3: limits.per_identity: set requests_per_second, concurrent, or both",
            line(5)
        ),
        format!(
            "{}41: limits.failed_auth_per_ip.window_seconds: must be from 1",
            line(6)
        ),
        format!("{}11: limits.redis.url: not a Redis URL", line(7)),
        format!(
            "{}28: limits.redis.timeout_ms: must be from 1 to 5000",
            line(7)
        ),
        format!(
            "{}14: routes[0].limits.per_identity: this route has no `auth`",
            line(12)
        ),
        format!(
            "{}54: routes[0].limits.per_ip.concurent: unknown field",
            line(12)
        ),
    ] {
        assert!(all.contains(&want), "missing {want:?} in:\n{all}");
    }
}

#[test]
fn the_example_config_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/limits.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let env = |var: &str| match var {
        "S3_ENDPOINT" => Some("127.0.0.1:9000".to_string()),
        "S3_ACCESS_KEY" | "S3_SECRET_KEY" => Some("example-key".to_string()),
        "REDIS_URL" => Some("redis://:secret@127.0.0.1:6379/0".to_string()),
        _ => None,
    };
    let cfg = bucketgate::config::load_str("conf/limits.yaml", &text, &env)
        .unwrap_or_else(|p| panic!("conf/limits.yaml: {p:?}"));
    assert_eq!(cfg.limits.trusted_proxies.len(), 2);
    assert_eq!(cfg.limits.failed_auth_per_ip.max_failures, 10);
    let redis = cfg.limits.redis.as_ref().expect("redis");
    assert_eq!(
        (redis.timeout_ms, redis.key_prefix.as_str()),
        (50, "bucketgate:limit:")
    );
    assert!(
        !format!("{:?}", cfg.limits).contains("secret@"),
        "the Redis password is in Debug output"
    );
    let own = cfg.routes[0].limits.as_ref().expect("route limits");
    assert_eq!(own.per_route.as_ref().and_then(|r| r.concurrent), Some(500));
}
