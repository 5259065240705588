//! The per-request work before anything goes upstream: route matching, object-key decoding and
//! checking, and the `files` frontend's plan.
//!
//! Every request pays these once (keys are checked twice: decoded, then again after rewrites
//! and the key prefix), so they bound the proxy's per-request CPU floor together with SigV4
//! signing (`sigv4` bench). Measured:
//!
//! - `route/find/*`: [`RouteTable::find`] over a 21-route table with exact, wildcard and no
//!   hosts and nested prefixes (a linear scan today; this shows when that would matter), for a
//!   request hitting a host-bound route, a wildcard host, a nested prefix, and the `/`
//!   fallback.
//! - `key/decode/*` and `key/check/*`: [`decode_key`] (which percent-decodes once and then runs
//!   `check_key`) on the raw path remainder, and [`check_key`] alone on the decoded key (what a
//!   rewrite result or the full upstream key costs), for a plain key, a key with encoded
//!   unicode and spaces, a ~1000-byte key, and a refused double-encoded `..`.
//! - `plan/*`: [`files::plan`] on a matched route (method check, decode, rewrite rule, both
//!   key checks, query filter, PUT length checks).
//! - `request/find_plan`: what `Proxy::plan` does for a whole request, from the raw target:
//!   split off the query, [`RouteTable::find`], then [`files::plan`].

use std::hint::black_box;

use bucketgate::config::model::Route;
use bucketgate::frontend::files::{self, ClientRequest};
use bucketgate::gateway::route_table::RouteTable;
use bucketgate::s3::encode_key_path;
use bucketgate::s3::key::{check_key, decode_key, KeyError};
use criterion::{criterion_group, criterion_main, Criterion};

/// 21 routes: a catch-all, nested prefixes, exact and wildcard hosts, a rewrite rule.
const ROUTES: &str = r#"
- {path_prefix: /, upstream: u, bucket: www}
- {path_prefix: /files, upstream: u, bucket: files}
- {path_prefix: /files/public, host: files.example.com, upstream: u, bucket: files, key_prefix: public/}
- {path_prefix: /users, host: files.example.com, upstream: u, bucket: files, key_prefix: users/}
- {path_prefix: /genomes, host: igv.example.com, upstream: u, bucket: genomics, key_prefix: cohort-7/,
   methods: [GET, HEAD, PUT], rewrite: [{match: '\.bam\.bai$', replace: '.bai'}]}
- {path_prefix: /genomes/reference, upstream: u, bucket: genomics, key_prefix: ref/}
- {path_prefix: /media, host: '*.cdn.example.com', upstream: u, bucket: media}
- {path_prefix: /media, upstream: u, bucket: media-origin}
- {path_prefix: /static, upstream: u, bucket: static}
- {path_prefix: /static/v2, upstream: u, bucket: static, key_prefix: v2/}
- {path_prefix: /uploads, host: upload.example.com, upstream: u, bucket: uploads, methods: [PUT]}
- {path_prefix: /backups, host: backup.internal, upstream: u, bucket: backups}
- {path_prefix: /teams/alpha, upstream: u, bucket: teams, key_prefix: alpha/}
- {path_prefix: /teams/beta, upstream: u, bucket: teams, key_prefix: beta/}
- {path_prefix: /teams/gamma, upstream: u, bucket: teams, key_prefix: gamma/}
- {path_prefix: /teams/delta, upstream: u, bucket: teams, key_prefix: delta/}
- {path_prefix: /datasets, host: data.example.org, upstream: u, bucket: datasets}
- {path_prefix: /datasets/public, upstream: u, bucket: datasets, key_prefix: public/}
- {path_prefix: /archive, host: '*.archive.example.org', upstream: u, bucket: archive}
- {path_prefix: /reports, upstream: u, bucket: reports}
- {path_prefix: /health-objects, upstream: u, bucket: health}
"#;

fn routes() -> Vec<Route> {
    let routes: Vec<Route> = serde_yaml::from_str(ROUTES).unwrap();
    assert_eq!(routes.len(), 21);
    routes
}

