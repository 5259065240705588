//! Runs a client script from `tests/clients/` (rclone, s3cmd, ffmpeg, curl, awscli, boto3, the
//! JS SDK ...) against the real gateway, hermetically and with a deadline, so a test can show the
//! script's whole output and the gateway's log when a check fails.
//!
//! The script gets only the environment the test gives it on top of the process's own, minus
//! every `AWS_*`, `RCLONE_*` and `S3CMD_*` variable (the machine's settings must not leak in),
//! plus `BG_WORK`, a work directory it may leave files in for the test to inspect.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::gateway::{config_with_routes, Gateway};

/// `tests/clients/`.
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Whether the tests run in CI (`CI=true`), where a missing tool is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether `name` is on PATH; if not, a loud SKIP locally and a failure in CI.
pub fn have_tool(name: &str, install: &str) -> bool {
    have(name, &format!("command -v {name}"), install)
}

/// Whether the requirement `what` is met, `probe` being a shell command that succeeds when it
/// is (a Python module, say); if not, a loud SKIP locally and a failure in CI.
pub fn have(what: &str, probe: &str, install: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", probe])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            !in_ci(),
            "{what} is not installed; .ci/run installs it ({install})"
        );
        eprintln!("SKIPPED: {what} is not installed ({install}); this test needs it");
    }
    ok
}

/// A gateway with one `frontend: s3` route `s3` exposing `bucket`, plus `more_buckets` (more
/// items of the route's `buckets:` list, each line indented by six spaces), and the static key
/// `key_id`/`secret` of `subject`, which may read, write, delete and list under `prefix` of
/// `bucket` only: what the S3 client scripts sign against.
pub fn static_key_gateway(
    key_id: &str,
    secret: &str,
    subject: &str,
    bucket: &str,
    prefix: &str,
    more_buckets: &str,
) -> Gateway {
    Gateway::start(&config_with_routes(&format!(
        r#"access_keys:
  static:
    - access_key_id: {key_id}
      secret_access_key: "{secret}"
      subject: {subject}
      grants:
        - {{bucket: {bucket}, prefix: "{prefix}", operations: [read, write, delete, list]}}
routes:
  - name: s3
    frontend: s3
    upstream: s3
    buckets:
      - name: {bucket}
{more_buckets}"#
    )))
}

/// What a script printed and how it ended.
pub struct ScriptRun {
    pub ok: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
    /// The `BG_WORK` directory the script ran with.
    pub work: PathBuf,
}

impl ScriptRun {
    /// Exit status, stdout and stderr, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `bash tests/clients/<script>` with `env`, `BG_WORK=<dir>/work`, its output in files
/// under `dir`. After `timeout` the script and everything it started (its own process group)
/// get SIGKILL.
pub fn run_client_script(
    script: &str,
    env: &[(&str, String)],
    dir: &Path,
    timeout: Duration,
) -> ScriptRun {
    let mut cmd = Command::new("bash");
    cmd.arg(clients_dir().join(script));
    run_command(cmd, env, dir, timeout)
}

/// [`run_client_script`] for any command (a `python3` or `node` script, say): the same
/// environment scrubbing, `BG_WORK`, output files and deadline. It runs in `dir` unless `cmd`
/// already has a working directory.
pub fn run_command(
    mut cmd: Command,
    env: &[(&str, String)],
    dir: &Path,
    timeout: Duration,
) -> ScriptRun {
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("RCLONE_") || k.starts_with("S3CMD_") {
            cmd.env_remove(k);
        }
    }
    let work = dir.join("work");
    cmd.env("BG_WORK", &work);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(dir);
    }
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("creating the script's stdout file"))
        .stderr(File::create(&err_path).expect("creating the script's stderr file"));
    let what = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s.to_string();
        }
        if Instant::now() >= deadline {
            // SAFETY: kill(2) on the process group of a child we have not reaped, so its id
            // (which is the group's) cannot have been recycled.
            unsafe {
                libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
            }
            let _ = child.wait();
            break format!("killed after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    ScriptRun {
        ok: status == "exit status: 0",
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
        work,
    }
}
