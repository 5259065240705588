//! Real clients through the real bucketgate binary, each check comparing bytes, not exit codes:
//! the conformance checks of issue 7. The scripts live in `tests/clients/` (see each header for
//! what it proves) and run against s3s-fs or Ceph RGW (`BUCKETGATE_TEST_UPSTREAM`):
//! - **rclone** and **s3cmd** through a `frontend: s3` route with a static access key
//!   (`rclone.sh`: copy up and down, ls, cat --offset --count; `s3cmd.sh`: put, get, ls);
//! - **ffmpeg** seeking an MP4 through a `files` route with a JWT header (`ffmpeg.sh`); this
//!   file checks that the reads reached bucketgate as Range requests (206 in the access log) and
//!   that ffmpeg's hang-ups mid-body were not logged as errors;
//! - **curl** through the same kind of route (`curl.sh`): ranges, conditionals against what the
//!   upstream itself answers, HEAD;
//! - **samtools** (htslib) reading a BAM region over HTTP the way genome viewers do: it probes
//!   `.csi` indexes (404s must pass cleanly), fetches `x.bam.bai` (which a rewrite rule maps to
//!   the stored `x.bai`), then reads open-ended ranges (`bytes=N-`) and hangs up once it has its
//!   region.
//!
//! Tools come from apt (`rclone s3cmd ffmpeg samtools curl`); locally a missing one is a loud
//! SKIP, under `CI=true` a failure.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use common::gateway::{config_with_routes, Gateway};
use common::script::{have_tool, run_client_script, static_key_gateway, ScriptRun};
use common::upstream::{Upstream, UpstreamKind};
use common::{fresh_bucket, sha256_hex};

/// The static key rclone and s3cmd sign with.
const ACCESS_KEY_ID: &str = "AKIABGCONFORMANCE01";
const SECRET_ACCESS_KEY: &str = "bg-conformance-secret/0123456789+xyz";
/// The HS256 secret of the `files` route ffmpeg and curl read through.
const JWT_SECRET: &str = "real-clients-jwt-secret-0123456789-abcdef";
/// How long one script may run before it is killed and the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// A gateway with one `frontend: s3` route exposing `bucket` to the static key
/// [`ACCESS_KEY_ID`], which may read, write, delete and list under `prefix` only.
fn s3_gateway(bucket: &str, prefix: &str) -> Gateway {
    static_key_gateway(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "conformance",
        bucket,
        prefix,
        "",
    )
}

/// A gateway with a `files` route `/media` on `bucket` that wants an HS256 JWT
/// ([`JWT_SECRET`]) in the header and grants every token read and write under `prefix`.
fn files_gateway(bucket: &str, prefix: &str) -> Gateway {
    Gateway::start(&config_with_routes(&format!(
        r#"routes:
  - name: media
    path_prefix: /media
    upstream: s3
    bucket: {bucket}
    methods: [GET, HEAD, PUT]
    auth:
      - jwt:
          keys:
            - {{algorithm: HS256, secret: "{JWT_SECRET}"}}
          grants:
            - {{bucket: {bucket}, prefix: "{prefix}", operations: [read, write]}}
"#
    )))
}

/// A token the `/media` route accepts, valid for 10 minutes.
fn token(sub: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": sub, "iat": now, "exp": now + 600}),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("signing a test token")
}

fn upstream_kind() -> String {
    match Upstream::get().kind() {
        UpstreamKind::S3s => "s3s".into(),
        UpstreamKind::Rgw => "rgw".into(),
    }
}

/// Runs `tests/clients/<script>` with `env` plus `BG_UPSTREAM_KIND`.
fn run_script(script: &str, env: &[(&str, String)], dir: &Path) -> ScriptRun {
    let mut env = env.to_vec();
    env.push(("BG_UPSTREAM_KIND", upstream_kind()));
    run_client_script(script, &env, dir, SCRIPT_TIMEOUT)
}

/// The script exited 0 and printed its final `<name>: all checks passed`.
#[track_caller]
fn assert_passed(run: &ScriptRun, name: &str, gw: &Gateway) {
    eprintln!("tests/clients/{name}.sh:\n{}", run.stdout);
    assert!(
        run.ok && run.stdout.contains(&format!("{name}: all checks passed")),
        "tests/clients/{name}.sh failed through bucketgate\n{}\n--- gateway log ---\n{}",
        run.output(),
        gw.log()
    );
}

/// Access-log lines (`bucketgate::access`) about `key`.
fn access_lines<'a>(log: &'a str, key: &str) -> Vec<&'a str> {
    let needle = format!("key={key:?}");
    log.lines()
        .filter(|l| l.contains("bucketgate::access") && l.contains(&needle))
        .collect()
}

/// No line at error level, and no request that failed other than by the client hanging up.
#[track_caller]
fn assert_no_errors(log: &str, what: &str) {
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("failed=true"))
        .collect();
    assert!(
        bad.is_empty(),
        "{what} logged errors:\n{}\n--- whole log ---\n{log}",
        bad.join("\n")
    );
}

