//! Runs a client script from `tests/clients/` (rclone, s3cmd, ffmpeg, curl ...) against the real
//! gateway, hermetically and with a deadline, so a test can show the script's whole output and
//! the gateway's log when a check fails.
//!
//! The script gets only the environment the test gives it on top of the process's own, minus
//! every `AWS_*`, `RCLONE_*` and `S3CMD_*` variable (the machine's settings must not leak in),
//! plus `BG_WORK`, a work directory it may leave files in for the test to inspect.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            !in_ci(),
            "{name} is not installed; .ci/run installs it ({install})"
        );
        eprintln!("SKIPPED: {name} is not installed ({install}); this test needs it");
    }
    ok
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
    cmd.current_dir(dir)
        .process_group(0)
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
