//! The internal S3 client's typed operations against the real upstream of the test suite
//! (s3s-fs in this process by default, or the Ceph RGW of tests/rgw.sh): every operation is
//! checked by its effect on the stored objects, read back independently through the harness's
//! own signed requests, and the grant guard by what it keeps from being sent at all.
//!
//! The tests of this file run one at a time ([`SERIAL`]): some count the upstream's requests
//! and open connections, which another test running beside them would change.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bucketgate::config::model::Upstream as UpstreamConfig;
use bucketgate::observe::upstream_log::UpstreamLog;
use bucketgate::upstream::background;
use bucketgate::upstream::client::upload::{Source, PART_SIZE};
use bucketgate::upstream::client::{Bucket, ClientError, Guard, S3Client};
use bucketgate::upstream::Pool;
use bucketgate_plugin::{Grant, Identity, Operation};
use bytes::Bytes;
use futures_util::StreamExt as _;
use pingora_core::connectors::http::Connector;
use pingora_error::{Error, ErrorType};

use common::upstream::{Upstream, UpstreamKind};
use common::{fresh_bucket, pattern};

/// One test at a time (see the module's doc).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A pool on the test upstream, a client on a fresh connector, and a fresh bucket.
struct Env {
    client: S3Client,
    pool: Arc<Pool>,
    bucket: String,
    log: Option<(tempfile::TempDir, PathBuf)>,
}

impl Env {
    async fn new(prefix: &str) -> Env {
        Env::build(prefix, false).await
    }

    /// With an upstream log, read back with [`Env::log_lines`].
    async fn logged(prefix: &str) -> Env {
        Env::build(prefix, true).await
    }

    async fn build(prefix: &str, logged: bool) -> Env {
        let up = Upstream::get();
        let bucket = fresh_bucket(prefix);
        let mut yaml = format!(
            "endpoints: [{}]\nregion: {}\ncredentials: {{access_key_id: {:?}, secret_access_key: {:?}}}\n",
            up.endpoint(),
            up.region(),
            up.access_key(),
            up.secret_key()
        );
        if up.kind() == UpstreamKind::Rgw {
            yaml.push_str("kind: rgw\n");
        }
        let cfg: UpstreamConfig = serde_yaml::from_str(&yaml).expect("a valid upstream config");
        let (pool, service) = Pool::new("s3c", &cfg);
        background::spawn(service.task());
        let deadline = Instant::now() + Duration::from_secs(15);
        while !pool.is_usable() {
            assert!(Instant::now() < deadline, "the pool never became usable");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let log = logged.then(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("upstream.log");
            (dir, path)
        });
        let upstream_log = log
            .as_ref()
            .map(|(_, path)| Arc::new(UpstreamLog::open(path.to_str().unwrap())));
        let connector = Arc::new(Connector::new(None));
        Env {
            client: S3Client::new(connector, upstream_log),
            pool: Arc::new(pool),
            bucket,
            log,
        }
    }

    /// The bucket with no caller behind it.
    fn gateway(&self) -> Bucket<'_> {
        self.client
            .bucket(&self.pool, &self.bucket, Guard::Gateway, "test")
    }

    /// The bucket as `caller`, held to its grants.
    fn as_caller<'a>(&'a self, caller: &'a Identity) -> Bucket<'a> {
        self.client
            .bucket(&self.pool, &self.bucket, Guard::Caller(caller), "test")
    }

    fn log_lines(&self) -> Vec<String> {
        let (_, path) = self.log.as_ref().expect("a logged Env");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    }

    /// The object as the harness reads it (not through the client under test).
    fn stored(&self, key: &str) -> Option<Vec<u8>> {
        Upstream::get()
            .get_object(&self.bucket, key)
            .map(|(body, _)| body)
    }

    fn seed(&self, key: &str, body: &[u8]) {
        Upstream::get().put_object(&self.bucket, key, body, &[]);
    }
}

/// A body handed out in pieces of `piece` bytes; it fails after `fail_after` bytes if set.
struct Pieces {
    data: Bytes,
    piece: usize,
    fail_after: Option<usize>,
    taken: usize,
    /// Calls to `next`, to show when a refused upload never read its source.
    calls: usize,
}

impl Pieces {
    fn new(data: Vec<u8>, piece: usize) -> Pieces {
        Pieces {
            data: data.into(),
            piece,
            fail_after: None,
            taken: 0,
            calls: 0,
        }
    }

