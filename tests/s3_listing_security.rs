//! Listings and answers of the `s3` frontend reveal nothing outside the caller's grants, and
//! say what S3 would (issue 17, items 4, 15 and 16). The real bucketgate binary in front of a
//! real S3 server (s3s-fs in-process, or Ceph RGW with `BUCKETGATE_TEST_UPSTREAM=rgw`).
//!
//! The shape of the attack: `alice` may read and list `photos/` only, on the plain bucket
//! name (`data`), in a bucket that also holds `users/bob/secret-*` and other keys she may not
//! see. With `max-keys=1`, her own `start-after`, and the `KeyCount`, `IsTruncated` and tokens
//! of the answers, she used to binary-search the hidden names.

mod common;

use std::process::Command;
use std::time::SystemTime;

use common::client::Response;
use common::gateway::{preamble_for_upstream, Gateway, PREAMBLE};
use common::recorder::Recorder;
use common::s3::{assert_s3_error, common_prefixes, content_keys, xml_value, S3Client};
use common::script::have_tool;
use common::upstream::{Upstream, UpstreamKind};
use common::{encode_query_pairs, fresh_bucket};

const ALICE_ID: &str = "AKIAALICELIST01";
const ALICE_SECRET: &str = "alicelistsecret1";
const BOB_ID: &str = "AKIABOBLIST0001";
const BOB_SECRET: &str = "boblistsecret001";

/// Keys alice may list (read and list on `photos/`).
const VISIBLE: &[&str] = &["photos/1.jpg", "photos/2.jpg", "photos/3.jpg"];

