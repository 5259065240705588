//! The `frontend: s3` route end to end: the real bucketgate binary in front of a real S3 server
//! (s3s-fs in-process, or Ceph RGW with `BUCKETGATE_TEST_UPSTREAM=rgw`), spoken to with raw
//! SigV4 requests built here (tests/common/s3.rs): header signatures from `aws-sigv4`,
//! presigned URLs and aws-chunked chunk signatures written from the AWS documentation.
//!
//! Every denial is checked twice: the S3 error (status and `<Code>`) the client gets, and,
//! through direct calls to the upstream, that nothing was stored, deleted or copied.
//!
//! The gateway of most tests ([`Env::start`]) exposes three buckets on one route:
//! - `data` → a fresh upstream bucket, keys unchanged;
//! - `photos` → the same upstream bucket, keys under `photos/`;
//! - `vault` → a second upstream bucket nobody has a grant on;
//!
//! and accepts static keys `alice` (read, write, delete, list on `users/alice/` and `photos/`)
//! and `reader` (read on `users/alice/`), plus sealed keys opened by `sealing_keys: [k2, k1]`.

mod common;

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bucketgate::s3::sealed::keyring::{Keyring, SealingKeyConfig};
use bucketgate::s3::sealed::{generate_sealing_key, mint, Claims};
use bucketgate_plugin::{Grant, Operation};

use common::client::{self, Response};
use common::gateway::{preamble_for_upstream, Gateway};
use common::recorder::Recorder;
use common::s3::{
    assert_not_stored, assert_s3_error, assert_s3_error_any, assert_stored, common_prefixes,
    content_keys, crc32_base64, md5, xml_escape, xml_value, xml_values, S3Client, Truncation,
};
use common::upstream::{Upstream, UpstreamKind};
use common::{
    encode_key, encode_query_component, encode_query_pairs, fresh_bucket, pattern, sha256_hex,
};

const ALICE_ID: &str = "AKIAALICE0001";
const ALICE_SECRET: &str = "alicesecret123";
const READER_ID: &str = "AKIAREADER0001";
const READER_SECRET: &str = "readersecret123";

/// Three sealing keys for the whole test binary: the config lists k2 (seals) and k1 (opens
/// only); k0 is "retired", in no config.
struct SealingKeys {
    k0: String,
    k1: String,
    k2: String,
}

fn sealing_keys() -> &'static SealingKeys {
    static KEYS: OnceLock<SealingKeys> = OnceLock::new();
    KEYS.get_or_init(|| SealingKeys {
        k0: generate_sealing_key().expect("a random sealing key"),
        k1: generate_sealing_key().expect("a random sealing key"),
        k2: generate_sealing_key().expect("a random sealing key"),
    })
}

/// A sealed key pair minted with a keyring of `ring` (id, key), first entry sealing.
fn mint_sealed(
    ring: &[(&str, &str)],
    grants: Vec<Grant>,
    expires_at: SystemTime,
) -> (String, String) {
    let config: Vec<SealingKeyConfig> = ring
        .iter()
        .map(|(id, key)| SealingKeyConfig {
            id: (*id).to_owned(),
            key: (*key).to_owned(),
        })
        .collect();
    let keyring = Keyring::from_config(&config).expect("a valid test keyring");
    let claims = Claims {
        subject: "carol".into(),
        grants,
        expires_at,
    };
    let (id, secret) = mint(&keyring, &claims).expect("minting a sealed key");
    (id, secret.expose().to_owned())
}

fn in_an_hour() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

