//! The real `bucketgate` binary, started on a test config.
//!
//! Tests exercise the process users run, not a library call: config loading, Pingora's server
//! setup, signals and logging all take part. [`Gateway::start`] fills in the config's
//! placeholders, starts the binary, and returns only once `/healthz` answers 200; dropping the
//! [`Gateway`] stops the process (SIGTERM, then SIGKILL), so none outlives its test.

use std::fs::File;
use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use super::upstream::Upstream;

/// How long [`Gateway::start`] waits for `/healthz`; `BUCKETGATE_TEST_START_TIMEOUT_SECS`
/// overrides it.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long Drop waits after SIGTERM before SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A config preamble for tests: quick shutdown, files in the gateway's own temp dir, one
/// listener, and an upstream named `s3` pointing at [`Upstream::get`]. Append `routes:`.
pub const PREAMBLE: &str = "\
server:
  threads: 2
  grace_period_seconds: 0
  graceful_shutdown_timeout_seconds: 1
  drain_notice_seconds: 0
  pid_file: {dir}/bucketgate.pid
  upgrade_sock: {dir}/upgrade.sock
  log_level: info
listeners:
  - address: {listen}
upstreams:
  s3:
    endpoints: [{upstream}]
    region: us-east-1
    credentials:
      access_key_id: {access_key}
      secret_access_key: {secret_key}
";

/// [`PREAMBLE`], telling bucketgate its upstream `s3` is RGW (`kind: rgw`) when the tests run
/// against RGW: what `frontend: s3` routes need to pick RGW's settings.
pub fn preamble_for_upstream() -> String {
    let mut p = PREAMBLE.to_owned();
    if Upstream::get().kind() == super::upstream::UpstreamKind::Rgw {
        p.push_str("    kind: rgw\n");
    }
    p
}

/// [`PREAMBLE`] followed by `routes` (which should start with `routes:`).
pub fn config_with_routes(routes: &str) -> String {
    format!("{PREAMBLE}{routes}")
}

/// A running bucketgate process.
pub struct Gateway {
    child: Option<Child>,
    addr: String,
    dir: Option<tempfile::TempDir>,
    log_path: PathBuf,
    config_path: PathBuf,
}

