//! Real S3 clients against bucketgate's `frontend: s3` route: the AWS CLI, boto3 and the AWS SDK
//! for JavaScript v3 run their own signing, multipart, listing, presigning and streaming code
//! through the real binary, against s3s-fs or Ceph RGW. Each test runs one script from
//! `tests/clients/` (see its header for what it checks) and shows the script's output and the
//! gateway's log when it fails.
//!
//! Tools: `aws` (awscli), `python3` with `boto3`, `node` and `npm`. `.ci/run` installs them and
//! runs `npm ci` in `tests/clients/js`; locally a missing tool is a loud SKIP, under `CI=true` a
//! failure. The JS test runs `npm ci` itself when `tests/clients/js/node_modules` is missing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::gateway::Gateway;
use common::script::{clients_dir, have, have_tool, run_command, static_key_gateway, ScriptRun};
use common::upstream::{Upstream, UpstreamKind};
use common::{fresh_bucket, unique_suffix};

/// The static key the scripts sign with.
const ACCESS_KEY_ID: &str = "AKIABGCLIENTS0001";
const SECRET_ACCESS_KEY: &str = "bg-clients-secret/0123456789+abcdef";
/// How long one script may run before it is killed and the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// A gateway with one `frontend: s3` route exposing `bucket` (plus two aliases of it, see
/// below) and the static key [`ACCESS_KEY_ID`], granted everything under `prefix` of `bucket`
/// and nothing else. Aliases: `<bucket>-v` shows the granted prefix as its root (a grant reaches
/// it: listed by ListBuckets), `<bucket>-h` shows `hidden/` (no grant reaches it: not listed).
fn gateway(bucket: &str, prefix: &str) -> Gateway {
    let aliases = format!(
        "      - name: {bucket}-v
        bucket: {bucket}
        key_prefix: \"{prefix}\"
      - name: {bucket}-h
        bucket: {bucket}
        key_prefix: hidden/
"
    );
    static_key_gateway(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "clients",
        bucket,
        prefix,
        &aliases,
    )
}

/// Runs `cmd` with `env` through [`run_command`] (no inherited `AWS_*` variable, killed after
/// [`SCRIPT_TIMEOUT`]), and without the user's own AWS config or credentials files.
fn run_script(cmd: Command, env: &[(&str, String)], work: &Path) -> ScriptRun {
    let mut env = env.to_vec();
    env.push((
        "AWS_CONFIG_FILE",
        work.join("no-aws-config").display().to_string(),
    ));
    env.push((
        "AWS_SHARED_CREDENTIALS_FILE",
        work.join("no-aws-credentials").display().to_string(),
    ));
    env.push(("AWS_EC2_METADATA_DISABLED", "true".to_string()));
    run_command(cmd, &env, work, SCRIPT_TIMEOUT)
}

/// The common environment: endpoint, bucket, prefix and keys.
fn script_env(
    endpoint: &str,
    bucket: &str,
    prefix: &str,
    key: &str,
    secret: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("BG_ENDPOINT", endpoint.to_string()),
        ("BG_BUCKET", bucket.to_string()),
        ("BG_PREFIX", prefix.to_string()),
        ("AWS_ACCESS_KEY_ID", key.to_string()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
        (
            "BG_UPSTREAM_KIND",
            match Upstream::get().kind() {
                UpstreamKind::S3s => "s3s".to_string(),
                UpstreamKind::Rgw => "rgw".to_string(),
            },
        ),
    ]
}

#[track_caller]
fn assert_ran(run: &ScriptRun, what: &str, gw: &Gateway) {
    assert!(
        run.ok,
        "{what} failed through bucketgate\n{}\n--- gateway log ---\n{}",
        run.output(),
        gw.log()
    );
}

#[test]
fn awscli_through_bucketgate() {
    if !have_tool("aws", "pip install awscli") || !have_tool("curl", "apt-get install curl") {
        return;
    }
    let bucket = fresh_bucket("awscli");
    let gw = gateway(&bucket, "awscli/");
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(clients_dir().join("awscli.sh"));
    let env = script_env(
        &gw.url(""),
        &bucket,
        "awscli/",
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
    );
    let run = run_script(cmd, &env, work.path());
    assert_ran(&run, "tests/clients/awscli.sh", &gw);
    assert!(
        run.stdout.contains("awscli: all checks passed"),
        "{}",
        run.output()
    );
    assert!(
        Upstream::get().list_keys(&bucket, "").is_empty(),
        "the script removed what it wrote; the upstream bucket still has {:?}",
        Upstream::get().list_keys(&bucket, "")
    );
}