/// The S3 env the rclone and s3cmd scripts take.
fn s3_env(gw: &Gateway, bucket: &str, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BG_ENDPOINT", gw.url("")),
        ("BG_BUCKET", bucket.to_string()),
        ("BG_PREFIX", prefix.to_string()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
    ]
}

#[test]
fn rclone_copy_ls_and_cat_through_the_s3_frontend() {
    if !have_tool("rclone", "apt-get install rclone") {
        return;
    }
    let bucket = fresh_bucket("rclone");
    let gw = s3_gateway(&bucket, "rclone/");
    let dir = tempfile::tempdir().unwrap();
    let run = run_script("rclone.sh", &s3_env(&gw, &bucket, "rclone/"), dir.path());
    assert_passed(&run, "rclone", &gw);
    let log = gw.log();
    assert!(
        access_lines(&log, "rclone/tree/big.bin")
            .iter()
            .any(|l| l.contains(" POST ")),
        "the 12 MiB file did not go multipart (no POST for it in the access log):\n{log}"
    );
    assert_no_errors(&log, "rclone through bucketgate");
    assert_eq!(
        Upstream::get().list_keys(&bucket, ""),
        Vec::<String>::new(),
        "rclone purge left keys upstream"
    );
}

#[test]
fn s3cmd_put_get_and_ls_through_the_s3_frontend() {
    if !have_tool("s3cmd", "apt-get install s3cmd") {
        return;
    }
    let bucket = fresh_bucket("s3cmd");
    let gw = s3_gateway(&bucket, "s3cmd/");
    let dir = tempfile::tempdir().unwrap();
    let run = run_script("s3cmd.sh", &s3_env(&gw, &bucket, "s3cmd/"), dir.path());
    assert_passed(&run, "s3cmd", &gw);
    assert_no_errors(&gw.log(), "s3cmd through bucketgate");
    assert_eq!(
        Upstream::get().list_keys(&bucket, ""),
        Vec::<String>::new(),
        "s3cmd del left keys upstream"
    );
}

#[test]
fn ffmpeg_seeks_an_mp4_through_a_files_route_with_a_jwt() {
    if !have_tool("ffmpeg", "apt-get install ffmpeg")
        || !have_tool("ffprobe", "apt-get install ffmpeg")
        || !have_tool("curl", "apt-get install curl")
    {
        return;
    }
    let up = Upstream::get();
    let bucket = fresh_bucket("ffmpeg");
    let gw = files_gateway(&bucket, "video/");
    let key = "video/test.mp4";
    let token = token("viewer");
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("BG_URL", gw.url(&format!("/media/{key}"))),
        ("BG_TOKEN", token.clone()),
    ];
    let run = run_script("ffmpeg.sh", &env, dir.path());
    assert_passed(&run, "ffmpeg", &gw);

    let local = std::fs::read(run.work.join("video.mp4")).expect("the script's video");
    let (stored, _) = up.get_object(&bucket, key).expect("the video is stored");
    assert_eq!(
        sha256_hex(&stored),
        sha256_hex(&local),
        "the stored video differs from the uploaded file"
    );

    // ffmpeg's default MP4 has its index (`moov`) after the media data: a player reads the
    // start, jumps to the index at the end with an open range, then to the data it seeks to,
    // hanging up on each read once it has enough.
    let boxes = mp4_boxes(&local);
    let pos = |name: &[u8; 4]| boxes.iter().position(|(n, _)| n == name);
    let (Some(moov), Some(mdat)) = (pos(b"moov"), pos(b"mdat")) else {
        panic!("the video lacks moov or mdat: {boxes:?}");
    };
    assert!(moov > mdat, "moov is not at the end: {boxes:?}");
    let log = gw.wait_for_log("status=401", Duration::from_secs(5));
    let lines = access_lines(&log, key);
    let ranged: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains(" GET ") && l.contains("status=206"))
        .collect();
    assert!(
        ranged.len() >= 9,
        "want at least 3 ranged GETs (206) per seek, 9 in all; the access log has {}:\n{}",
        ranged.len(),
        lines.join("\n")
    );
    let index_read = format!(" out={} ", boxes[moov].1);
    assert!(
        ranged.iter().any(|l| l.contains(&index_read)),
        "no 206 carried exactly the index at the end of the file ({index_read:?}):\n{}",
        lines.join("\n")
    );
    assert!(
        ranged.iter().any(|l| l.ends_with("aborted=client")),
        "ffmpeg never hung up mid-body, so the check that hang-ups are not errors proves \
         nothing:\n{}",
        lines.join("\n")
    );
    assert!(
        lines.iter().any(|l| l.contains("status=401")),
        "the read without a token was not refused with 401:\n{}",
        lines.join("\n")
    );
    assert!(
        !log.contains(&token),
        "the token appears in the gateway's log"
    );
    assert_no_errors(&log, "ffmpeg's seeks and hang-ups");
}