impl Gateway {
    /// The path of the binary under test.
    pub fn bin() -> &'static str {
        env!("CARGO_BIN_EXE_bucketgate")
    }

    /// Starts the binary on `yaml` after replacing `{listen}` (a free 127.0.0.1 port),
    /// `{upstream}`, `{access_key}`, `{secret_key}` (from [`Upstream::get`], only if the YAML
    /// uses them) and `{dir}` (this gateway's temp dir). Waits until `/healthz` is 200.
    #[track_caller]
    pub fn start(yaml: &str) -> Gateway {
        Gateway::start_with_env(yaml, &[])
    }

    /// [`Gateway::start`] with extra environment variables (`RUST_LOG` among them, whose
    /// default is `info`).
    #[track_caller]
    pub fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Gateway {
        // A port picked by binding :0 may be taken by someone else before the gateway binds it;
        // try again with another one if that is why it failed.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Gateway::try_start(yaml, env) {
                Ok(gw) => return gw,
                Err(StartError::AddrInUse(log)) if attempts < 3 => {
                    eprintln!(
                        "gateway: port taken before bucketgate could bind it; retrying\n{log}"
                    );
                }
                Err(StartError::AddrInUse(msg)) | Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
    }

    fn try_start(yaml: &str, env: &[(&str, &str)]) -> Result<Gateway, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("bucketgate-test-")
            .tempdir()
            .expect("creating the gateway's temp dir");
        let addr = free_addr();
        let mut config = yaml
            .replace("{listen}", &addr)
            .replace("{dir}", &dir.path().to_string_lossy());
        if ["{upstream}", "{access_key}", "{secret_key}"]
            .iter()
            .any(|p| config.contains(p))
        {
            let up = Upstream::get();
            config = config.replace("{upstream}", &up.endpoint());
            // Keys become quoted YAML scalars, whether or not the test quoted the placeholder.
            for (p, v) in [
                ("{access_key}", up.access_key()),
                ("{secret_key}", up.secret_key()),
            ] {
                let q = yaml_quote(v);
                config = config
                    .replace(&format!("\"{p}\""), &q)
                    .replace(&format!("'{p}'"), &q)
                    .replace(p, &q);
            }
        }
        let config_path = dir.path().join("bucketgate.yaml");
        std::fs::write(&config_path, &config).expect("writing the gateway config");
        let log_path = dir.path().join("bucketgate.log");
        let log = File::create(&log_path).expect("creating the gateway log");
        let mut cmd = Command::new(Gateway::bin());
        cmd.arg("run")
            .arg("-c")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = spawn_tied_to_this_process(cmd)
            .unwrap_or_else(|e| panic!("spawning {}: {e}", Gateway::bin()));
        let mut gw = Gateway {
            child: Some(child),
            addr,
            dir: Some(dir),
            log_path,
            config_path,
        };
        let timeout = std::env::var("BUCKETGATE_TEST_START_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(START_TIMEOUT);
        let deadline = Instant::now() + timeout;
        let mut last: String;
        loop {
            if let Some(status) = gw.child.as_mut().unwrap().try_wait().expect("try_wait") {
                let log = gw.log();
                gw.child = None;
                let msg = format!(
                    "bucketgate exited ({status}) before /healthz answered.\nconfig:\n{config}\nlog:\n{log}"
                );
                return Err(
                    if log.contains("Address already in use") || log.contains("AddrInUse") {
                        StartError::AddrInUse(msg)
                    } else {
                        StartError::Failed(msg)
                    },
                );
            }
            // Another process may hold the port (Pingora then retries the bind and logs "is in
            // use"): only a /healthz answered on a socket this child listens on counts.
            let log = gw.log();
            if log.contains("is in use") {
                gw.stop(Duration::from_secs(1));
                return Err(StartError::AddrInUse(format!(
                    "{} was taken by another process.\nlog:\n{log}",
                    gw.addr
                )));
            }
            match probe_healthz(&gw.addr) {
                Ok(200) if listens_on(gw.pid(), &gw.addr) => return Ok(gw),
                Ok(200) => last = "/healthz answered 200 from another process".into(),
                Ok(s) => last = format!("/healthz answered {s}"),
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                let log = gw.log();
                return Err(StartError::Failed(format!(
                    "bucketgate on {} did not answer /healthz with 200 within {timeout:?} (last: {last}).\nconfig:\n{config}\nlog:\n{log}",
                    gw.addr
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `127.0.0.1:PORT` the gateway listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("<log {} unreadable: {e}>", self.log_path.display()))
    }

    /// Waits (bounded) until the log contains `needle`; returns the log. Log lines are written
    /// after the response is sent, so poll instead of reading once.
    #[track_caller]
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            if Instant::now() >= deadline {
                panic!("gateway log did not contain {needle:?} within {timeout:?}; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The gateway's temp dir (config, log, pid file).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    /// The process id; panics if the process was already reaped.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("gateway already stopped").id()
    }

    /// Sends a signal by name (`TERM`, `QUIT`, `INT`, `HUP`, `KILL`, `USR1`, ...). Panics if
    /// the process has already exited (its pid may belong to someone else by now).
    #[track_caller]
    pub fn signal(&mut self, sig: &str) {
        let child = self.child.as_mut().expect("gateway already stopped");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("cannot send SIG{sig}: the gateway already exited ({status})");
        }
        send_signal(child.id(), sig);
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Waits up to `timeout` for the process to exit; its status, or None if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`. Returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        send_signal(child.id(), "TERM");
        if let Some(s) = self.wait_exit(grace) {
            return Some(s);
        }
        let child = self.child.as_mut()?;
        eprintln!(
            "gateway pid {} ignored SIGTERM for {grace:?}; sending SIGKILL",
            child.id()
        );
        let _ = child.kill();
        child.wait().ok()
    }
}

/// A `bucketgate run -u` started on a running gateway's config, to take over its listening
/// sockets when the gateway gets SIGQUIT. Killed when dropped.
pub struct Successor {
    child: Child,
    log_path: PathBuf,
}

impl Gateway {
    /// Starts the successor of a zero-downtime upgrade; returns once it waits on the upgrade
    /// socket (`server.upgrade_sock`, which must be `{dir}/upgrade.sock`), so a SIGQUIT to this
    /// gateway can follow at once.
    #[track_caller]
    pub fn spawn_successor(&self) -> Successor {
        let log_path = self.dir().join("successor.log");
        let log = File::create(&log_path).expect("creating the successor log");
        let mut cmd = Command::new(Gateway::bin());
        cmd.arg("run")
            .arg("-u")
            .arg("-c")
            .arg(&self.config_path)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .env("RUST_LOG", "info");
        let child = spawn_tied_to_this_process(cmd).expect("spawning the successor");
        let sock = self.dir().join("upgrade.sock");
        let deadline = Instant::now() + START_TIMEOUT;
        while !sock.exists() {
            assert!(
                Instant::now() < deadline,
                "the successor did not open {} within {START_TIMEOUT:?}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Successor { child, log_path }
    }
}

impl Successor {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Whether the successor holds the listening socket of `addr`.
    pub fn listens_on(&self, addr: &str) -> bool {
        listens_on(self.pid(), addr)
    }
}

impl Drop for Successor {
    fn drop(&mut self) {
        send_signal(self.child.id(), "INT");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop(STOP_TIMEOUT);
        if std::thread::panicking() {
            // Keep the evidence of a failed test.
            if let Some(dir) = self.dir.take() {
                let path = dir.keep();
                eprintln!(
                    "gateway {} log kept at {}; last lines:\n{}",
                    self.addr,
                    path.join("bucketgate.log").display(),
                    tail(&self.log(), 40)
                );
            }
        }
    }
}

enum StartError {
    AddrInUse(String),
    Failed(String),
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether process `pid` holds a listening TCP socket on `addr`'s port (from /proc: the
/// socket inodes of its fds against the LISTEN entries of /proc/net/tcp).
fn listens_on(pid: u32, addr: &str) -> bool {
    let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
        return false;
    };
    let want = format!(":{port:04X}");
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return true; // no /proc: cannot tell, trust /healthz
    };
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 9 && f[1].ends_with(&want) && f[3] == "0A").then(|| f[9].to_string())
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let t = target.to_string_lossy();
            inodes.iter().any(|i| t == format!("socket:[{i}]"))
        })
    })
}

/// A 127.0.0.1 port nobody listens on right now.
pub fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 to find a free port");
    l.local_addr().unwrap().to_string()
}

fn probe_healthz(addr: &str) -> Result<u16, String> {
    use std::io::{Read, Write};
    let sa = addr.parse().map_err(|e| format!("{e}"))?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, Duration::from_millis(500))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    s.set_write_timeout(Some(Duration::from_secs(2))).ok();
    s.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while got.len() < 12 {
        let n = s.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!("closed after {:?}", String::from_utf8_lossy(&got)));
        }
        got.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&got);
    line.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))
}

fn send_signal(pid: u32, sig: &str) {
    let signo = match sig.trim_start_matches("SIG") {
        "TERM" => libc::SIGTERM,
        "QUIT" => libc::SIGQUIT,
        "INT" => libc::SIGINT,
        "HUP" => libc::SIGHUP,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        other => panic!("unknown signal name {other:?}"),
    };
    // SAFETY: kill(2) with a pid we spawned and have not reaped (so it cannot be recycled).
    unsafe {
        libc::kill(pid as libc::pid_t, signo);
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` so that it gets SIGKILL if this test process dies without running `Drop`
/// (killed by a timeout, say). PR_SET_PDEATHSIG fires when the *thread* that forked exits, so
/// every spawn goes through one thread that lives as long as the process.
fn spawn_tied_to_this_process(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("gateway-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    // SAFETY: getpid has no preconditions.
                    let parent = unsafe { libc::getpid() };
                    // SAFETY: the closure runs between fork and exec and only makes
                    // async-signal-safe calls (prctl, getppid) and does not allocate.
                    unsafe {
                        cmd.pre_exec(move || {
                            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                                return Err(io::Error::last_os_error());
                            }
                            // The parent may have died before prctl took effect.
                            if libc::getppid() != parent {
                                // (No allocation here: raw OS error codes only.)
                                return Err(io::Error::from_raw_os_error(libc::ESRCH));
                            }
                            Ok(())
                        });
                    }
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawning the gateway-spawner thread");
        tx
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.send((cmd, reply_tx))
        .map_err(|_| io::Error::other("gateway-spawner thread is gone"))?;
    reply_rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| io::Error::other("gateway-spawner did not answer within 30 s"))?
}

/// A YAML double-quoted scalar, so keys with `/`, `+`, `=` or `:` stay strings.
fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