    fn failing_after(mut self, n: usize) -> Pieces {
        self.fail_after = Some(n);
        self
    }
}

#[async_trait]
impl Source for Pieces {
    async fn next(&mut self) -> Result<Option<Bytes>, Box<Error>> {
        self.calls += 1;
        if self.fail_after.is_some_and(|n| self.taken >= n) {
            return Err(Error::explain(ErrorType::ReadError, "the client went away"));
        }
        if self.taken >= self.data.len() {
            return Ok(None);
        }
        let end = (self.taken + self.piece).min(self.data.len());
        let piece = self.data.slice(self.taken..end);
        self.taken = end;
        Ok(Some(piece))
    }
}

/// The whole body of a download, and how many pieces it came in.
async fn read_whole(
    download: &mut bucketgate::upstream::client::download::Download,
) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = download.next().await.expect("the body reads") {
        out.extend_from_slice(&piece);
        pieces += 1;
    }
    (out, pieces)
}

/// Waits until `cond` holds (at most 10 s).
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[track_caller]
fn assert_status(result: Result<impl std::fmt::Debug, ClientError>, status: u16, code: &str) {
    match result {
        Err(ClientError::Status {
            status: s, code: c, ..
        }) if s == status && c == code => {}
        other => panic!("expected S3 error {status} {code}, got {other:?}"),
    }
}

/// `key` is a multipart object of `parts` parts, and `etag` (what the client returned) is its
/// ETag; RGW 16 gives an empty one on completion, s3s-fs the right one.
async fn assert_parts(b: &Bucket<'_>, key: &str, etag: &str, parts: usize) {
    let stored = b.head(key).await.unwrap().expect("the object exists").etag;
    assert!(stored.ends_with(&format!("-{parts}\"")), "{key}: {stored}");
    if Upstream::get().kind() == UpstreamKind::S3s || !etag.is_empty() {
        assert_eq!(etag, stored, "{key}");
    }
}

#[track_caller]
fn assert_denied(result: Result<impl std::fmt::Debug, ClientError>) {
    match result {
        Err(ClientError::Denied(_)) => {}
        other => panic!("expected a refusal of the grant guard, got {other:?}"),
    }
}

