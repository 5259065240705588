//! A real `redis-server` for the SSO tests, one per test, on a free 127.0.0.1 port.
//!
//! Sessions shared by several bucketgate instances go through Redis; the tests use the real
//! server from apt (`redis-server`), never a stand-in. [`Redis::start`] runs it without
//! persistence in its own temp dir and waits until it answers `PING`; dropping the [`Redis`]
//! kills it. [`Redis::command`] speaks just enough RESP to look at what bucketgate stored
//! (key names, TTLs, whether values are encrypted).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::gateway::free_addr;

/// Where apt installs it; `REDIS_SERVER` overrides.
pub const DEFAULT_BIN: &str = "/usr/bin/redis-server";

/// A RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// A bulk or status reply as text (lossy); None for nil and other kinds.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// The bytes of a bulk reply; None for nil and other kinds.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(b)) => Some(b),
            _ => None,
        }
    }

    /// The elements of an array reply as text (lossy); empty for anything else.
    pub fn texts(&self) -> Vec<String> {
        match self {
            Reply::Array(Some(items)) => items.iter().filter_map(Reply::text).collect(),
            _ => Vec::new(),
        }
    }
}

/// A running `redis-server`; killed on drop.
pub struct Redis {
    child: Option<Child>,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// The server binary, or None with a loud SKIPPED note when it is not installed (a
    /// failure under `CI=true`: `.ci/run` installs apt `redis-server`).
    pub fn binary() -> Option<String> {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| DEFAULT_BIN.into());
        if std::path::Path::new(&bin).exists() {
            return Some(bin);
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{bin} is not installed; .ci/run installs it (apt-get install redis-server)"
        );
        eprintln!(
            "SKIPPED: {bin} is not installed (apt-get install redis-server); this test needs it"
        );
        None
    }

    /// Starts a server (see [`Redis::binary`] for None) and waits until it answers PING.
    #[track_caller]
    pub fn start() -> Option<Redis> {
        let bin = Redis::binary()?;
        let mut last = String::new();
        // A port picked by binding :0 may be taken before redis binds it: try another.
        for _ in 0..3 {
            match Redis::try_start(&bin) {
                Ok(r) => return Some(r),
                Err(e) => {
                    eprintln!("redis-server did not start ({e}); retrying on another port");
                    last = e;
                }
            }
        }
        panic!("redis-server did not start: {last}");
    }

    fn try_start(bin: &str) -> Result<Redis, String> {
        let dir = tempfile::Builder::new()
            .prefix("bucketgate-redis-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let addr = free_addr();
        let port = addr.rsplit(':').next().unwrap().to_string();
        let log = dir.path().join("redis.log");
        let mut cmd = Command::new(bin);
        cmd.args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl between fork and exec is async-signal-safe and allocates nothing. The
        // signal fires when the spawning (test) thread exits, which outlives this Redis.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("spawning {bin}: {e}"))?;
        let mut r = Redis {
            child: Some(child),
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = r.child.as_mut().unwrap().try_wait().ok().flatten() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                r.child = None;
                return Err(format!("exited ({status}): {text}"));
            }
            if let Ok(Reply::Status(s)) = r.try_command(&["PING"]) {
                if s == "PONG" {
                    return Ok(r);
                }
            }
            if Instant::now() >= deadline {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("no PONG on {} within 10s; log: {text}", r.addr));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// Sends one command on a fresh connection and reads its reply.
    pub fn try_command(&self, args: &[&str]) -> io::Result<Reply> {
        let mut s = TcpStream::connect(&self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        s.write_all(&out)?;
        read_reply(&mut BufReader::new(s))
    }

    /// [`Redis::try_command`], panicking on I/O errors and on error replies.
    #[track_caller]
    pub fn command(&self, args: &[&str]) -> Reply {
        match self.try_command(args) {
            Ok(Reply::Error(e)) => panic!("redis {args:?} at {}: error {e}", self.addr),
            Ok(r) => r,
            Err(e) => panic!("redis {args:?} at {}: {e}", self.addr),
        }
    }

    /// Every key (KEYS *; test databases are small).
    #[track_caller]
    pub fn keys(&self) -> Vec<String> {
        self.command(&["KEYS", "*"]).texts()
    }

    /// The value of a string key; None when absent.
    #[track_caller]
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.command(&["GET", key]).bytes().map(<[u8]>::to_vec)
    }

    /// The remaining TTL in milliseconds (-1: none, -2: no such key).
    #[track_caller]
    pub fn pttl(&self, key: &str) -> i64 {
        match self.command(&["PTTL", key]) {
            Reply::Int(n) => n,
            other => panic!("PTTL {key}: unexpected reply {other:?}"),
        }
    }

    /// Kills the server now (to see how bucketgate copes with Redis down).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "redis closed the connection",
        ));
    }
    let line = line.trim_end_matches("\r\n");
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad RESP line {line:?}"),
        )
    };
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    let num = || rest.parse::<i64>().map_err(|_| bad());
    Ok(match kind {
        "+" => Reply::Status(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Int(num()?),
        "$" => match num()? {
            n if n < 0 => Reply::Bulk(None),
            n => {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(n as usize);
                Reply::Bulk(Some(buf))
            }
        },
        "*" => match num()? {
            n if n < 0 => Reply::Array(None),
            n => {
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(read_reply(r)?);
                }
                Reply::Array(Some(items))
            }
        },
        _ => return Err(bad()),
    })
}