/// The gateway over `bucket`: `data` is the bucket, `photos` its `photos/` prefix.
fn config(bucket: &str) -> String {
    format!(
        "{preamble}access_keys:
  static:
    - access_key_id: {ALICE_ID}
      secret_access_key: {ALICE_SECRET}
      subject: alice
      grants:
        - {{bucket: \"{bucket}\", prefix: \"photos/\", operations: [read, list, write]}}
    - access_key_id: {BOB_ID}
      secret_access_key: {BOB_SECRET}
      subject: bob
      grants:
        - {{bucket: \"{bucket}\", prefix: \"\", operations: [read, list]}}
routes:
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: s3
    buckets:
      - name: data
        bucket: \"{bucket}\"
      - name: photos
        bucket: \"{bucket}\"
        key_prefix: photos/
",
        preamble = preamble_for_upstream(),
    )
}

/// A fresh upstream bucket holding the visible keys and `hidden`, and a gateway over it.
fn bucket_with(name: &str, hidden: &[&str]) -> (Gateway, String) {
    let bucket = fresh_bucket(name);
    for key in VISIBLE.iter().chain(hidden) {
        Upstream::get().put_object(&bucket, key, b"same bytes everywhere", &[]);
    }
    (Gateway::start(&config(&bucket)), bucket)
}

fn alice(gw: &Gateway) -> S3Client {
    S3Client::new(gw.addr(), ALICE_ID, ALICE_SECRET)
}

fn bob(gw: &Gateway) -> S3Client {
    S3Client::new(gw.addr(), BOB_ID, BOB_SECRET)
}

/// `name=value&...`, each part encoded.
fn query(params: &[(&str, &str)]) -> String {
    encode_query_pairs(params).join("&")
}

/// `<tag>...</tag>` texts replaced by `<tag>*</tag>`, or by their length when `keep_len`.
fn blank_out(text: &str, tag: &str, keep_len: bool) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push_str(&rest[..i + open.len()]);
        if keep_len {
            out.push_str(&format!("[{} bytes]", after[..j].len()));
        } else {
            out.push('*');
        }
        rest = &after[j..];
    }
    out.push_str(rest);
    out
}

/// What a response says about the bucket's keys: its status and body, without what differs
/// between any two requests (request ids, dates, the random nonces of sealed tokens, whose
/// lengths are kept).
fn normalized(r: &Response) -> String {
    let mut text = r.text();
    for tag in ["RequestId", "HostId", "LastModified"] {
        text = blank_out(&text, tag, false);
    }
    for tag in [
        "NextContinuationToken",
        "ContinuationToken",
        "NextMarker",
        "Marker",
    ] {
        text = blank_out(&text, tag, true);
    }
    format!("{} {text}", r.status)
}

/// Every page (at most `pages`) of a listing of `data` by `c` starting with `params`, each
/// normalized.
fn pages(c: &S3Client, version: u8, params: &[(&str, &str)], pages: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..pages {
        let mut q: Vec<(&str, &str)> = params.to_vec();
        if version == 2 {
            q.push(("list-type", "2"));
        }
        if let Some(t) = &next {
            q.retain(|(k, _)| *k != "start-after" && *k != "marker");
            q.push((
                if version == 2 {
                    "continuation-token"
                } else {
                    "marker"
                },
                t,
            ));
        }
        let r = c.get(&format!("/data?{}", query(&q)));
        out.push(normalized(&r));
        let text = r.text();
        next = match version {
            2 => xml_value(&text, "NextContinuationToken"),
            _ => xml_value(&text, "NextMarker"),
        };
        if r.status != 200 || next.is_none() {
            break;
        }
    }
    out
}

/// Positions alice might try: before, between, inside and after her range, and around the
/// hidden names of both buckets.
const PROBES: &[&str] = &[
    "",
    "a",
    "aaa-secret",
    "photos",
    "photos.",
    "photos/",
    "photos/1.jpg",
    "photos/3.jpg",
    "photos/zzz",
    "photos0",
    "q",
    "users/",
    "users/bob/",
    "users/bob/secret-a",
    "users/bob/secret-m",
    "users/bob/secret-z",
    "zzz",
];

/// Item 4b: the binary search of the issue. Two buckets differ only in keys alice may not
/// see, placed differently around hers; whatever she asks, with `max-keys=1`, her own
/// `start-after` or `marker`, with or without a delimiter, following every token, she gets the
/// same answers from both. (The old gateway listed the whole bucket and showed the upstream's
/// `IsTruncated` and tokens: `start-after=` alone already differed.)
#[test]
fn a_binary_search_over_hidden_keys_learns_nothing() {
    let (gw_a, _a) = bucket_with(
        "lsec-a",
        &[
            "aaa-secret",
            "photos.bak",
            "photos0-old",
            "users/bob/secret-alpha",
            "users/bob/secret-beta",
        ],
    );
    let (gw_b, _b) = bucket_with(
        "lsec-b",
        &[
            "q-middle",
            "users/bob/secret-xray",
            "users/bob/secret-yankee",
            "users/bob/secret-zulu",
            "zzz-last",
        ],
    );
    let (alice_a, alice_b) = (alice(&gw_a), alice(&gw_b));
    let mut compared = 0;
    for probe in PROBES {
        for (version, start) in [(2, "start-after"), (1, "marker")] {
            for delimiter in [None, Some("/")] {
                let mut params = vec![("max-keys", "1")];
                if !probe.is_empty() {
                    params.push((start, probe));
                }
                if let Some(d) = delimiter {
                    params.push(("delimiter", d));
                }
                let seen_a = pages(&alice_a, version, &params, 8);
                let seen_b = pages(&alice_b, version, &params, 8);
                assert_eq!(
                    seen_a, seen_b,
                    "V{version} {params:?}: the answers depend on keys alice may not list"
                );
                for page in &seen_a {
                    assert!(page.starts_with("200 "), "V{version} {params:?}: {page}");
                    // The echo of her own probe aside, no hidden name shows.
                    let page = blank_out(page, "StartAfter", false);
                    for hidden in [
                        "secret", "aaa", "zzz-last", "q-middle", "users", ".bak", "0-old",
                    ] {
                        assert!(!page.contains(hidden), "{hidden} in {page}");
                    }
                }
                compared += seen_a.len();
            }
        }
    }
    assert!(compared > 60, "only {compared} pages compared");

    // And the answers are right: everything after the probe that alice may list, one key
    // per page, the last page not truncated.
    let r = alice_a.get(&format!(
        "/data?{}",
        query(&[
            ("list-type", "2"),
            ("max-keys", "1"),
            ("start-after", "photos/1.jpg")
        ])
    ));
    r.assert_status(200);
    assert_eq!(content_keys(&r.text()), ["photos/2.jpg"]);
    assert_eq!(xml_value(&r.text(), "KeyCount").as_deref(), Some("1"));
    assert_eq!(xml_value(&r.text(), "IsTruncated").as_deref(), Some("true"));
    for after in ["photos/3.jpg", "users/bob/secret-a", "zzz"] {
        let r = alice_a.get(&format!(
            "/data?{}",
            query(&[
                ("list-type", "2"),
                ("max-keys", "1"),
                ("start-after", after)
            ])
        ));
        r.assert_status(200);
        let text = r.text();
        assert!(content_keys(&text).is_empty(), "{after}: {text}");
        assert_eq!(xml_value(&text, "KeyCount").as_deref(), Some("0"), "{text}");
        assert_eq!(
            xml_value(&text, "IsTruncated").as_deref(),
            Some("false"),
            "{text}"
        );
        assert_eq!(xml_value(&text, "NextContinuationToken"), None, "{text}");
    }
    // With a delimiter at the root, only the way to her own keys.
    let r = alice_a.get("/data?list-type=2&delimiter=%2F");
    r.assert_status(200);
    assert_eq!(common_prefixes(&r.text()), ["photos/"]);
    assert!(content_keys(&r.text()).is_empty());
}

/// Item 4a: a bare `prefix` is the empty prefix, and a listing of an alias is a listing of its
/// key prefix: the first key is alice's first photo, not a hidden key that sorts before it.
#[test]
fn a_bare_prefix_lists_under_the_alias_key_prefix() {
    let (gw, _bucket) = bucket_with("lsec-bare", &["aaa-secret", "photo", "photos.bak"]);
    let alice = alice(&gw);
    let r = alice.get("/photos?list-type=2&prefix&max-keys=1");
    r.assert_status(200);
    let text = r.text();
    assert_eq!(content_keys(&text), ["1.jpg"], "{text}");
    assert_eq!(xml_value(&text, "KeyCount").as_deref(), Some("1"));
    assert_eq!(xml_value(&text, "IsTruncated").as_deref(), Some("true"));
    assert_eq!(xml_value(&text, "Prefix").as_deref(), Some(""));
    let token = xml_value(&text, "NextContinuationToken").expect("a token");
    let r = alice.get(&format!(
        "/photos?{}",
        query(&[
            ("list-type", "2"),
            ("prefix", ""),
            ("max-keys", "5"),
            ("continuation-token", &token)
        ])
    ));
    r.assert_status(200);
    assert_eq!(content_keys(&r.text()), ["2.jpg", "3.jpg"]);
    assert_eq!(
        xml_value(&r.text(), "IsTruncated").as_deref(),
        Some("false")
    );

    let r = alice.get("/photos?prefix&max-keys=1");
    r.assert_status(200);
    assert_eq!(content_keys(&r.text()), ["1.jpg"], "{}", r.text());
    assert_eq!(xml_value(&r.text(), "IsTruncated").as_deref(), Some("true"));
}

/// Item 4b: pagination state is the gateway's. A V2 token must be one it issued, for this
/// caller and this listing; a plain key or someone else's token is refused.
#[test]
fn only_tokens_the_gateway_issued_continue_a_listing() {
    let (gw, _bucket) = bucket_with("lsec-tokens", &["users/bob/secret-1"]);
    let alice = alice(&gw);
    let list = |c: &S3Client, params: &[(&str, &str)]| c.get(&format!("/data?{}", query(params)));
    for token in [
        "photos/1.jpg",
        "users/bob/secret-0",
        "bgm1.AAAAAAAA",
        "bgm1.",
    ] {
        let r = list(&alice, &[("list-type", "2"), ("continuation-token", token)]);
        assert_s3_error(&r, 400, "InvalidArgument");
    }
    // A token of alice's listing of the root: fine there, refused for another prefix.
    let r = list(&alice, &[("list-type", "2"), ("max-keys", "1")]);
    let token = xml_value(&r.text(), "NextContinuationToken").expect("a token");
    assert!(!token.contains("photos"), "{token}");
    let r = list(
        &alice,
        &[
            ("list-type", "2"),
            ("max-keys", "1"),
            ("continuation-token", &token),
        ],
    );
    r.assert_status(200);
    assert_eq!(content_keys(&r.text()), ["photos/2.jpg"]);
    let r = list(
        &alice,
        &[
            ("list-type", "2"),
            ("prefix", "photos/"),
            ("continuation-token", &token),
        ],
    );
    assert_s3_error(&r, 400, "InvalidArgument");
    // Bob's token (he may list everything) opens nothing for alice, nor alice's for bob.
    let r = list(&bob(&gw), &[("list-type", "2"), ("max-keys", "1")]);
    let bobs = xml_value(&r.text(), "NextContinuationToken").expect("a token");
    let r = list(
        &alice,
        &[
            ("list-type", "2"),
            ("max-keys", "1"),
            ("continuation-token", &bobs),
        ],
    );
    assert_s3_error(&r, 400, "InvalidArgument");
    let r = list(
        &bob(&gw),
        &[
            ("list-type", "2"),
            ("max-keys", "1"),
            ("continuation-token", &token),
        ],
    );
    assert_s3_error(&r, 400, "InvalidArgument");
    // A sealed V1 marker from elsewhere is refused the same way.
    let r = list(&alice, &[("marker", &bobs)]);
    assert_s3_error(&r, 400, "InvalidArgument");
}

/// Item 4c: a parameter given twice is a client error, whichever parameter it is: the grant
/// check and the upstream never read different values.
#[test]
fn duplicate_parameters_are_invalid_arguments() {
    let (gw, _bucket) = bucket_with("lsec-dup", &["users/bob/secret-1"]);
    let alice = alice(&gw);
    for path in [
        "/data?list-type=2&prefix=photos%2F&prefix=users%2Fbob%2F",
        "/data?list-type=2&prefix=users%2Fbob%2F&prefix=photos%2F",
        "/data?prefix&prefix=",
        "/data?prefix=photos%2F&pre%66ix=users%2F",
        "/photos?list-type=2&list-type=2",
        "/photos/1.jpg?partNumber=1&partNumber=2",
    ] {
        let r = alice.get(path);
        assert_s3_error(&r, 400, "InvalidArgument");
        assert!(!r.text().contains("secret"), "{path}: {}", r.text());
    }
}

/// Item 15: the fields that echo the request show the client's own values; only the `Next*`
/// fields are the gateway's sealed tokens.
#[test]
fn listing_echoes_are_the_clients_own_values() {
    let (gw, _bucket) = bucket_with("lsec-echo", &["users/bob/secret-1"]);
    let alice = alice(&gw);
    let r = alice.get("/data?marker=blah&max-keys=1");
    r.assert_status(200);
    let text = r.text();
    assert_eq!(
        xml_value(&text, "Marker").as_deref(),
        Some("blah"),
        "{text}"
    );
    assert!(
        xml_value(&text, "NextMarker").is_some_and(|m| m.starts_with("bgm1.")),
        "{text}"
    );
    let r = alice.get("/photos?marker=1.jpg");
    assert_eq!(xml_value(&r.text(), "Marker").as_deref(), Some("1.jpg"));
    assert_eq!(content_keys(&r.text()), ["2.jpg", "3.jpg"]);

    let r = alice.get("/data?list-type=2&max-keys=1&start-after=photos%2F1.jpg");
    let text = r.text();
    assert_eq!(
        xml_value(&text, "StartAfter").as_deref(),
        Some("photos/1.jpg")
    );
    let token = xml_value(&text, "NextContinuationToken").expect("a token");
    let r = alice.get(&format!(
        "/data?{}",
        query(&[
            ("list-type", "2"),
            ("max-keys", "1"),
            ("continuation-token", &token)
        ])
    ));
    let text = r.text();
    assert_eq!(
        xml_value(&text, "ContinuationToken").as_deref(),
        Some(token.as_str()),
        "{text}"
    );
    assert_ne!(xml_value(&text, "NextContinuationToken"), Some(token));
    // URL-encoded listings encode the echoes like the keys.
    let r = alice.get("/photos?list-type=2&encoding-type=url&start-after=a%20b&prefix=");
    r.assert_status(200);
    assert_eq!(
        xml_value(&r.text(), "StartAfter").as_deref(),
        Some("a%20b"),
        "{}",
        r.text()
    );

    if Upstream::get().kind() == UpstreamKind::Rgw {
        // ListMultipartUploads (s3s-fs does not implement it).
        let r = alice.request("POST", "/photos/up.bin?uploads", &[], None);
        r.assert_status(200);
        let r = alice.get("/photos?uploads&key-marker=0&upload-id-marker=abc");
        r.assert_status(200);
        let text = r.text();
        assert_eq!(
            xml_value(&text, "KeyMarker").as_deref(),
            Some("0"),
            "{text}"
        );
        assert_eq!(
            xml_value(&text, "UploadIdMarker").as_deref(),
            Some("abc"),
            "{text}"
        );
        let r = alice.get("/data?uploads&max-uploads=1");
        r.assert_status(200);
        assert!(!r.text().contains("secret"), "{}", r.text());
    }
}

/// Item 16: an `OPTIONS` (a CORS preflight, on a route without CORS) is not a signed request:
/// without `Origin` it is a `400`, as S3 and RGW answer, whatever URL it carries; with one, no
/// CORS rule allows it (`403`). Neither is a signature failure.
#[test]
fn options_on_a_presigned_url_is_answered_like_s3() {
    let (gw, _bucket) = bucket_with("lsec-options", &[]);
    let alice = alice(&gw);
    let url = alice.presign("GET", "/photos/1.jpg", 300, SystemTime::now());
    alice.send_presigned("GET", &url, None).assert_status(200);
    let host = ("Host".to_owned(), gw.addr().to_owned());
    let r = alice.send("OPTIONS", &url, std::slice::from_ref(&host), None);
    assert_s3_error(&r, 400, "BadRequest");
    let r = alice.send(
        "OPTIONS",
        "/photos/1.jpg",
        std::slice::from_ref(&host),
        None,
    );
    assert_s3_error(&r, 400, "BadRequest");
    let origin = ("Origin".to_owned(), "https://elsewhere.example".to_owned());
    let r = alice.send("OPTIONS", &url, &[host, origin], None);
    assert_s3_error(&r, 403, "AccessForbidden");
}

/// A gateway whose only upstream is `rec`, with alice reading and listing its bucket.
fn gateway_on(rec: &Recorder) -> Gateway {
    let yaml = format!(
        "{PREAMBLE}access_keys:
  static:
    - access_key_id: {ALICE_ID}
      secret_access_key: {ALICE_SECRET}
      subject: alice
      grants:
        - {{bucket: upstream-b, prefix: \"\", operations: [read, list]}}
routes:
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: s3
    buckets:
      - name: data
        bucket: upstream-b
"
    );
    Gateway::start(&yaml.replace("{upstream}", &rec.endpoint()))
}

/// Item 16: an upstream `500` stays a `500` with its S3 code, as S3 itself answers (and SDKs
/// retry), in a body of the gateway's own: the upstream's message does not leak. Statuses S3
/// never sends stay `502`.
#[test]
fn an_upstream_500_keeps_its_status_and_code() {
    let body = b"<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>osd.3 at /var/lib/ceph failed</Message><RequestId>UPSTREAM-REQ</RequestId></Error>";
    let rec = Recorder::start_with_response(500, &[("content-type", "application/xml")], body);
    let gw = gateway_on(&rec);
    let client = alice(&gw);
    for r in [client.get("/data/k.txt"), client.get("/data?list-type=2")] {
        assert_s3_error(&r, 500, "InternalError");
        for leak in ["/var/lib", "osd.3", "UPSTREAM-REQ"] {
            assert!(!r.text().contains(leak), "{leak}: {}", r.text());
        }
        assert!(r.header("x-amz-request-id").is_some());
    }
    assert_eq!(client.head("/data/k.txt").status, 500);

    let rec = Recorder::start_with_response(502, &[], b"bad gateway");
    let gw = gateway_on(&rec);
    assert_s3_error(&alice(&gw).get("/data/k.txt"), 502, "InternalError");
}

/// Real clients page through listings whose pages end at grant boundaries: a page may be short,
/// granted prefixes may hold no keys (such a range never gives an empty truncated page, which
/// s3cmd would take for the end), and every client lists exactly what the caller may list. awscli (V2 and V1 with one key per page, and `s3 ls`),
/// s3cmd (V1) and rclone (V1/V2, recursive and by directory).
#[test]
fn real_clients_page_through_grant_boundaries() {
    let tools = ["aws", "s3cmd", "rclone"];
    if !tools
        .iter()
        .all(|t| have_tool(t, "pip install awscli; apt-get install s3cmd rclone"))
    {
        return;
    }
    let bucket = fresh_bucket("lsec-clients");
    let visible = [
        "empty.txt",
        "photos/1.jpg",
        "photos/2024/a.jpg",
        "users/carol/c1.txt",
        "users/carol/sub/c2.txt",
    ];
    let hidden = [
        "aaa",
        "photos.bak",
        "users/bob/secret-1",
        "users/carl.txt",
        "zzz",
    ];
    for key in visible.iter().chain(&hidden) {
        Upstream::get().put_object(&bucket, key, b"x", &[]);
    }
    let yaml = format!(
        "{preamble}access_keys:
  static:
    - access_key_id: {ALICE_ID}
      secret_access_key: {ALICE_SECRET}
      subject: carol
      grants:
        - {{bucket: \"{bucket}\", prefix: \"empty.txt\", operations: [read, list]}}
        - {{bucket: \"{bucket}\", prefix: \"nothing-here/\", operations: [read, list]}}
        - {{bucket: \"{bucket}\", prefix: \"photos/\", operations: [read, list]}}
        - {{bucket: \"{bucket}\", prefix: \"users/carol/\", operations: [read, list]}}
        - {{bucket: \"{bucket}\", prefix: \"users/dave/\", operations: [read, list]}}
routes:
  - name: s3
    frontend: s3
    path_prefix: /
    upstream: s3
    buckets:
      - name: data
        bucket: \"{bucket}\"
",
        preamble = preamble_for_upstream(),
    );
    let gw = Gateway::start(&yaml);
    let endpoint = gw.url("");
    let endpoint = endpoint.trim_end_matches('/');
    let hostport = endpoint.trim_start_matches("http://");
    let run = |program: &str, args: &[&str]| -> String {
        let mut cmd = Command::new(program);
        for (name, _) in std::env::vars() {
            if ["AWS_", "RCLONE_", "S3CMD_"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                cmd.env_remove(name);
            }
        }
        let work = tempfile::tempdir().unwrap();
        cmd.args(args)
            .env("AWS_ACCESS_KEY_ID", ALICE_ID)
            .env("AWS_SECRET_ACCESS_KEY", ALICE_SECRET)
            .env("AWS_CONFIG_FILE", work.path().join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", work.path().join("none"))
            .env("RCLONE_CONFIG", work.path().join("rclone.conf"))
            .env("RCLONE_CONFIG_BG_TYPE", "s3")
            .env("RCLONE_CONFIG_BG_PROVIDER", "Other")
            .env("RCLONE_CONFIG_BG_ENDPOINT", endpoint)
            .env("RCLONE_CONFIG_BG_REGION", "us-east-1")
            .env("RCLONE_CONFIG_BG_ACCESS_KEY_ID", ALICE_ID)
            .env("RCLONE_CONFIG_BG_SECRET_ACCESS_KEY", ALICE_SECRET)
            .env("RCLONE_CONFIG_BG_FORCE_PATH_STYLE", "true");
        let out = cmd.output().unwrap_or_else(|e| panic!("{program}: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}\n{stdout}\n{}\n--- gateway log ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            gw.log()
        );
        stdout
    };
    let aws = |args: &[&str]| {
        let mut all = vec!["--endpoint-url", endpoint, "--region", "us-east-1"];
        all.extend_from_slice(args);
        run("aws", &all)
    };
    let json_keys = |out: &str| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let want: Vec<String> = visible.iter().map(|k| k.to_string()).collect();
    for op in ["list-objects-v2", "list-objects"] {
        let out = aws(&[
            "s3api",
            op,
            "--bucket",
            "data",
            "--page-size",
            "1",
            "--query",
            "Contents[].Key",
            "--output",
            "json",
        ]);
        assert_eq!(json_keys(&out), want, "aws s3api {op}");
    }
    let out = aws(&["s3", "ls", "s3://data/"]);
    let dirs: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("PRE "))
        .collect();
    assert_eq!(dirs, ["PRE photos/", "PRE users/"], "{out}");
    assert!(out.contains("empty.txt"), "{out}");
    let out = aws(&["s3", "ls", "--recursive", "--page-size", "2", "s3://data/"]);
    let keys: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    assert_eq!(keys, visible, "{out}");

    let out = run(
        "s3cmd",
        &[
            "-c",
            "/dev/null",
            &format!("--host={hostport}"),
            &format!("--host-bucket={hostport}"),
            "--no-ssl",
            &format!("--access_key={ALICE_ID}"),
            &format!("--secret_key={ALICE_SECRET}"),
            "ls",
            "-r",
            "s3://data/",
        ],
    );
    let keys: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().last()?.strip_prefix("s3://data/"))
        .collect();
    assert_eq!(keys, visible, "{out}");

    let out = run("rclone", &["lsf", "-R", "--files-only", "bg:data"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), visible, "{out}");
    let out = run("rclone", &["lsf", "bg:data"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["empty.txt", "photos/", "users/"],
        "{out}"
    );
    for text in [&out, &gw.log()] {
        assert!(
            !text.contains("secret-1") && !text.contains("carl"),
            "{text}"
        );
    }
}