#[test]
fn curl_range_conditional_and_head_through_a_files_route() {
    if !have_tool("curl", "apt-get install curl") {
        return;
    }
    let up = Upstream::get();
    let bucket = fresh_bucket("curl");
    let gw = files_gateway(&bucket, "curl/");
    let key = "curl/object.bin";
    let direct = format!(
        "http://{}{}",
        up.endpoint(),
        up.presign("GET", &bucket, key, Duration::from_secs(600))
    );
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("BG_URL", gw.url(&format!("/media/{key}"))),
        ("BG_TOKEN", token("curl")),
        ("BG_DIRECT_URL", direct),
    ];
    let run = run_script("curl.sh", &env, dir.path());
    assert_passed(&run, "curl", &gw);
    let local = std::fs::read(run.work.join("object.bin")).expect("the script's object");
    let (stored, _) = up.get_object(&bucket, key).expect("the object is stored");
    assert_eq!(
        sha256_hex(&stored),
        sha256_hex(&local),
        "the stored object differs from the uploaded file"
    );
    assert_no_errors(&gw.log(), "curl's requests");
}

/// The top-level boxes of an MP4 file in order: type and size in bytes.
fn mp4_boxes(mp4: &[u8]) -> Vec<([u8; 4], u64)> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while let Some(head) = mp4.get(at..at + 8) {
        let name: [u8; 4] = head[4..8].try_into().unwrap();
        let size = match u32::from_be_bytes(head[..4].try_into().unwrap()) {
            0 => (mp4.len() - at) as u64,
            1 => match mp4.get(at + 8..at + 16) {
                Some(b) => u64::from_be_bytes(b.try_into().unwrap()),
                None => break,
            },
            n => u64::from(n),
        };
        boxes.push((name, size));
        if size < 8 {
            break;
        }
        at += size as usize;
    }
    boxes
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A sorted, indexed BAM with reads spread over one 200 kb contig.
fn make_bam(dir: &Path) {
    let mut sam = String::from("@HD\tVN:1.6\tSO:unsorted\n@SQ\tSN:chr1\tLN:200000\n");
    let seq = "ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTAC";
    let qual = "IIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII";
    for i in 0..20_000u32 {
        let pos = 1 + (i * 7919) % 199_000;
        sam.push_str(&format!(
            "r{i}\t0\tchr1\t{pos}\t60\t50M\t*\t0\t0\t{seq}\t{qual}\n"
        ));
    }
    std::fs::write(dir.join("reads.sam"), sam).unwrap();
    run(Command::new("samtools")
        .current_dir(dir)
        .args(["sort", "-o", "reads.bam", "reads.sam"]));
    run(Command::new("samtools")
        .current_dir(dir)
        .args(["index", "reads.bam"]));
}

#[test]
fn samtools_reads_a_region_through_bucketgate() {
    if !have_tool("samtools", "apt-get install samtools") {
        return;
    }
    let up = Upstream::get();
    let bucket = fresh_bucket("samtools");
    let work = tempfile::tempdir().unwrap();
    make_bam(work.path());
    let bam = std::fs::read(work.path().join("reads.bam")).unwrap();
    let bai = std::fs::read(work.path().join("reads.bam.bai")).unwrap();
    up.put_object(&bucket, "genome/reads.bam", &bam, &[]);
    up.put_object(&bucket, "genome/reads.bai", &bai, &[]);

    let gw = Gateway::start(&config_with_routes(&format!(
        r"routes:
  - path_prefix: /files
    upstream: s3
    bucket: {bucket}
    public: true
    rewrite:
      - match: '\.bam\.bai$'
        replace: '.bai'
"
    )));
    let region = "chr1:150000-150500";
    let want =
        run(Command::new("samtools")
            .current_dir(work.path())
            .args(["view", "reads.bam", region]));
    // htslib caches downloaded indexes in the working directory: use an empty one.
    let fresh = tempfile::tempdir().unwrap();
    let url = format!("http://{}/files/genome/reads.bam", gw.addr());
    let got = run(Command::new("samtools")
        .current_dir(fresh.path())
        .args(["view", &url, region]));
    assert!(
        want.lines().count() > 0,
        "the region has reads in the local file"
    );
    assert!(
        got == want,
        "samtools view {region} through bucketgate differs from the local run: {} lines, want {}",
        got.lines().count(),
        want.lines().count()
    );

    let log = gw.wait_for_log("reads.bai", Duration::from_secs(5));
    assert!(
        log.contains("key=\"genome/reads.bai\"") && log.contains("status=206"),
        "the index came through the rewrite and the BAM by ranges:\n{log}"
    );
    assert_no_errors(&log, "samtools' probes and hang-ups");
}