#[test]
fn boto3_through_bucketgate() {
    if !have_tool("python3", "apt-get install python3")
        || !have(
            "python3 module boto3",
            "python3 -c 'import boto3'",
            "pip install boto3",
        )
    {
        return;
    }
    let bucket = fresh_bucket("boto3");
    let gw = gateway(&bucket, "boto3/");
    // A key outside the grant, which exists upstream: only the grant keeps it out of reach.
    let denied = "private/denied.bin";
    Upstream::get().put_object(&bucket, denied, b"not yours", &[]);
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(clients_dir().join("boto3_check.py"));
    let mut env = script_env(
        &gw.url(""),
        &bucket,
        "boto3/",
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
    );
    env.push(("BG_VISIBLE_BUCKETS", format!("{bucket},{bucket}-v")));
    env.push(("BG_DENIED_KEY", denied.to_string()));
    let run = run_script(cmd, &env, work.path());
    assert_ran(&run, "tests/clients/boto3_check.py", &gw);
    assert!(
        run.stdout.contains("boto3: all checks passed"),
        "{}",
        run.output()
    );
    let (body, _) = Upstream::get()
        .get_object(&bucket, denied)
        .expect("the denied key is still there");
    assert_eq!(
        body, b"not yours",
        "the denied key was overwritten through bucketgate"
    );
    assert_eq!(
        Upstream::get().list_keys(&bucket, "boto3/"),
        Vec::<String>::new(),
        "the script cleans up after itself"
    );
}

/// `npm ci` in tests/clients/js unless its node_modules already has the SDK.
fn ensure_node_modules(js: &Path) {
    if js
        .join("node_modules/@aws-sdk/client-s3/package.json")
        .exists()
    {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(js)
        .output()
        .expect("running npm ci");
    assert!(
        out.status.success(),
        "npm ci in {} failed:\n{}\n{}",
        js.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The AWS SDK for JavaScript v3 streams a body as `STREAMING-UNSIGNED-PAYLOAD-TRAILER` over
/// plain HTTP. RGW 16 rejects that form, so a direct upload fails there; bucketgate decodes it
/// (upstreams other than `kind: aws` get a plain body) and the same upload succeeds through it.
/// s3s-fs takes the trailer form itself, so there both succeed.
#[test]
fn js_sdk_stream_upload_through_bucketgate() {
    if !have_tool("node", "apt-get install nodejs") || !have_tool("npm", "apt-get install npm") {
        return;
    }
    let js = clients_dir().join("js");
    ensure_node_modules(&js);
    let up = Upstream::get();
    let bucket = fresh_bucket("jssdk");
    let gw = gateway(&bucket, "js/");
    let size: usize = 3 * 1024 * 1024 + 123;
    let script = js.join("stream_upload.mjs");
    let node = |endpoint: &str, key_id: &str, secret: &str, key: &str| {
        let work = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("node");
        cmd.arg(&script).current_dir(&js);
        let mut env = script_env(endpoint, &bucket, "js/", key_id, secret);
        env.push(("BG_KEY", key.to_string()));
        env.push(("BG_SIZE", size.to_string()));
        env.push(("BG_KEEP", "1".to_string()));
        run_script(cmd, &env, work.path())
    };

    // Directly against the upstream, with its own keys: shows what the SDK does without
    // bucketgate (checked first, as it does not depend on bucketgate).
    let direct_key = format!("js/direct-{}.bin", unique_suffix());
    let direct = node(
        &format!("http://{}", up.endpoint()),
        up.access_key(),
        up.secret_key(),
        &direct_key,
    );
    assert!(
        direct
            .stdout
            .contains("sent x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        "the SDK did not use the trailer form directly either:\n{}",
        direct.output()
    );
    match up.kind() {
        UpstreamKind::Rgw => {
            assert!(
                !direct.ok,
                "the trailer-form upload directly to RGW succeeded: RGW takes it now, and \
                 bucketgate's decoding is no longer what makes it work\n{}",
                direct.output()
            );
            // Refused by RGW (411 MissingContentLength on RGW 16), not lost on the way.
            assert!(
                direct.stderr.contains("(HTTP 4") && !direct.stdout.contains("ok: PutObject"),
                "the direct upload to RGW should fail with a 4xx answer to the PutObject:\n{}",
                direct.output()
            );
        }
        UpstreamKind::S3s => assert!(
            direct.ok,
            "the trailer-form upload directly to s3s-fs failed\n{}",
            direct.output()
        ),
    }

    // Through bucketgate: must work, whatever the upstream.
    let via_key = format!("js/via-bucketgate-{}.bin", unique_suffix());
    let via = node(&gw.url(""), ACCESS_KEY_ID, SECRET_ACCESS_KEY, &via_key);
    assert_ran(&via, "tests/clients/js/stream_upload.mjs", &gw);
    assert!(
        via.stdout
            .contains("sent x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        "the SDK did not use the trailer form, so this test proves nothing:\n{}",
        via.output()
    );
    assert!(
        via.stdout.contains("js: all checks passed"),
        "{}",
        via.output()
    );
    // Stored upstream as the plain payload, not the aws-chunked framing.
    let head = up
        .head_object(&bucket, &via_key)
        .expect("the object is stored upstream");
    let len = head
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        len,
        Some(size.to_string().as_str()),
        "upstream size of the streamed object; headers {head:?}"
    );
}