/// The config of [`Env`]: `bucket` behind `data` and `photos`, `vault` behind `vault`.
fn s3_config(bucket: &str, vault: &str) -> String {
    let k = sealing_keys();
    format!(
        "{preamble}access_keys:
  sealing_keys:
    - {{id: k2, key: \"{k2}\"}}
    - {{id: k1, key: \"{k1}\"}}
  static:
    - access_key_id: {ALICE_ID}
      secret_access_key: {ALICE_SECRET}
      subject: alice
      grants:
        - {{bucket: \"{bucket}\", prefix: \"users/alice/\", operations: [read, write, delete, list]}}
        - {{bucket: \"{bucket}\", prefix: \"photos/\", operations: [read, write, delete, list]}}
    - access_key_id: {READER_ID}
      secret_access_key: {READER_SECRET}
      subject: reader
      grants:
        - {{bucket: \"{bucket}\", prefix: \"users/alice/\", operations: [read]}}
routes:
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: s3
    base_domains: [s3.localhost]
    buckets:
      - name: data
        bucket: \"{bucket}\"
      - name: photos
        bucket: \"{bucket}\"
        key_prefix: photos/
      - name: vault
        bucket: \"{vault}\"
",
        preamble = preamble_for_upstream(),
        k1 = k.k1,
        k2 = k.k2,
    )
}

/// A gateway on two fresh upstream buckets (see the module docs).
struct Env {
    gw: Gateway,
    /// Upstream bucket behind `data` and `photos`.
    bucket: String,
    /// Upstream bucket behind `vault`.
    vault: String,
    /// Responses that showed what the client may not see (an upstream bucket name, a key
    /// outside the grants), reported when the test ends, so that one leak does not hide what
    /// the rest of the test would find.
    leaks: RefCell<Vec<String>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let leaks = self.leaks.borrow();
        if !leaks.is_empty() && !std::thread::panicking() {
            panic!(
                "{} response(s) showed the client what it may not see:\n{}",
                leaks.len(),
                leaks.join("\n")
            );
        }
    }
}

impl Env {
    fn start(name: &str) -> Env {
        let bucket = fresh_bucket(name);
        let vault = fresh_bucket(&format!("{name}-vault"));
        let gw = Gateway::start(&s3_config(&bucket, &vault));
        Env {
            gw,
            bucket,
            vault,
            leaks: RefCell::default(),
        }
    }

    fn client(&self, id: &str, secret: &str) -> S3Client {
        S3Client::new(self.gw.addr(), id, secret)
    }

    fn alice(&self) -> S3Client {
        self.client(ALICE_ID, ALICE_SECRET)
    }

    fn reader(&self) -> S3Client {
        self.client(READER_ID, READER_SECRET)
    }

    fn port(&self) -> u16 {
        self.gw
            .addr()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("gateway address has a port")
    }

    /// Stores `key` = `body` directly upstream in the `data` bucket.
    fn seed(&self, key: &str, body: &[u8]) {
        Upstream::get().put_object(&self.bucket, key, body, &[]);
    }

    fn stored(&self, key: &str) -> Option<Vec<u8>> {
        Upstream::get()
            .get_object(&self.bucket, key)
            .map(|(b, _)| b)
    }

    /// Notes a response whose body or headers show an upstream bucket name; the test fails
    /// when `Env` is dropped.
    #[track_caller]
    fn assert_no_upstream_names(&self, r: &Response) {
        let names = [self.bucket.clone(), self.vault.clone()];
        self.assert_hidden(r, "an upstream bucket name", &names);
    }

    /// Notes a response whose body or headers contain any of `hidden` (`what` they are); the
    /// test fails when `Env` is dropped. Listing elements that only echo the request
    /// (`<Marker>`, `<ContinuationToken>`, ...) are not looked at.
    #[track_caller]
    fn assert_hidden(&self, r: &Response, what: &str, hidden: &[String]) {
        let text = strip_echoes(&r.text());
        let headers = format!("{:?}", r.headers);
        for h in hidden {
            if text.contains(h.as_str()) || headers.contains(h.as_str()) {
                self.leaks.borrow_mut().push(format!(
                    "  at {}: {what} ({h:?}) in a {} response; headers {headers}, body: {text}",
                    std::panic::Location::caller(),
                    r.status
                ));
            }
        }
    }
}

/// `xml` without the listing elements that echo the request's own parameters.
fn strip_echoes(xml: &str) -> String {
    let mut out = xml.to_owned();
    for tag in [
        "Marker",
        "ContinuationToken",
        "StartAfter",
        "KeyMarker",
        "UploadIdMarker",
    ] {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        while let Some(i) = out.find(&open) {
            let Some(j) = out[i..].find(&close) else {
                break;
            };
            out.replace_range(i..i + j + close.len(), "");
        }
    }
    out
}

/// `/alias/encoded-key`.
fn obj(alias: &str, key: &str) -> String {
    format!("/{alias}/{}", encode_key(key))
}

/// `name=value&...`, each part encoded.
fn query(params: &[(&str, &str)]) -> String {
    encode_query_pairs(params).join("&")
}

fn now_minus(secs: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_secret_is_signature_does_not_match() {
    let env = Env::start("s3-wrongsecret");
    env.seed("users/alice/a.txt", b"alice's");
    let bad = env.client(ALICE_ID, "not-alices-secret");

    let r = bad.put(&obj("data", "users/alice/w.txt"), b"should not land");
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");
    assert_not_stored(&env.bucket, "users/alice/w.txt");

    let r = bad.get(&obj("data", "users/alice/a.txt"));
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");
    assert!(!r.text().contains("alice's"), "object leaked: {}", r.text());

    // Control: the right secret works.
    env.alice()
        .put(&obj("data", "users/alice/w.txt"), b"landed")
        .assert_status(200);
    assert_stored(&env.bucket, "users/alice/w.txt", b"landed");
}

#[test]
fn unknown_access_key_is_invalid_access_key_id() {
    let env = Env::start("s3-unknownkey");
    for id in [
        "AKIANOBODY0001",
        "BG1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let c = env.client(id, "whatever-secret-123");
        let r = c.put(&obj("data", "users/alice/u.txt"), b"nope");
        assert_s3_error(&r, 403, "InvalidAccessKeyId");
        assert_not_stored(&env.bucket, "users/alice/u.txt");
        let r = c.get("/");
        assert_s3_error(&r, 403, "InvalidAccessKeyId");
    }
}

#[test]
fn clock_skew_over_15_minutes_is_request_time_too_skewed() {
    let env = Env::start("s3-skew");
    let alice = env.alice();
    for (what, t) in [
        ("20 minutes slow", now_minus(20 * 60)),
        (
            "20 minutes fast",
            SystemTime::now() + Duration::from_secs(20 * 60),
        ),
    ] {
        let r = alice
            .at_time(t)
            .put(&obj("data", "users/alice/skew.txt"), b"late");
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert_s3_error(&r, 403, "RequestTimeTooSkewed");
        assert_not_stored(&env.bucket, "users/alice/skew.txt");
    }
    // Five minutes off is within the allowed skew.
    alice
        .at_time(now_minus(5 * 60))
        .put(&obj("data", "users/alice/skew.txt"), b"fine")
        .assert_status(200);
    assert_stored(&env.bucket, "users/alice/skew.txt", b"fine");
}

#[test]
fn header_changed_after_signing_is_signature_does_not_match() {
    let env = Env::start("s3-tamper");
    let data = pattern(3, 100);
    env.seed("users/alice/r.bin", &data);
    let alice = env.alice();

    // A signed x-amz-meta-* header changed on the way.
    let path = obj("data", "users/alice/meta.txt");
    let body = b"with metadata";
    let mut headers = alice.signed_headers(
        "PUT",
        &path,
        &[("x-amz-meta-x", "original")],
        &sha256_hex(body),
    );
    for (k, v) in headers.iter_mut() {
        if k.eq_ignore_ascii_case("x-amz-meta-x") {
            *v = "tampered".into();
        }
    }
    let r = alice.send("PUT", &path, &headers, Some(body));
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");
    assert_not_stored(&env.bucket, "users/alice/meta.txt");

    // A signed Range widened on the way.
    let path = obj("data", "users/alice/r.bin");
    let mut headers =
        alice.signed_headers("GET", &path, &[("range", "bytes=0-1")], &sha256_hex(b""));
    for (k, v) in headers.iter_mut() {
        if k.eq_ignore_ascii_case("range") {
            *v = "bytes=0-99".into();
        }
    }
    let r = alice.send("GET", &path, &headers, None);
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");

    // A signed header dropped on the way.
    let mut headers =
        alice.signed_headers("GET", &path, &[("range", "bytes=0-1")], &sha256_hex(b""));
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("range"));
    let r = alice.send("GET", &path, &headers, None);
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");

    // Control: untampered, the range works.
    let headers = alice.signed_headers("GET", &path, &[("range", "bytes=0-1")], &sha256_hex(b""));
    let r = alice.send("GET", &path, &headers, None);
    r.assert_status(206);
    assert_eq!(r.body, &data[..2]);
}

#[test]
fn garbage_authorization_is_authorization_header_malformed() {
    let env = Env::start("s3-garbage");
    let path = obj("data", "users/alice/g.txt");
    for auth in [
        "AWS4-HMAC-SHA256 this is not a signature",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0001, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0001/20250101/us-east-1/s3/aws4_request",
    ] {
        let r = client::request(
            env.gw.addr(),
            "PUT",
            &path,
            &[
                ("authorization", auth),
                ("x-amz-date", "20250101T000000Z"),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ],
            Some(b"x"),
        );
        assert_eq!(r.status, 400, "Authorization {auth:?}: {}", r.text());
        assert_s3_error(&r, 400, "AuthorizationHeaderMalformed");
        assert_not_stored(&env.bucket, "users/alice/g.txt");
    }
}

#[test]
fn anonymous_requests_are_access_denied() {
    let env = Env::start("s3-anon");
    env.seed("users/alice/a.txt", b"private");
    let addr = env.gw.addr();

    let r = client::request(addr, "GET", &obj("data", "users/alice/a.txt"), &[], None);
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(!r.text().contains("private"));

    let r = client::request(
        addr,
        "PUT",
        &obj("data", "users/alice/anon.txt"),
        &[],
        Some(b"anon"),
    );
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/alice/anon.txt");

    let r = client::request(addr, "GET", "/data?list-type=2", &[], None);
    assert_s3_error(&r, 403, "AccessDenied");
    let r = client::request(addr, "GET", "/", &[], None);
    assert_s3_error(&r, 403, "AccessDenied");
    let r = client::request(addr, "DELETE", &obj("data", "users/alice/a.txt"), &[], None);
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(
        env.stored("users/alice/a.txt").is_some(),
        "anonymous DELETE deleted"
    );
}

#[test]
fn presigned_urls() {
    let env = Env::start("s3-presign");
    let data = pattern(11, 4321);
    env.seed("users/alice/p.bin", &data);
    let alice = env.alice();
    let path = obj("data", "users/alice/p.bin");

    // A valid presigned GET returns the exact bytes.
    let url = alice.presign("GET", &path, 300, SystemTime::now());
    let r = alice.send_presigned("GET", &url, None);
    r.assert_status(200);
    assert_eq!(r.body, data, "presigned GET returned other bytes");

    // Signed two minutes ago, valid for ten: still fine.
    let url = alice.presign("GET", &path, 600, now_minus(120));
    alice.send_presigned("GET", &url, None).assert_status(200);

    // A valid presigned PUT stores.
    let put_path = obj("data", "users/alice/presigned-put.txt");
    let url = alice.presign("PUT", &put_path, 300, SystemTime::now());
    alice
        .send_presigned("PUT", &url, Some(b"via presigned PUT"))
        .assert_status(200);
    assert_stored(
        &env.bucket,
        "users/alice/presigned-put.txt",
        b"via presigned PUT",
    );

    // Expired: valid for 1 s, signed 10 s ago.
    let url = alice.presign("GET", &path, 1, now_minus(10));
    let r = alice.send_presigned("GET", &url, None);
    assert_s3_error(&r, 403, "AccessDenied");
    let url = alice.presign(
        "PUT",
        &obj("data", "users/alice/late.txt"),
        1,
        now_minus(10),
    );
    let r = alice.send_presigned("PUT", &url, Some(b"late"));
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/alice/late.txt");

    // The path changed after presigning (to another key the signer may read).
    env.seed("users/alice/other.bin", b"OTHER-OBJECT-CONTENT");
    let url = alice.presign("GET", &path, 300, SystemTime::now());
    let tampered = url.replacen("/users/alice/p.bin?", "/users/alice/other.bin?", 1);
    assert_ne!(tampered, url);
    let r = alice.send_presigned("GET", &tampered, None);
    assert_eq!(r.status, 403, "tampered presigned path: {}", r.text());
    assert_s3_error_any(&r, &[403], &["SignatureDoesNotMatch", "AccessDenied"]);
    assert!(!r.text().contains("OTHER-OBJECT-CONTENT"), "{}", r.text());

    // The expiry changed after presigning.
    let url = alice.presign("GET", &path, 1, now_minus(10));
    let tampered = url.replacen("X-Amz-Expires=1&", "X-Amz-Expires=3600&", 1);
    assert_ne!(tampered, url);
    let r = alice.send_presigned("GET", &tampered, None);
    assert_s3_error_any(&r, &[403], &["SignatureDoesNotMatch", "AccessDenied"]);

    // Presigned with a wrong secret.
    let url =
        env.client(ALICE_ID, "wrong-secret-456")
            .presign("GET", &path, 300, SystemTime::now());
    let r = alice.send_presigned("GET", &url, None);
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");

    // Presigned for a key outside the grants.
    env.seed("users/bob/b.txt", b"bob's");
    let url = alice.presign(
        "GET",
        &obj("data", "users/bob/b.txt"),
        300,
        SystemTime::now(),
    );
    let r = alice.send_presigned("GET", &url, None);
    assert_s3_error(&r, 403, "AccessDenied");
}

#[test]
fn chunked_transfer_without_length_is_411() {
    let env = Env::start("s3-411");
    let path = obj("data", "users/alice/chunked.txt");
    let alice = env.alice();
    let headers = alice.signed_headers("PUT", &path, &[], "UNSIGNED-PAYLOAD");
    let mut hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    hs.push(("Transfer-Encoding", "chunked"));
    let r = client::request(
        env.gw.addr(),
        "PUT",
        &path,
        &hs,
        Some(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
    );
    assert_s3_error(&r, 411, "MissingContentLength");
    assert_not_stored(&env.bucket, "users/alice/chunked.txt");
}

// ---------------------------------------------------------------------------------------------
// Payload integrity
// ---------------------------------------------------------------------------------------------

#[test]
fn payload_hash_mismatch_stores_nothing() {
    let env = Env::start("s3-payload");
    let alice = env.alice();
    let promised = b"the body that was signed";
    let sent = b"a different body was sent";
    let r = alice.request_with_payload_hash(
        "PUT",
        &obj("data", "users/alice/mismatch.txt"),
        &[],
        Some(sent),
        &sha256_hex(promised),
    );
    eprintln!("(payload hash mismatch answered {} {})", r.status, r.text());
    assert!(
        r.status >= 400,
        "a body that does not match its signed x-amz-content-sha256 was accepted: {} {}",
        r.status,
        r.text()
    );
    env.assert_no_upstream_names(&r);
    assert_not_stored(&env.bucket, "users/alice/mismatch.txt");

    // Control: the matching hash stores.
    alice
        .put(&obj("data", "users/alice/mismatch.txt"), sent)
        .assert_status(200);
    assert_stored(&env.bucket, "users/alice/mismatch.txt", sent);
}

// ---------------------------------------------------------------------------------------------
// aws-chunked
// ---------------------------------------------------------------------------------------------

const CHUNK: usize = 64 * 1024;

#[test]
fn signed_streaming_upload_stores_exact_bytes() {
    let env = Env::start("s3-stream");
    let alice = env.alice();
    // Three full chunks and a short one.
    let data = pattern(21, 3 * CHUNK + 1234);
    let r = alice
        .put_streaming_signed(&obj("data", "users/alice/stream.bin"), &data, CHUNK, None)
        .expect("the gateway answers a valid streaming upload");
    r.assert_status(200);
    assert_stored(&env.bucket, "users/alice/stream.bin", &data);
    let back = alice.get(&obj("data", "users/alice/stream.bin"));
    back.assert_status(200);
    assert!(back.body == data, "read back through bucketgate differs");

    // Through an alias with a key prefix, and a single chunk.
    let small = pattern(22, 1000);
    alice
        .put_streaming_signed(&obj("photos", "s.bin"), &small, CHUNK, None)
        .expect("the gateway answers")
        .assert_status(200);
    assert_stored(&env.bucket, "photos/s.bin", &small);

    // An empty object.
    alice
        .put_streaming_signed(&obj("data", "users/alice/empty.bin"), b"", CHUNK, None)
        .expect("the gateway answers")
        .assert_status(200);
    assert_stored(&env.bucket, "users/alice/empty.bin", b"");
}

#[test]
fn forged_chunk_signature_stores_nothing() {
    let env = Env::start("s3-forged");
    let alice = env.alice();
    let data = pattern(31, 3 * CHUNK + 10);
    // The first chunk, a middle one, and the final empty chunk (index 4).
    for forge in [0, 2, 4] {
        let key = format!("users/alice/forged-{forge}.bin");
        let r = alice
            .put_streaming_signed(&obj("data", &key), &data, CHUNK, Some(forge))
            .unwrap_or_else(|e| {
                panic!("chunk {forge} forged: the gateway hung up without an S3 error: {e}")
            });
        assert_s3_error(&r, 403, "SignatureDoesNotMatch");
        assert_not_stored(&env.bucket, &key);
    }
    // Signed by someone else: the seed signature itself is wrong.
    let r = env
        .client(ALICE_ID, "wrong-secret-789")
        .put_streaming_signed(
            &obj("data", "users/alice/forged-seed.bin"),
            &data,
            CHUNK,
            None,
        )
        .expect("the gateway answers");
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");
    assert_not_stored(&env.bucket, "users/alice/forged-seed.bin");
}

#[test]
fn truncated_streaming_upload_stores_nothing() {
    let env = Env::start("s3-trunc");
    let alice = env.alice();
    let data = pattern(41, 2 * CHUNK + 99);

    // Complete HTTP framing, no final chunk: the gateway must notice the aws-chunked body ended
    // early.
    let key = "users/alice/trunc-framed.bin";
    let r = alice
        .put_streaming_signed_truncated(
            &obj("data", key),
            &data,
            CHUNK,
            Truncation::FramedWithoutFinalChunk,
        )
        .unwrap_or_else(|e| panic!("the gateway hung up without an S3 error: {e}"));
    assert_s3_error(&r, 400, "IncompleteBody");
    assert_not_stored(&env.bucket, key);

    // The client hangs up before the final chunk: any answer but success.
    let key = "users/alice/trunc-closed.bin";
    match alice.put_streaming_signed_truncated(
        &obj("data", key),
        &data,
        CHUNK,
        Truncation::CloseBeforeFinalChunk,
    ) {
        Ok(r) => {
            eprintln!("(truncated upload answered {} {})", r.status, r.text());
            assert!(
                r.status >= 400,
                "truncated upload answered {} {}",
                r.status,
                r.text()
            );
        }
        Err(e) => eprintln!("(truncated upload: the gateway closed without answering: {e})"),
    }
    assert_not_stored(&env.bucket, key);
}

#[test]
fn unsigned_trailer_upload_checks_the_checksum() {
    let env = Env::start("s3-trailer");
    let alice = env.alice();
    let data = pattern(51, 2 * CHUNK + 7);
    let r = alice
        .put_unsigned_trailer(&obj("data", "users/alice/trailer.bin"), &data, CHUNK, None)
        .expect("the gateway answers");
    r.assert_status(200);
    assert_stored(&env.bucket, "users/alice/trailer.bin", &data);

    let wrong = crc32_base64(b"something else entirely");
    assert_ne!(wrong, crc32_base64(&data));
    let r = alice
        .put_unsigned_trailer(
            &obj("data", "users/alice/trailer-bad.bin"),
            &data,
            CHUNK,
            Some(&wrong),
        )
        .unwrap_or_else(|e| panic!("wrong checksum: the gateway hung up without an S3 error: {e}"));
    assert_s3_error(&r, 400, "BadDigest");
    assert_not_stored(&env.bucket, "users/alice/trailer-bad.bin");

    // The trailer form does not get around the grants.
    let r = alice
        .put_unsigned_trailer(&obj("data", "users/bob/trailer.bin"), &data, CHUNK, None)
        .expect("the gateway answers");
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/bob/trailer.bin");
}

// ---------------------------------------------------------------------------------------------
// Sealed keys
// ---------------------------------------------------------------------------------------------

fn carol_grants(bucket: &str) -> Vec<Grant> {
    vec![Grant::new(
        bucket,
        "users/carol/",
        &[Operation::Read, Operation::Write, Operation::List],
    )]
}

#[test]
fn sealed_keys_from_current_and_previous_sealing_keys_work() {
    let env = Env::start("s3-sealed");
    let k = sealing_keys();
    for (what, ring) in [
        (
            "sealed with k2 (current)",
            vec![("k2", k.k2.as_str()), ("k1", k.k1.as_str())],
        ),
        ("sealed with k1 (previous)", vec![("k1", k.k1.as_str())]),
    ] {
        let (id, secret) = mint_sealed(&ring, carol_grants(&env.bucket), in_an_hour());
        assert!(id.starts_with("BG1"), "{id}");
        let carol = env.client(&id, &secret);
        let key = format!("users/carol/{}.txt", ring[0].0);
        let r = carol.put(&obj("data", &key), what.as_bytes());
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        assert_stored(&env.bucket, &key, what.as_bytes());
        let r = carol.get(&obj("data", &key));
        r.assert_status(200);
        assert_eq!(r.body, what.as_bytes());
        // Presigned with a sealed key too.
        let url = carol.presign("GET", &obj("data", &key), 60, SystemTime::now());
        carol.send_presigned("GET", &url, None).assert_status(200);
    }
}

#[test]
fn sealed_key_from_retired_or_unknown_sealing_key_is_invalid_access_key_id() {
    let env = Env::start("s3-sealed-retired");
    let k = sealing_keys();
    for (what, ring) in [
        ("sealed with retired k0", vec![("k0", k.k0.as_str())]),
        // The id of a configured key but other key material: the seal does not open.
        ("sealed with a k1 impostor", vec![("k1", k.k0.as_str())]),
    ] {
        let (id, secret) = mint_sealed(&ring, carol_grants(&env.bucket), in_an_hour());
        let carol = env.client(&id, &secret);
        let r = carol.put(&obj("data", "users/carol/retired.txt"), b"x");
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert_s3_error(&r, 403, "InvalidAccessKeyId");
        assert_not_stored(&env.bucket, "users/carol/retired.txt");
    }

    // A sealed key with one character changed.
    let (id, secret) = mint_sealed(&[("k2", &k.k2)], carol_grants(&env.bucket), in_an_hour());
    let mut chars: Vec<char> = id.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let mangled: String = chars.into_iter().collect();
    let r = env
        .client(&mangled, &secret)
        .put(&obj("data", "users/carol/retired.txt"), b"x");
    assert_s3_error(&r, 403, "InvalidAccessKeyId");
    assert_not_stored(&env.bucket, "users/carol/retired.txt");
}

#[test]
fn expired_sealed_key_is_rejected() {
    let env = Env::start("s3-sealed-expired");
    env.seed("users/carol/old.txt", b"OLD-OBJECT-CONTENT");
    let k = sealing_keys();
    let (id, secret) = mint_sealed(&[("k2", &k.k2)], carol_grants(&env.bucket), now_minus(60));
    let carol = env.client(&id, &secret);
    let r = carol.put(&obj("data", "users/carol/expired.txt"), b"x");
    assert_s3_error_any(&r, &[400, 403], &["InvalidAccessKeyId", "ExpiredToken"]);
    assert_not_stored(&env.bucket, "users/carol/expired.txt");
    let r = carol.get(&obj("data", "users/carol/old.txt"));
    assert_s3_error_any(&r, &[400, 403], &["InvalidAccessKeyId", "ExpiredToken"]);
    assert!(!r.text().contains("OLD-OBJECT-CONTENT"), "{}", r.text());
}

#[test]
fn sealed_key_grants_are_enforced() {
    let env = Env::start("s3-sealed-grants");
    env.seed("users/alice/a.txt", b"alice's");
    let k = sealing_keys();
    let (id, secret) = mint_sealed(&[("k2", &k.k2)], carol_grants(&env.bucket), in_an_hour());
    let carol = env.client(&id, &secret);

    carol
        .put(&obj("data", "users/carol/mine.txt"), b"carol's")
        .assert_status(200);
    assert_stored(&env.bucket, "users/carol/mine.txt", b"carol's");

    let r = carol.put(&obj("data", "users/alice/intruder.txt"), b"x");
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/alice/intruder.txt");

    let r = carol.get(&obj("data", "users/alice/a.txt"));
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(!r.text().contains("alice's"));

    // No delete operation in the grant.
    let r = carol.delete(&obj("data", "users/carol/mine.txt"));
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(
        env.stored("users/carol/mine.txt").is_some(),
        "DELETE without the grant deleted"
    );

    // Nothing at all in the vault.
    let r = carol.get("/vault?list-type=2");
    assert_s3_error(&r, 403, "AccessDenied");

    // Listing shows carol's keys only.
    let r = carol.get(&format!(
        "/data?{}",
        query(&[("list-type", "2"), ("prefix", "users/")])
    ));
    r.assert_status(200);
    assert_eq!(
        content_keys(&r.text()),
        vec!["users/carol/mine.txt".to_string()]
    );
}

// ---------------------------------------------------------------------------------------------
// Object operations
// ---------------------------------------------------------------------------------------------

#[test]
fn put_get_range_head_delete() {
    let env = Env::start("s3-objects");
    let alice = env.alice();
    let data = pattern(61, 1000);

    // An awkward key: space, plus, non-ASCII.
    let key = "users/alice/dir/hello world+ü.bin";
    let r = alice.request(
        "PUT",
        &obj("data", key),
        &[
            ("content-type", "application/x-test"),
            ("x-amz-meta-color", "blue"),
        ],
        Some(&data),
    );
    r.assert_status(200);
    assert!(r.header("etag").is_some(), "no ETag: {:?}", r.headers);
    assert_stored(&env.bucket, key, &data);

    let r = alice.get(&obj("data", key));
    r.assert_status(200);
    assert_eq!(r.body, data);
    assert_eq!(r.header("content-type"), Some("application/x-test"));
    assert_eq!(r.header("x-amz-meta-color"), Some("blue"));

    let r = alice.request(
        "GET",
        &obj("data", key),
        &[("range", "bytes=100-199")],
        None,
    );
    r.assert_status(206);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/1000"));
    assert_eq!(r.body, &data[100..200]);
    let r = alice.request("GET", &obj("data", key), &[("range", "bytes=-10")], None);
    r.assert_status(206);
    assert_eq!(r.body, &data[990..]);

    let r = alice.head(&obj("data", key));
    r.assert_status(200);
    assert_eq!(r.header("content-length"), Some("1000"));
    assert_eq!(r.header("x-amz-meta-color"), Some("blue"));
    assert!(r.body.is_empty());

    // The reader may read but not write or delete.
    let reader = env.reader();
    reader.get(&obj("data", key)).assert_status(200);
    let r = reader.put(&obj("data", "users/alice/by-reader.txt"), b"x");
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/alice/by-reader.txt");
    let r = reader.delete(&obj("data", key));
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(env.stored(key).is_some(), "the reader's DELETE deleted");

    let r = alice.delete(&obj("data", key));
    r.assert_status(204);
    assert!(env.stored(key).is_none(), "object survived DELETE");

    let r = alice.get(&obj("data", key));
    assert_s3_error(&r, 404, "NoSuchKey");
    env.assert_no_upstream_names(&r);
    let r = alice.head(&obj("data", key));
    r.assert_status(404);

    // Outside the grants.
    env.seed("users/bob/b.txt", b"bob's");
    let r = alice.put(&obj("data", "users/bob/x.txt"), b"x");
    assert_s3_error(&r, 403, "AccessDenied");
    env.assert_no_upstream_names(&r);
    assert_not_stored(&env.bucket, "users/bob/x.txt");
    let r = alice.get(&obj("data", "users/bob/b.txt"));
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(!r.text().contains("bob's"));
    let r = alice.head(&obj("data", "users/bob/b.txt"));
    r.assert_status(403);
    let r = alice.delete(&obj("data", "users/bob/b.txt"));
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(env.stored("users/bob/b.txt").is_some());
    // A key that only starts like the prefix.
    let r = alice.put(&obj("data", "users/alicex/y.txt"), b"x");
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/alicex/y.txt");

    // Through the `photos` alias the key prefix is added upstream.
    alice
        .put(&obj("photos", "cat.jpg"), b"meow")
        .assert_status(200);
    assert_stored(&env.bucket, "photos/cat.jpg", b"meow");
    let r = alice.get(&obj("photos", "cat.jpg"));
    r.assert_status(200);
    assert_eq!(r.body, b"meow");
    alice.delete(&obj("photos", "cat.jpg")).assert_status(204);
    assert!(env.stored("photos/cat.jpg").is_none());

    // Unknown bucket.
    let r = alice.get(&obj("nope", "users/alice/x"));
    assert_s3_error(&r, 404, "NoSuchBucket");
}

#[test]
fn delete_objects_is_all_or_nothing() {
    let env = Env::start("s3-multidelete");
    let alice = env.alice();
    for k in [
        "users/alice/d1.txt",
        "users/alice/d2.txt",
        "users/alice/d3.txt",
        "users/bob/b1.txt",
        "photos/p1.jpg",
        "photos/p2.jpg",
    ] {
        env.seed(k, k.as_bytes());
    }

    let r = alice.delete_objects("data", &["users/alice/d1.txt", "users/alice/d2.txt"]);
    r.assert_status(200);
    let text = r.text();
    assert!(!text.contains("<Error>"), "{text}");
    let mut deleted = xml_values(&text, "Deleted")
        .iter()
        .flat_map(|d| xml_values(d, "Key"))
        .collect::<Vec<_>>();
    deleted.sort();
    assert_eq!(
        deleted,
        ["users/alice/d1.txt", "users/alice/d2.txt"],
        "{text}"
    );
    assert!(env.stored("users/alice/d1.txt").is_none());
    assert!(env.stored("users/alice/d2.txt").is_none());

    // One key outside the grants: nothing is deleted.
    let r = alice.delete_objects("data", &["users/alice/d3.txt", "users/bob/b1.txt"]);
    assert_s3_error(&r, 403, "AccessDenied");
    env.assert_no_upstream_names(&r);
    assert!(
        env.stored("users/alice/d3.txt").is_some(),
        "d3 deleted although the batch was denied"
    );
    assert!(
        env.stored("users/bob/b1.txt").is_some(),
        "bob's key deleted"
    );

    // The reader has no delete.
    let r = env.reader().delete_objects("data", &["users/alice/d3.txt"]);
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(env.stored("users/alice/d3.txt").is_some());

    // Through the `photos` alias: client keys without the prefix, in the request and the answer.
    let r = alice.delete_objects("photos", &["p1.jpg", "p2.jpg"]);
    r.assert_status(200);
    let text = r.text();
    let mut deleted = xml_values(&text, "Deleted")
        .iter()
        .flat_map(|d| xml_values(d, "Key"))
        .collect::<Vec<_>>();
    deleted.sort();
    assert_eq!(deleted, ["p1.jpg", "p2.jpg"], "{text}");
    assert!(env.stored("photos/p1.jpg").is_none());
    assert!(env.stored("photos/p2.jpg").is_none());
}

#[test]
fn copy_object_checks_the_source_grants() {
    let env = Env::start("s3-copy");
    let alice = env.alice();
    env.seed("users/alice/src.txt", b"source bytes");
    env.seed("users/bob/b.txt", b"bob's secret");
    env.seed("photos/p.jpg", b"a photo");
    Upstream::get().put_object(&env.vault, "v.txt", b"vaulted", &[]);

    let copy = |dest: &str, source: &str, c: &S3Client| {
        c.request(
            "PUT",
            &obj("data", dest),
            &[("x-amz-copy-source", source)],
            None,
        )
    };

    let r = copy("users/alice/copy.txt", "/data/users/alice/src.txt", &alice);
    r.assert_status(200);
    assert!(r.text().contains("CopyObjectResult"), "{}", r.text());
    env.assert_no_upstream_names(&r);
    assert_stored(&env.bucket, "users/alice/copy.txt", b"source bytes");

    // Without the leading slash, and from the `photos` alias (key prefix added to the source).
    copy("users/alice/photo-copy.jpg", "photos/p.jpg", &alice).assert_status(200);
    assert_stored(&env.bucket, "users/alice/photo-copy.jpg", b"a photo");

    // Source outside the grants.
    let r = copy("users/alice/stolen.txt", "/data/users/bob/b.txt", &alice);
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/alice/stolen.txt");
    let r = copy("users/alice/stolen2.txt", "/vault/v.txt", &alice);
    assert_s3_error(&r, 403, "AccessDenied");
    env.assert_no_upstream_names(&r);
    assert_not_stored(&env.bucket, "users/alice/stolen2.txt");
    // Source given as the upstream bucket name, which is no alias.
    let r = copy(
        "users/alice/stolen3.txt",
        &format!("/{}/users/bob/b.txt", env.vault),
        &alice,
    );
    assert!(
        r.status == 403 || r.status == 404,
        "{} {}",
        r.status,
        r.text()
    );
    assert_not_stored(&env.bucket, "users/alice/stolen3.txt");

    // Destination outside the grants.
    let r = copy("users/bob/planted.txt", "/data/users/alice/src.txt", &alice);
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/bob/planted.txt");

    // The reader may read the source but not write the destination.
    let r = copy(
        "users/alice/by-reader.txt",
        "/data/users/alice/src.txt",
        &env.reader(),
    );
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/alice/by-reader.txt");
}

/// Whether the upstream answers ListMultipartUploads (s3s-fs 0.14 does not: 501).
fn upstream_lists_uploads() -> bool {
    Upstream::get().kind() == UpstreamKind::Rgw
}

/// How many parts upstream `key`'s upload `upload_id` holds (upstream ListParts), None once it
/// is gone (404 NoSuchUpload; s3s-fs instead lists no parts).
fn upstream_upload_parts(bucket: &str, key: &str, upload_id: &str) -> Option<usize> {
    let r = Upstream::get()
        .call("GET", bucket, Some(key))
        .query("uploadId", upload_id)
        .send();
    match r.status {
        200 => Some(xml_values(&r.text(), "Part").len()),
        404 => None,
        s => panic!("upstream ListParts {bucket}/{key}: {s} {}", r.text()),
    }
}

/// Upstream keys of the multipart uploads in progress in `bucket` (RGW only).
fn upstream_upload_keys(bucket: &str) -> Vec<String> {
    let r = Upstream::get()
        .call("GET", bucket, None)
        .query("uploads", "")
        .send();
    r.assert_status(200);
    xml_values(&r.text(), "Upload")
        .iter()
        .flat_map(|u| xml_values(u, "Key"))
        .collect()
}

fn upload_keys(xml: &str) -> Vec<String> {
    xml_values(xml, "Upload")
        .iter()
        .flat_map(|u| xml_values(u, "Key"))
        .collect()
}

#[test]
fn multipart_upload_end_to_end() {
    let env = Env::start("s3-multipart");
    let alice = env.alice();
    let up = Upstream::get();
    let key = "users/alice/mp.bin";
    let path = obj("data", key);

    // Someone else's upload in the same bucket, started directly upstream.
    let r = up
        .call("POST", &env.bucket, Some("users/bob/secret.bin"))
        .query("uploads", "")
        .send();
    r.assert_status(200);
    let bob_upload = xml_value(&r.text(), "UploadId").expect("UploadId");
    up.call("PUT", &env.bucket, Some("users/bob/secret.bin"))
        .query("partNumber", "1")
        .query("uploadId", &bob_upload)
        .body(b"bob's part")
        .send()
        .assert_status(200);

    let r = alice.request("POST", &format!("{path}?uploads"), &[], None);
    r.assert_status(200);
    env.assert_no_upstream_names(&r);
    let upload_id = xml_value(&r.text(), "UploadId").expect("UploadId in CreateMultipartUpload");
    assert_eq!(xml_value(&r.text(), "Key").as_deref(), Some(key));
    let uid = encode_query_component(&upload_id);

    let part1 = pattern(71, 5 << 20);
    let part2 = pattern(72, 12345);
    let mut etags = Vec::new();
    for (n, part) in [(1, &part1), (2, &part2)] {
        let r = alice.put(&format!("{path}?partNumber={n}&uploadId={uid}"), part);
        r.assert_status(200);
        etags.push(r.header("etag").expect("ETag of UploadPart").to_owned());
    }

    assert_eq!(upstream_upload_parts(&env.bucket, key, &upload_id), Some(2));

    let r = alice.get(&format!("{path}?uploadId={uid}"));
    r.assert_status(200);
    let text = r.text();
    env.assert_no_upstream_names(&r);
    // (Sorted: s3s-fs lists parts in directory order.)
    assert_eq!(
        sorted(xml_values(&text, "PartNumber")),
        ["1", "2"],
        "{text}"
    );
    assert_eq!(xml_value(&text, "Key").as_deref(), Some(key), "{text}");

    if upstream_lists_uploads() {
        let r = alice.get(&format!(
            "/data?{}",
            query(&[("prefix", "users/"), ("uploads", "")])
        ));
        r.assert_status(200);
        let text = r.text();
        env.assert_no_upstream_names(&r);
        assert_eq!(upload_keys(&text), [key], "ListMultipartUploads: {text}");
        // Not even as a marker.
        let bobs = [bob_upload.clone(), "users/bob/".to_string()];
        let what = "ListMultipartUploads: an upload outside the grants";
        env.assert_hidden(&r, what, &bobs);
        let r = alice.get("/data?uploads");
        r.assert_status(200);
        assert_eq!(upload_keys(&r.text()), [key], "{}", r.text());
        env.assert_hidden(&r, what, &bobs);
    } else {
        eprintln!("(ListMultipartUploads not checked: s3s-fs does not implement it)");
    }

    // Someone else's upload: no parts added, none listed, no abort.
    let bob_path = obj("data", "users/bob/secret.bin");
    let bob_uid = encode_query_component(&bob_upload);
    let r = alice.put(&format!("{bob_path}?partNumber=1&uploadId={bob_uid}"), b"x");
    assert_s3_error(&r, 403, "AccessDenied");
    let r = alice.get(&format!("{bob_path}?uploadId={bob_uid}"));
    assert_s3_error(&r, 403, "AccessDenied");
    let r = alice.delete(&format!("{bob_path}?uploadId={bob_uid}"));
    assert_s3_error(&r, 403, "AccessDenied");
    assert_eq!(
        upstream_upload_parts(&env.bucket, "users/bob/secret.bin", &bob_upload),
        Some(1),
        "bob's upload changed"
    );

    let complete = format!(
        "<CompleteMultipartUpload>\
         <Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part>\
         </CompleteMultipartUpload>",
        xml_escape(&etags[0]),
        xml_escape(&etags[1])
    );
    let r = alice.request(
        "POST",
        &format!("{path}?uploadId={uid}"),
        &[("content-type", "application/xml")],
        Some(complete.as_bytes()),
    );
    r.assert_status(200);
    let text = r.text();
    assert!(
        text.contains("CompleteMultipartUploadResult") && !text.contains("<Error>"),
        "{text}"
    );
    env.assert_no_upstream_names(&r);
    let mut want = part1.clone();
    want.extend_from_slice(&part2);
    assert_stored(&env.bucket, key, &want);
    let r = alice.request("GET", &path, &[("range", "bytes=5242870-5242889")], None);
    r.assert_status(206);
    assert_eq!(r.body, &want[5_242_870..5_242_890]);

    // Create outside the grants.
    let r = alice.request(
        "POST",
        &format!("{}?uploads", obj("data", "users/bob/mp.bin")),
        &[],
        None,
    );
    assert_s3_error(&r, 403, "AccessDenied");
    if upstream_lists_uploads() {
        assert!(!upstream_upload_keys(&env.bucket)
            .iter()
            .any(|k| k == "users/bob/mp.bin"));
    }

    // Abort, through the `photos` alias (key prefix added upstream, stripped in answers).
    let ppath = obj("photos", "mp2.bin");
    let r = alice.request("POST", &format!("{ppath}?uploads"), &[], None);
    r.assert_status(200);
    env.assert_no_upstream_names(&r);
    assert_eq!(
        xml_value(&r.text(), "Key").as_deref(),
        Some("mp2.bin"),
        "{}",
        r.text()
    );
    let pupload = xml_value(&r.text(), "UploadId").expect("UploadId");
    let pid = encode_query_component(&pupload);
    alice
        .put(
            &format!("{ppath}?partNumber=1&uploadId={pid}"),
            b"small part",
        )
        .assert_status(200);
    assert_eq!(
        upstream_upload_parts(&env.bucket, "photos/mp2.bin", &pupload),
        Some(1)
    );
    if upstream_lists_uploads() {
        let r = alice.get("/photos?uploads");
        r.assert_status(200);
        env.assert_no_upstream_names(&r);
        assert_eq!(upload_keys(&r.text()), ["mp2.bin"], "{}", r.text());
    }
    let r = alice.delete(&format!("{ppath}?uploadId={pid}"));
    r.assert_status(204);
    let left = upstream_upload_parts(&env.bucket, "photos/mp2.bin", &pupload);
    assert!(
        left.unwrap_or(0) == 0,
        "upload still in progress after AbortMultipartUpload: {left:?} parts"
    );
    assert_not_stored(&env.bucket, "photos/mp2.bin");

    let _ = up
        .call("DELETE", &env.bucket, Some("users/bob/secret.bin"))
        .query("uploadId", &bob_upload)
        .send();
}

// ---------------------------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------------------------

/// Upstream layout of the listing tests (in the `data` bucket).
const LAYOUT: &[&str] = &[
    "other/o1.txt",
    "photos/2024/x1.jpg",
    "photos/2024/x2.jpg",
    "photos/p1.jpg",
    "photos/p2.jpg",
    "photos/p3.jpg",
    "top.txt",
    "users/alice/a1.txt",
    "users/alice/a2.txt",
    "users/alice/a3.txt",
    "users/alice/sub/s1.txt",
    "users/alice/sub/s2.txt",
    "users/alicex/not-alice.txt",
    "users/bob/b1.txt",
    "users/bob/b2.txt",
    "users/bob/sub/b3.txt",
    "users/carl.txt",
];

fn listing_env(name: &str) -> Env {
    let env = Env::start(name);
    for k in LAYOUT {
        env.seed(k, k.as_bytes());
    }
    env
}

/// Parts of [`LAYOUT`] keys alice may not list: no listing body may contain them.
const HIDDEN: &[&str] = &[
    "other/",
    "top.txt",
    "users/alicex",
    "users/bob",
    "users/carl",
];

#[derive(Debug, Default)]
struct Listing {
    keys: Vec<String>,
    prefixes: Vec<String>,
    pages: usize,
}

/// Every page of a ListObjects (`version` 1 or 2) with `max-keys=2`.
#[track_caller]
fn list_all(env: &Env, c: &S3Client, alias: &str, version: u8, params: &[(&str, &str)]) -> Listing {
    let mut out = Listing::default();
    let mut next: Option<String> = None;
    for _ in 0..60 {
        let mut q: Vec<(&str, &str)> = params.to_vec();
        q.push(("max-keys", "2"));
        if version == 2 {
            q.push(("list-type", "2"));
        }
        if let Some(n) = &next {
            q.push((
                if version == 2 {
                    "continuation-token"
                } else {
                    "marker"
                },
                n.as_str(),
            ));
        }
        let path = format!("/{alias}?{}", query(&q));
        let r = c.get(&path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        env.assert_no_upstream_names(&r);
        let text = r.text();
        assert_eq!(xml_value(&text, "Name").as_deref(), Some(alias), "{text}");
        env.assert_hidden(
            &r,
            &format!("GET {path}: a key alice may not list (as a key, prefix or marker)"),
            &strs(HIDDEN),
        );
        let keys = content_keys(&text);
        let prefixes = common_prefixes(&text);
        assert!(
            keys.len() + prefixes.len() <= 2,
            "max-keys=2 exceeded: {text}"
        );
        out.pages += 1;
        let truncated = xml_value(&text, "IsTruncated").as_deref() == Some("true");
        let last_key = keys.last().cloned();
        let last_prefix = prefixes.last().cloned();
        out.keys.extend(keys);
        out.prefixes.extend(prefixes);
        if !truncated {
            return out;
        }
        next = Some(if version == 2 {
            xml_value(&text, "NextContinuationToken")
                .unwrap_or_else(|| panic!("truncated V2 listing without a token: {text}"))
        } else {
            xml_value(&text, "NextMarker")
                .or(last_key)
                .or(last_prefix)
                .unwrap_or_else(|| panic!("truncated V1 listing without a marker: {text}"))
        });
    }
    panic!("listing {alias} {params:?} did not end within 60 pages: {out:?}");
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// What alice may list in `data`, in order.
const ALICE_DATA_KEYS: &[&str] = &[
    "photos/2024/x1.jpg",
    "photos/2024/x2.jpg",
    "photos/p1.jpg",
    "photos/p2.jpg",
    "photos/p3.jpg",
    "users/alice/a1.txt",
    "users/alice/a2.txt",
    "users/alice/a3.txt",
    "users/alice/sub/s1.txt",
    "users/alice/sub/s2.txt",
];

fn check_listings(version: u8) {
    let env = listing_env(&format!("s3-list-v{version}"));
    let alice = env.alice();
    let list =
        |alias: &str, params: &[(&str, &str)]| list_all(&env, &alice, alias, version, params);

    // The root with a delimiter: only prefixes leading to granted keys.
    let l = list("data", &[("delimiter", "/")]);
    assert_eq!(l.keys, Vec::<String>::new(), "root keys: {l:?}");
    assert_eq!(
        l.prefixes,
        strs(&["photos/", "users/"]),
        "root prefixes: {l:?}"
    );

    // One level down: alice's folder, not bob's, not users/carl.txt, not users/alicex/.
    let l = list("data", &[("delimiter", "/"), ("prefix", "users/")]);
    assert_eq!(l.keys, Vec::<String>::new(), "{l:?}");
    assert_eq!(l.prefixes, strs(&["users/alice/"]), "{l:?}");

    let l = list("data", &[("delimiter", "/"), ("prefix", "users/alice/")]);
    assert_eq!(
        l.keys,
        strs(&[
            "users/alice/a1.txt",
            "users/alice/a2.txt",
            "users/alice/a3.txt"
        ]),
        "{l:?}"
    );
    assert_eq!(l.prefixes, strs(&["users/alice/sub/"]), "{l:?}");

    // Everything, no delimiter, two at a time: exactly what alice may list, in order.
    let l = list("data", &[]);
    assert_eq!(l.keys, strs(ALICE_DATA_KEYS), "{l:?}");
    assert!(l.prefixes.is_empty());
    assert!(l.pages >= 5, "{l:?}");

    // A prefix entirely outside the grants shows nothing (denied or empty).
    let path = format!(
        "/data?{}",
        query(&[("prefix", "users/bob/")]) + if version == 2 { "&list-type=2" } else { "" }
    );
    let r = alice.get(&path);
    if r.status == 200 {
        assert!(
            content_keys(&r.text()).is_empty() && common_prefixes(&r.text()).is_empty(),
            "{}",
            r.text()
        );
    } else {
        assert_s3_error(&r, 403, "AccessDenied");
    }
    assert!(!r.text().contains("b1.txt"), "{}", r.text());

    // The `photos` alias: keys without the `photos/` key prefix.
    let l = list("photos", &[]);
    assert_eq!(
        l.keys,
        strs(&["2024/x1.jpg", "2024/x2.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]),
        "{l:?}"
    );
    let l = list("photos", &[("delimiter", "/")]);
    assert_eq!(l.keys, strs(&["p1.jpg", "p2.jpg", "p3.jpg"]), "{l:?}");
    assert_eq!(l.prefixes, strs(&["2024/"]), "{l:?}");
    let l = list("photos", &[("prefix", "2024/")]);
    assert_eq!(l.keys, strs(&["2024/x1.jpg", "2024/x2.jpg"]), "{l:?}");
    // Where to start is in client keys too.
    let start = if version == 2 {
        "start-after"
    } else {
        "marker"
    };
    let path = format!(
        "/photos?{}",
        query(&[(start, "p1.jpg")]) + if version == 2 { "&list-type=2" } else { "" }
    );
    let r = alice.get(&path);
    r.assert_status(200);
    assert_eq!(
        content_keys(&r.text()),
        strs(&["p2.jpg", "p3.jpg"]),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("<Key>photos/"), "{}", r.text());

    // No list grant at all.
    let r = alice.get(if version == 2 {
        "/vault?list-type=2"
    } else {
        "/vault"
    });
    assert_s3_error(&r, 403, "AccessDenied");
    env.assert_no_upstream_names(&r);
    let r = env.reader().get(if version == 2 {
        "/data?list-type=2&prefix=users%2Falice%2F"
    } else {
        "/data?prefix=users%2Falice%2F"
    });
    if r.status == 200 {
        assert!(
            content_keys(&r.text()).is_empty(),
            "reader (no list grant) listed: {}",
            r.text()
        );
    } else {
        assert_s3_error(&r, 403, "AccessDenied");
    }
}

#[test]
fn list_objects_v2_filters_and_strips_prefixes() {
    check_listings(2);
}

#[test]
fn list_objects_v1_filters_and_strips_prefixes() {
    check_listings(1);
}

// ---------------------------------------------------------------------------------------------
// Buckets, unsupported operations, addressing
// ---------------------------------------------------------------------------------------------

#[test]
fn bucket_operations() {
    let env = Env::start("s3-buckets");
    let alice = env.alice();

    alice.head("/data").assert_status(200);
    alice.head("/photos").assert_status(200);
    alice.head("/nope").assert_status(404);
    alice.head("/vault").assert_status(403);
    let r = alice.get("/nope?list-type=2");
    assert_s3_error(&r, 404, "NoSuchBucket");
    // The upstream bucket's own name is not an alias.
    let r = alice.get(&format!("/{}?list-type=2", env.bucket));
    assert_s3_error(&r, 404, "NoSuchBucket");

    let r = alice.get("/");
    r.assert_status(200);
    env.assert_no_upstream_names(&r);
    let text = r.text();
    let names = sorted(
        xml_values(&text, "Bucket")
            .iter()
            .flat_map(|b| xml_values(b, "Name"))
            .collect(),
    );
    assert_eq!(names, strs(&["data", "photos"]), "ListBuckets: {text}");

    let r = alice.get("/data?location");
    r.assert_status(200);
    assert!(r.text().contains("LocationConstraint"), "{}", r.text());
    env.assert_no_upstream_names(&r);
    let r = alice.get("/vault?location");
    assert_s3_error(&r, 403, "AccessDenied");
}

#[test]
fn unsupported_operations_are_not_implemented() {
    let env = Env::start("s3-501");
    env.seed("users/alice/a.txt", b"a");
    let alice = env.alice();
    for (method, path) in [
        ("GET", "/data?acl"),
        ("GET", "/data/users/alice/a.txt?acl"),
        ("PUT", "/data/users/alice/a.txt?acl"),
        ("GET", "/data/users/alice/a.txt?tagging"),
        ("GET", "/data?versioning"),
        ("GET", "/data?policy"),
        // DeleteBucket on an existing alias; CreateBucket of a new one.
        ("DELETE", "/data"),
        ("PUT", "/brand-new-bucket"),
    ] {
        let r = alice.request(method, path, &[], None);
        assert_eq!(r.status, 501, "{method} {path}: {}", r.text());
        assert_s3_error(&r, 501, "NotImplemented");
        env.assert_no_upstream_names(&r);
    }
    // CreateBucket of an existing alias answers as S3 does for a bucket one owns (rclone
    // creates the bucket before its first upload and accepts this).
    let r = alice.request("PUT", "/data", &[], None);
    assert_s3_error(&r, 409, "BucketAlreadyOwnedByYou");
    // The bucket is still there.
    assert_stored(&env.bucket, "users/alice/a.txt", b"a");
}

#[test]
fn virtual_host_addressing() {
    let env = Env::start("s3-vhost");
    env.seed("users/alice/a.txt", b"via vhost");
    env.seed("photos/p.jpg", b"photo");
    let port = env.port();
    let data = env.alice().with_host(&format!("data.s3.localhost:{port}"));
    let photos = env
        .alice()
        .with_host(&format!("photos.s3.localhost:{port}"));

    let r = data.get("/users/alice/a.txt");
    r.assert_status(200);
    assert_eq!(r.body, b"via vhost");

    data.put("/users/alice/vh.txt", b"put via vhost")
        .assert_status(200);
    assert_stored(&env.bucket, "users/alice/vh.txt", b"put via vhost");

    let r = data.get(&format!(
        "/?{}",
        query(&[("list-type", "2"), ("prefix", "users/alice/")])
    ));
    r.assert_status(200);
    assert_eq!(
        content_keys(&r.text()),
        strs(&["users/alice/a.txt", "users/alice/vh.txt"]),
        "{}",
        r.text()
    );

    let r = photos.get("/p.jpg");
    r.assert_status(200);
    assert_eq!(r.body, b"photo");
    photos.head("/").assert_status(200);

    let url = data.presign("GET", "/users/alice/a.txt", 60, SystemTime::now());
    let r = data.send_presigned("GET", &url, None);
    r.assert_status(200);
    assert_eq!(r.body, b"via vhost");

    // Grants still apply.
    let r = data.put("/users/bob/x.txt", b"x");
    assert_s3_error(&r, 403, "AccessDenied");
    assert_not_stored(&env.bucket, "users/bob/x.txt");

    let nope = env.alice().with_host(&format!("nope.s3.localhost:{port}"));
    let r = nope.get("/users/alice/a.txt");
    assert_s3_error(&r, 404, "NoSuchBucket");
}

// ---------------------------------------------------------------------------------------------
// What reaches the upstream
// ---------------------------------------------------------------------------------------------

#[test]
fn client_credentials_never_reach_the_upstream() {
    let rec = Recorder::start();
    let yaml = s3_config("updata", "upvault").replace("{upstream}", &rec.endpoint());
    let gw = Gateway::start(&yaml);
    let alice = S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET);
    let mut client_signatures = Vec::new();
    let signature_of = |headers: &[(String, String)]| {
        headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .and_then(|(_, v)| v.rsplit("Signature=").next())
            .expect("a signature")
            .to_owned()
    };

    let path = obj("data", "users/alice/k.txt");
    let h = alice.signed_headers(
        "GET",
        &path,
        &[("cookie", "session=client-cookie")],
        &sha256_hex(b""),
    );
    client_signatures.push(signature_of(&h));
    alice.send("GET", &path, &h, None).assert_status(200);

    let h = alice.signed_headers(
        "PUT",
        &path,
        &[("x-amz-meta-color", "blue")],
        &sha256_hex(b"body"),
    );
    client_signatures.push(signature_of(&h));
    alice
        .send("PUT", &path, &h, Some(b"body"))
        .assert_status(200);

    let url = alice.presign("GET", &path, 60, SystemTime::now());
    client_signatures.push(url.rsplit("X-Amz-Signature=").next().unwrap().to_owned());
    alice.send_presigned("GET", &url, None).assert_status(200);

    let seen = rec.wait_for_requests(3, Duration::from_secs(5));
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let up = Upstream::get();
    for req in &seen {
        assert!(
            req.target.starts_with("/updata/users/alice/k.txt"),
            "{req:#?}"
        );
        for forbidden in [
            ALICE_ID,
            ALICE_SECRET,
            "X-Amz-Signature",
            "X-Amz-Credential",
        ] {
            assert!(
                !req.target.contains(forbidden),
                "{forbidden} in the target: {req:#?}"
            );
        }
        for (name, value) in &req.headers {
            for secret in client_signatures.iter().map(String::as_str).chain([
                ALICE_ID,
                ALICE_SECRET,
                "client-cookie",
            ]) {
                assert!(
                    !value.contains(secret),
                    "header {name} carries client credentials ({secret}): {req:#?}"
                );
            }
        }
        let auth = req
            .header("authorization")
            .expect("bucketgate signs upstream requests");
        assert!(
            auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={}/", up.access_key())),
            "not signed with the upstream key: {auth}"
        );
        assert!(!req.has_header("cookie"), "{req:#?}");
    }
    // Positive controls: the recorder saw what it should.
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].body, b"body");
    assert_eq!(seen[1].header("x-amz-meta-color"), Some("blue"));
}

// ---------------------------------------------------------------------------------------------
// The test client itself
// ---------------------------------------------------------------------------------------------

#[test]
fn test_helpers_match_reference_vectors() {
    // RFC 1321 appendix A.5.
    for (input, want) in [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        (
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ] {
        assert_eq!(hex::encode(md5(input.as_bytes())), want, "md5({input:?})");
    }
    // CRC32 of "123456789" is 0xCBF43926.
    assert_eq!(crc32_base64(b"123456789"), "y/Q5Jg==");
    // AWS's documented streaming example: the seed signature for the example request is
    // 4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9 and the first chunk's
    // signature (65536 'a' bytes) is ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648.
    let c = S3Client {
        addr: "s3.amazonaws.com".into(),
        host: "s3.amazonaws.com".into(),
        access_key: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        region: "us-east-1".into(),
        time: None,
        unsigned_payload: false,
    };
    let key = c.signing_key("20130524");
    let sts = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\n{}\n{}",
        common::s3::EMPTY_SHA256,
        sha256_hex(&[b'a'; 65536])
    );
    assert_eq!(
        hex::encode(common::s3::hmac(&key, sts.as_bytes())),
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    );
    // AWS's documented presigned URL example (GET /test.txt, 86400 s, 20130524T000000Z).
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    let url = c
        .with_host("examplebucket.s3.amazonaws.com")
        .presign("GET", "/test.txt", 86400, t);
    assert!(
        url.ends_with(
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        ),
        "{url}"
    );
}