fn bench_find(c: &mut Criterion) {
    let table = RouteTable::new(&routes());
    // (name, host, path, expected route index)
    let lookups = [
        (
            "exact_host",
            "igv.example.com:443",
            "/genomes/sample.bam",
            4,
        ),
        (
            "wildcard_host",
            "img.cdn.example.com",
            "/media/2024/cat.jpg",
            6,
        ),
        (
            "nested_prefix",
            "files.example.com",
            "/files/public/docs/a.pdf",
            2,
        ),
        ("fallback_root", "www.example.com", "/index.html", 0),
    ];
    let mut group = c.benchmark_group("route/find");
    for (name, host, path, want) in lookups {
        assert_eq!(table.find(host, path).map(|(i, _)| i), Some(want), "{name}");
        group.bench_function(name, |b| {
            b.iter(|| table.find(black_box(host), black_box(path)))
        });
    }
    group.finish();
}

fn bench_keys(c: &mut Criterion) {
    let long_decoded: String = (0..40)
        .map(|i| format!("segment {i:02} of a long key/"))
        .collect::<String>()
        + "end.bin";
    assert!(long_decoded.len() > 900 && long_decoded.len() <= 1024);
    // (name, raw path remainder as a client sends it, expected result)
    let keys: Vec<(&str, String, Result<(), KeyError>)> = vec![
        (
            "plain",
            "cohort-7/users/alice/sample.bam".to_owned(),
            Ok(()),
        ),
        (
            "unicode",
            encode_key_path("données/Zürich/日本語のファイル (v2) ☃.txt"),
            Ok(()),
        ),
        ("long", encode_key_path(&long_decoded), Ok(())),
        (
            "double_encoded_dots",
            "a/%252e%252e/etc/passwd".to_owned(),
            Err(KeyError::DotSegment),
        ),
    ];

    let mut group = c.benchmark_group("key/decode");
    for (name, raw, want) in &keys {
        assert_eq!(decode_key(raw, false).map(|_| ()), *want, "{name}");
        group.bench_function(*name, |b| b.iter(|| decode_key(black_box(raw), false)));
    }
    group.finish();

    let mut group = c.benchmark_group("key/check");
    for (name, raw, _) in &keys {
        // The decoded key (for the refused one, its single decoding `a/%2e%2e/etc/passwd`).
        let decoded = match decode_key(raw, false) {
            Ok(key) => key,
            Err(_) => raw.replace("%25", "%"),
        };
        group.bench_function(*name, |b| b.iter(|| check_key(black_box(&decoded))));
    }
    group.finish();
}

fn bench_plan(c: &mut Criterion) {
    let routes = routes();
    let genomes = &routes[4];
    let get = ClientRequest {
        method: "GET",
        rest: b"users/alice/reads%20v2/sample.bam.bai?response-content-type=application%2Foctet-stream&acl",
        content_length: None,
        chunked: false,
    };
    let put = ClientRequest {
        method: "PUT",
        rest: b"users/alice/uploads/report%20(final).pdf",
        content_length: Some("1048576"),
        chunked: false,
    };
    let planned = files::plan(genomes, &get).unwrap();
    assert_eq!(planned.key, "cohort-7/users/alice/reads v2/sample.bai");
    assert_eq!(
        planned.query,
        "response-content-type=application%2Foctet-stream"
    );
    assert!(files::plan(genomes, &put).is_ok());

    let mut group = c.benchmark_group("plan");
    group.bench_function("get_rewrite_query", |b| {
        b.iter(|| files::plan(genomes, black_box(&get)))
    });
    group.bench_function("put", |b| b.iter(|| files::plan(genomes, black_box(&put))));
    group.finish();

    // A whole request, as `Proxy::plan` handles it: raw target -> route -> object request.
    let table = RouteTable::new(&routes);
    let host = "igv.example.com";
    let raw: &[u8] = b"/genomes/users/alice/reads%20v2/sample.bam.bai?response-content-type=application%2Foctet-stream";
    let whole = |raw: &[u8]| {
        let path_end = raw.iter().position(|&b| b == b'?').unwrap_or(raw.len());
        let path = std::str::from_utf8(&raw[..path_end]).ok()?;
        let (index, rest) = table.find(host, path)?;
        let client = ClientRequest {
            method: "GET",
            rest: &raw[path.len() - rest.len()..],
            content_length: None,
            chunked: false,
        };
        files::plan(&routes[index], &client).ok()
    };
    assert_eq!(whole(raw).map(|p| p.key), Some(planned.key.clone()));
    c.bench_function("request/find_plan", |b| b.iter(|| whole(black_box(raw))));
}

criterion_group!(benches, bench_find, bench_keys, bench_plan);
criterion_main!(benches);