/// Open uploads in the env's bucket: s3s-fs keeps one `.upload-ID.json` per upload in its
/// root; RGW lists them.
fn open_uploads(env: &Env) -> usize {
    let up = Upstream::get();
    match up.s3s_root() {
        Some(root) => std::fs::read_dir(root)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
            .count(),
        None => {
            let r = up
                .call("GET", &env.bucket, None)
                .query("uploads", "")
                .send();
            r.text().matches("<Upload>").count()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_head_get_and_delete_act_on_the_stored_object() {
    let _one = SERIAL.lock().await;
    let env = Env::new("s3c-basic").await;
    let b = env.gateway();
    let key = "docs/a b+c é.txt";
    let body = pattern(1, 300_000);

    let etag = b
        .put(
            key,
            body.clone().into(),
            vec![("content-type", "text/plain".into())],
        )
        .await
        .unwrap();
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    assert_eq!(env.stored(key).as_deref(), Some(&body[..]));

    let info = b.head(key).await.unwrap().expect("the object exists");
    assert_eq!(info.size, body.len() as u64);
    assert_eq!(info.etag, etag);
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    assert!(!info.last_modified.is_empty());

    let mut whole = b.get(key, None).await.unwrap();
    assert_eq!(whole.status, 200);
    assert_eq!(whole.content_length(), Some(body.len() as u64));
    let (read, _) = read_whole(&mut whole).await;
    assert_eq!(read, body);

    let mut part = b.get(key, Some("bytes=10-19")).await.unwrap();
    assert_eq!(part.status, 206);
    assert_eq!(read_whole(&mut part).await.0, &body[10..20]);

    b.delete(key).await.unwrap();
    assert_eq!(env.stored(key), None);
    assert_eq!(b.head(key).await.unwrap(), None, "a 404 HEAD is None");
    b.delete(key)
        .await
        .expect("deleting a deleted key succeeds");
    assert_status(b.get(key, None).await.map(|d| d.status), 404, "NoSuchKey");

    let missing = "bg-s3c-no-such-bucket-anywhere";
    let gone = env
        .client
        .bucket(&env.pool, missing, Guard::Gateway, "test");
    assert_status(
        gone.list_v2("", None).next_page().await,
        404,
        "NoSuchBucket",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_streams_and_gives_its_connection_back_only_when_read_to_the_end() {
    let _one = SERIAL.lock().await;
    let up = Upstream::get();
    let env = Env::logged("s3c-download").await;
    let body = pattern(2, 3 << 20);
    env.seed("big.bin", &body);
    eventually("the harness's connections to close", || {
        up.open_connections() == 0
    })
    .await;
    let b = env.gateway();

    let mut first = b.get("big.bin", None).await.unwrap();
    let (read, pieces) = read_whole(&mut first).await;
    assert_eq!(read, body);
    assert!(pieces > 1, "the body came in {pieces} piece(s)");
    assert_eq!(up.open_connections(), 1, "kept for reuse");

    let mut again = b.get("big.bin", Some("bytes=0-99")).await.unwrap();
    assert_eq!(read_whole(&mut again).await.0, &body[..100]);
    assert_eq!(up.open_connections(), 1, "the idle connection was reused");

    let mut partial = b.get("big.bin", None).await.unwrap();
    assert!(partial.next().await.unwrap().is_some());
    drop(partial);
    eventually("the connection of the dropped download to close", || {
        up.open_connections() == 0
    })
    .await;

    drop((first, again));
    let gets: Vec<String> = env
        .log_lines()
        .into_iter()
        .filter(|l| l.contains(" GET ") && l.contains("/big.bin"))
        .collect();
    assert_eq!(gets.len(), 3, "{gets:#?}");
    assert!(gets[0].contains("status=200"), "{}", gets[0]);
    assert!(
        gets[0].contains(&format!("received={}", body.len())),
        "{}",
        gets[0]
    );
    assert!(gets[1].contains("status=206") && gets[1].contains("received=100"));
    assert!(
        !gets[2].contains("error="),
        "a dropped download is no error: {}",
        gets[2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_put_stores_exactly_the_announced_length() {
    let _one = SERIAL.lock().await;
    let env = Env::new("s3c-stream").await;
    let b = env.gateway();
    let body = pattern(3, 2_500_000);

    let mut source = Pieces::new(body.clone(), 100_003);
    let etag = b
        .put_stream("up/streamed", body.len() as u64, &mut source, vec![])
        .await
        .unwrap();
    assert!(!etag.is_empty());
    assert_eq!(env.stored("up/streamed").as_deref(), Some(&body[..]));

    let mut empty = Pieces::new(Vec::new(), 1);
    b.put_stream("up/empty", 0, &mut empty, vec![])
        .await
        .unwrap();
    assert_eq!(env.stored("up/empty").as_deref(), Some(&b""[..]));

    // Shorter or longer than announced, or a source that fails: nothing is stored.
    let mut short = Pieces::new(body[..1000].to_vec(), 300);
    let r = b.put_stream("up/short", 2000, &mut short, vec![]).await;
    assert!(matches!(r, Err(ClientError::Source(_))), "{r:?}");
    let mut long = Pieces::new(body[..2000].to_vec(), 1000);
    let r = b.put_stream("up/long", 1000, &mut long, vec![]).await;
    assert!(matches!(r, Err(ClientError::Source(_))), "{r:?}");
    let mut failing = Pieces::new(body.clone(), 100_000).failing_after(500_000);
    let r = (b.put_stream("up/failing", body.len() as u64, &mut failing, vec![])).await;
    assert!(matches!(r, Err(ClientError::Source(_))), "{r:?}");
    for key in ["up/short", "up/long", "up/failing"] {
        assert_eq!(b.head(key).await.unwrap(), None, "{key} was stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_of_unknown_length_goes_up_in_parts_and_is_aborted_on_failure() {
    let _one = SERIAL.lock().await;
    let env = Env::new("s3c-multipart").await;
    let b = env.gateway();
    let uploads_before = open_uploads(&env);

    let body = pattern(4, 2 * PART_SIZE + 12_345);
    let mut source = Pieces::new(body.clone(), 1_000_003);
    let headers = vec![("content-type", "video/mp4".to_owned())];
    let etag = b
        .put_unknown_length("parts/big", &mut source, headers)
        .await
        .unwrap();
    assert_parts(&b, "parts/big", &etag, 3).await;
    assert_eq!(env.stored("parts/big").as_deref(), Some(&body[..]));
    let info = b.head("parts/big").await.unwrap().unwrap();
    assert_eq!(info.content_type.as_deref(), Some("video/mp4"));

    let exact = pattern(5, PART_SIZE);
    let mut source = Pieces::new(exact.clone(), PART_SIZE);
    let etag = (b.put_unknown_length("parts/exact", &mut source, vec![]))
        .await
        .unwrap();
    // One full part, and no empty one after it.
    assert_parts(&b, "parts/exact", &etag, 1).await;
    assert_eq!(env.stored("parts/exact").as_deref(), Some(&exact[..]));

    let small = pattern(6, 5000);
    let mut source = Pieces::new(small.clone(), 999);
    let etag = (b.put_unknown_length("parts/small", &mut source, vec![]))
        .await
        .unwrap();
    assert!(!etag.contains('-'), "a single PutObject: {etag}");
    assert_eq!(env.stored("parts/small").as_deref(), Some(&small[..]));

    let mut failing = Pieces::new(body.clone(), 1 << 20).failing_after(PART_SIZE + (3 << 20));
    let r = (b.put_unknown_length("parts/failing", &mut failing, vec![])).await;
    assert!(matches!(r, Err(ClientError::Source(_))), "{r:?}");
    assert_eq!(b.head("parts/failing").await.unwrap(), None);
    assert_eq!(
        open_uploads(&env),
        uploads_before,
        "the failed upload was aborted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_whole_and_in_parts_give_the_same_bytes() {
    let _one = SERIAL.lock().await;
    let env = Env::new("s3c-copy").await;
    let b = env.gateway();
    let src = "from/a+b c é.bin";
    let body = pattern(7, 11 << 20);
    b.put(
        src,
        body.clone().into(),
        vec![("content-type", "application/x-test".into())],
    )
    .await
    .unwrap();

    let etag = b.copy(src, "to/whole", body.len() as u64).await.unwrap();
    assert!(!etag.is_empty());
    assert_eq!(env.stored("to/whole").as_deref(), Some(&body[..]));

    // 5 MiB is the smallest part S3 takes: 5 + 5 + 1 MiB.
    let etag = b.copy_in_parts(src, "to/parts", 5 << 20).await.unwrap();
    assert_parts(&b, "to/parts", &etag, 3).await;
    assert_eq!(env.stored("to/parts").as_deref(), Some(&body[..]));
    let info = b.head("to/parts").await.unwrap().unwrap();
    assert_eq!(info.content_type.as_deref(), Some("application/x-test"));
    assert_eq!(
        env.stored(src).as_deref(),
        Some(&body[..]),
        "the source stays"
    );

    b.put("from/empty", Bytes::new(), vec![]).await.unwrap();
    b.copy_in_parts("from/empty", "to/empty", 5 << 20)
        .await
        .unwrap();
    assert_eq!(env.stored("to/empty").as_deref(), Some(&b""[..]));

    assert_status(b.copy("from/missing", "to/x", 10).await, 404, "NoSuchKey");
    let missing = b.copy_in_parts("from/missing", "to/x", 5 << 20).await;
    assert_status(missing, 404, "NoSuchKey");
    assert_eq!(b.head("to/x").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_follows_its_continuation_tokens() {
    let _one = SERIAL.lock().await;
    let env = Env::new("s3c-list").await;
    let b = env.gateway();
    let mut keys = vec![
        "dir/a".to_owned(),
        "dir/b c".to_owned(),
        "dir/d+e".to_owned(),
        "dir/é".to_owned(),
        "dir/sub/x".to_owned(),
        "dir/sub/y".to_owned(),
        "dir/z".to_owned(),
    ];
    for key in &keys {
        env.seed(key, key.as_bytes());
    }
    env.seed("other/k", b"k");
    keys.sort();

    let mut listing = b.list_v2("dir/", None).max_keys(3);
    let mut listed = Vec::new();
    let mut pages = 0;
    while let Some(page) = listing.next_page().await.unwrap() {
        pages += 1;
        assert!(page.objects.len() <= 3);
        for o in page.objects {
            assert_eq!(o.size, o.key.len() as u64);
            // s3s-fs lists no ETag; RGW does.
            assert!(!o.last_modified.is_empty(), "{o:?}");
            listed.push(o.key);
        }
    }
    assert_eq!(listed, keys);
    assert!(pages >= 3, "{pages} page(s)");
    assert!(listing.next_page().await.unwrap().is_none(), "stays done");

    let mut grouped = b.list_v2("dir/", Some("/")).max_keys(2);
    let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
    while let Some(page) = grouped.next_page().await.unwrap() {
        objects.extend(page.objects.into_iter().map(|o| o.key));
        prefixes.extend(page.common_prefixes);
    }
    assert_eq!(objects, ["dir/a", "dir/b c", "dir/d+e", "dir/z", "dir/é"]);
    assert_eq!(prefixes, ["dir/sub/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_goes_in_batches_of_a_thousand() {
    let _one = SERIAL.lock().await;
    let env = Env::logged("s3c-delete").await;
    let b = env.gateway();
    let keys: Vec<String> = (0..1005).map(|i| format!("many/{i:04} <&>")).collect();
    let puts = futures_util::stream::iter(&keys)
        .map(|k| b.put(k, Bytes::from_static(b"x"), vec![]))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(puts.iter().all(Result::is_ok));
    env.seed("keep/me", b"kept");

    let mut doomed = keys.clone();
    doomed.push("many/never-existed".into());
    let failed = b.delete_objects(&doomed, false).await.unwrap();
    assert_eq!(failed, vec![], "S3 deletes absent keys without complaint");

    let mut left = b.list_v2("", None);
    let mut remaining = Vec::new();
    while let Some(page) = left.next_page().await.unwrap() {
        remaining.extend(page.objects.into_iter().map(|o| o.key));
    }
    assert_eq!(remaining, ["keep/me"]);
    let posts = env
        .log_lines()
        .into_iter()
        .filter(|l| l.contains(" POST ") && l.contains("?delete"))
        .count();
    assert_eq!(posts, 2, "1,006 keys in two calls");

    let quiet = b
        .delete_objects(&["keep/me".to_owned()], true)
        .await
        .unwrap();
    assert!(quiet.is_empty());
    assert_eq!(env.stored("keep/me"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_keys_outside_the_grants_and_nothing_is_sent() {
    let _one = SERIAL.lock().await;
    let up = Upstream::get();
    let env = Env::new("s3c-guard").await;
    env.seed("users/alice/a", b"alice");
    env.seed("users/bob/b", b"bob");
    let alice = Identity {
        subject: "alice".into(),
        plugin: "test".into(),
        claims: Default::default(),
        grants: vec![Grant::new(
            env.bucket.clone(),
            "users/alice/",
            &[
                Operation::Read,
                Operation::Write,
                Operation::Delete,
                Operation::List,
            ],
        )],
    };
    let b = env.as_caller(&alice);
    // Within the grants, it works.
    assert!(b.head("users/alice/a").await.unwrap().is_some());
    let mut path = b.list_v2("users/", None);
    let seen: Vec<String> = (path.next_page().await.unwrap().unwrap().objects)
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert!(seen.contains(&"users/alice/a".to_owned()), "{seen:?}");

    let sent_before = up.requests_seen();
    let bob = "users/bob/b";
    assert_denied(b.head(bob).await);
    assert_denied(b.get(bob, None).await.map(|d| d.status));
    assert_denied(b.put(bob, Bytes::from_static(b"x"), vec![]).await);
    assert_denied(b.delete(bob).await);
    assert_denied(b.copy("users/alice/a", bob, 5).await);
    assert_denied(b.copy(bob, "users/alice/stolen", 3).await);
    assert_denied(b.copy_in_parts(bob, "users/alice/stolen", 5 << 20).await);
    assert_denied(b.create_multipart(bob, vec![]).await);
    assert_denied(
        b.upload_part_copy(bob, "users/alice/c", "id", 1, None)
            .await,
    );
    assert_denied(b.list_v2("users/bob/", None).next_page().await);
    let both = ["users/alice/a".to_owned(), bob.to_owned()];
    assert_denied(b.delete_objects(&both, false).await);
    let mut source = Pieces::new(b"x".to_vec(), 1);
    assert_denied(b.put_stream(bob, 1, &mut source, vec![]).await);
    assert_denied(b.put_unknown_length(bob, &mut source, vec![]).await);
    assert_eq!(source.calls, 0, "a refused upload never reads its body");
    let other = env.client.bucket(
        &env.pool,
        "some-other-bucket",
        Guard::Caller(&alice),
        "test",
    );
    assert_denied(other.head("users/alice/a").await);

    if up.kind() == UpstreamKind::S3s {
        assert_eq!(
            up.requests_seen(),
            sent_before,
            "nothing reached the upstream"
        );
    }
    assert_eq!(env.stored(bob).as_deref(), Some(&b"bob"[..]));
    assert_eq!(env.stored("users/alice/a").as_deref(), Some(&b"alice"[..]));
    assert_eq!(env.stored("users/alice/stolen"), None);
}
