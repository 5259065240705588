//! One access-log line per request, on the `bucketgate::access` log target.
//!
//! Fields: client, method, route, user (the authenticated subject), key, status, bytes in and out, upstream time to response
//! head, total time, and `aborted=client` when the client hung up. The query string is never
//! logged (it can carry presigned credentials), nor any header.
//!
//! **Why this module writes the line itself.** Through `log::info!`, env_logger's formatting and
//! anstream's pass over every byte (looking for ANSI escapes to strip) cost 12,400 instructions a
//! request, about 5 % of a small GET (benchmarks/README.md, "Where bucketgate's time goes"). So
//! the binary (`main`, through [`write_directly`]) has this module format the line into a
//! per-thread buffer that is reused from one request to the next, and hand it to stderr in one
//! `write(2)`, byte for byte as env_logger's default format with `format_timestamp_millis()`
//! prints it: `[2026-11-24T09:12:03.456Z INFO  bucketgate::access] 127.0.0.1:50412 GET ...`
//! (a newline inside the message is followed by four spaces, as env_logger indents it).
//!
//! - **The filter still applies**: nothing is formatted unless `bucketgate::access` at `info`
//!   passes `RUST_LOG` or the config's `log_level`.
//! - **Exactly env_logger's output, or env_logger**: direct writes are on only where env_logger
//!   would print the line without colors and without a message filter
//!   ([`env_logger_writes_plain`]: stderr not a terminal, or `NO_COLOR` / `RUST_LOG_STYLE=never`;
//!   no `RUST_LOG=.../text`), and for clocks between the years 1970 and 9999. Elsewhere (and in
//!   a program that never calls [`write_directly`]) the line goes through `log::info!`.
//! - **Lines never interleave**: in the process, everything that writes to stderr (this,
//!   env_logger, `eprintln!`) holds std's stderr lock for a whole line. Across processes on the
//!   same pipe, a single `write(2)` of at most `PIPE_BUF` (4,096) bytes is atomic; a longer
//!   line (a key of thousands of escaped bytes) may be split there, as it was with env_logger.
//! - **A failed write is ignored** (stderr closed, a reader gone): the request is already
//!   answered, and a log line is not worth a panic. std already treats a closed fd 2 as a sink.
//!
//! **JSON** (`server.access_log_format: json`): the same fields as one JSON object per line
//! (plus `time`), written straight to stderr the same way (one write, the per-thread buffer),
//! never through env_logger, whose `[time LEVEL target]` prefix would break the JSON. The
//! `bucketgate::access` filter applies as for text.

use std::cell::RefCell;
use std::ffi::OsString;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use pingora_core::protocols::l4::socket::SocketAddr;
use pingora_error::Error;
use pingora_proxy::Session;

use super::record::Record;
use crate::config::model::AccessLogFormat;
use crate::util::civil::civil_from_days;
use crate::util::client_gone::is_client_gone;

/// The log target of access lines (filters name it: `RUST_LOG=bucketgate::access=off`).
pub const TARGET: &str = "bucketgate::access";

/// env_logger's header after the timestamp: the level padded to 5, then the target.
const HEADER_TAIL: &str = " INFO  bucketgate::access] ";

/// A thread's buffer keeps at most this capacity between lines (one line is ~200 bytes; an
/// odd multi-KiB key should not pin its buffer in every worker thread).
const KEPT_CAPACITY: usize = 4096;

/// Off until the binary turns it on: the library alone logs through `log::info!`.
static DIRECT: AtomicBool = AtomicBool::new(false);

/// Turns direct writes on or off; `main` calls it once after installing env_logger, with
/// [`env_logger_writes_plain`].
pub fn write_directly(on: bool) {
    DIRECT.store(on, Ordering::Relaxed);
}

/// Whether env_logger, set up as `main` does (`Env::default()`, stderr, default format), prints
/// an access line exactly as this module does: no ANSI colors and no message filter.
///
/// `filter` is the filter spec in force (`RUST_LOG` if set, else the config's level), `var` reads
/// an environment variable. The color rules are anstream's, which env_logger applies once at
/// start-up; a terminal counts as "maybe colors" (the log path is always right, only slower).
pub fn env_logger_writes_plain(
    filter: &str,
    var: impl Fn(&str) -> Option<OsString>,
    stderr_is_terminal: bool,
) -> bool {
    // `directives/text` keeps only the lines whose message matches `text`.
    if filter.contains('/') {
        return false;
    }
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    match var("RUST_LOG_STYLE").as_ref().and_then(|v| v.to_str()) {
        Some("never") => true,
        Some("always") => false,
        // "auto", unset, or anything env_logger does not know: anstream decides.
        _ => {
            if set("NO_COLOR") {
                true
            } else if set("CLICOLOR_FORCE") {
                false
            } else if var("CLICOLOR").is_some_and(|v| v == "0") {
                true
            } else {
                !stderr_is_terminal
            }
        }
    }
}

/// Logs the request's line if `bucketgate::access` is enabled at `info`.
pub fn log(session: &Session, e: Option<&Error>, rec: &Record<'_>, format: AccessLogFormat) {
    if !log::log_enabled!(target: TARGET, log::Level::Info) {
        return;
    }
    let line = Line {
        client: session.client_addr(),
        method: session.req_header().method.as_str(),
        route: rec.route,
        user: rec.user,
        key: rec.key,
        status: session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0),
        bytes_in: session.body_bytes_read(),
        bytes_out: session.body_bytes_sent(),
        upstream_ms: rec.upstream_ms(),
        total_ms: rec.start.elapsed().as_millis(),
        request_id: rec.request_id,
        outcome: match e {
            Some(e) if is_client_gone(e) => " aborted=client",
            Some(_) => " failed=true",
            None => "",
        },
    };
    if format == AccessLogFormat::Json {
        write_json(&line, SystemTime::now());
        return;
    }
    if !(DIRECT.load(Ordering::Relaxed) && write_line(&line, SystemTime::now())) {
        log::info!(target: TARGET, "{line}");
    }
}

/// Writes `line` as one JSON object and a newline to stderr, in one write.
fn write_json(line: &Line<'_>, now: SystemTime) {
    emit_with(
        &mut |buf| {
            push_json(buf, line, now);
            true
        },
        &mut |bytes| {
            let _ = std::io::stderr().lock().write_all(bytes);
        },
    );
}

/// Appends `line` as a JSON object and a newline: the text line's fields under the same
/// names (`in`/`out` as `bytes_in`/`bytes_out`), `time` first, `null` for an unknown
/// upstream time, and `aborted` / `failed` only when they apply.
fn push_json(buf: &mut String, line: &Line<'_>, now: SystemTime) {
    buf.push_str("{\"time\":");
    let mark = buf.len();
    buf.push('"');
    if push_timestamp(buf, now) {
        buf.push('"');
    } else {
        buf.truncate(mark);
        buf.push_str("null");
    }
    buf.push_str(",\"client\":");
    match line.client {
        Some(addr) => push_json_str(buf, &addr.to_string()),
        None => push_json_str(buf, "-"),
    }
    buf.push_str(",\"method\":");
    push_json_str(buf, line.method);
    buf.push_str(",\"route\":");
    match line.route {
        Some((_, Some(name))) => push_json_str(buf, name),
        Some((index, None)) => push_json_str(buf, &format!("route{index}")),
        None => push_json_str(buf, "-"),
    }
    buf.push_str(",\"user\":");
    push_json_str(buf, line.user);
    buf.push_str(",\"key\":");
    push_json_str(buf, line.key);
    let _ = write!(
        buf,
        ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"upstream_ms\":",
        line.status, line.bytes_in, line.bytes_out
    );
    match line.upstream_ms {
        Some(ms) => {
            let _ = write!(buf, "{ms}");
        }
        None => buf.push_str("null"),
    }
    let _ = write!(buf, ",\"total_ms\":{}", line.total_ms);
    if let Some(id) = line.request_id {
        buf.push_str(",\"request_id\":");
        push_json_str(buf, id);
    }
    match line.outcome {
        "" => {}
        " aborted=client" => buf.push_str(",\"aborted\":\"client\""),
        _ => buf.push_str(",\"failed\":true"),
    }
    buf.push_str("}\n");
}

/// Appends `s` as a JSON string.
fn push_json_str(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// The message of an access line: every field borrowed, nothing allocated.
struct Line<'a> {
    client: Option<&'a SocketAddr>,
    method: &'a str,
    /// The route's index and its configured name.
    route: Option<(usize, Option<&'a str>)>,
    user: &'a str,
    key: &'a str,
    status: u16,
    bytes_in: usize,
    bytes_out: usize,
    upstream_ms: Option<u128>,
    total_ms: u128,
    /// The S3 request id (`x-amz-request-id`) on S3 routes.
    request_id: Option<&'a str>,
    outcome: &'static str,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.client {
            Some(addr) => write!(f, "{addr}")?,
            None => f.write_str("-")?,
        }
        write!(f, " {} route=", self.method)?;
        // As `Gateway::route_name`: the name, or `route<N>`.
        match self.route {
            Some((_, Some(name))) => f.write_str(name)?,
            Some((index, None)) => write!(f, "route{index}")?,
            None => f.write_str("-")?,
        }
        write!(
            f,
            " user={:?} key={:?} status={} in={} out={} upstream_ms=",
            self.user, self.key, self.status, self.bytes_in, self.bytes_out
        )?;
        match self.upstream_ms {
            Some(ms) => write!(f, "{ms}")?,
            None => f.write_str("-")?,
        }
        write!(f, " total_ms={}", self.total_ms)?;
        if let Some(id) = self.request_id {
            write!(f, " request_id={id}")?;
        }
        f.write_str(self.outcome)
    }
}

thread_local! {
    /// The line being written; cleared, not freed, between requests.
    static BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Formats the line into this thread's buffer and writes it to stderr in one `write_all`
/// (std's stderr lock held, errors dropped). False, with nothing written, when the clock is
/// outside what [`push_line`] formats.
fn write_line(message: &dyn fmt::Display, now: SystemTime) -> bool {
    write_line_with(message, now, &mut |bytes| {
        let _ = std::io::stderr().lock().write_all(bytes);
    })
}

fn write_line_with(
    message: &dyn fmt::Display,
    now: SystemTime,
    out: &mut dyn FnMut(&[u8]),
) -> bool {
    emit_with(&mut |buf| push_line(buf, message, now), out)
}

/// Has `fill` write a line into this thread's buffer and hands it to `out`; false, with nothing
/// written, when `fill` says the line cannot be made.
fn emit_with(fill: &mut dyn FnMut(&mut String) -> bool, out: &mut dyn FnMut(&[u8])) -> bool {
    let mut emit = |buf: &mut String| {
        buf.clear();
        if !fill(buf) {
            return false;
        }
        out(buf.as_bytes());
        if buf.capacity() > KEPT_CAPACITY {
            buf.clear();
            buf.shrink_to(KEPT_CAPACITY);
        }
        true
    };
    // The thread-local is unavailable only while the thread exits (or re-entered, which
    // nothing does): a one-off buffer then.
    match BUF.try_with(|buf| buf.try_borrow_mut().ok().map(|mut buf| emit(&mut buf))) {
        Ok(Some(written)) => written,
        _ => emit(&mut String::new()),
    }
}

/// Appends env_logger's line for `message` at `now`: `[<timestamp> INFO  bucketgate::access]
/// <message>\n`. False (and `buf` unspecified) for a clock before 1970 or after 9999.
fn push_line(buf: &mut String, message: &dyn fmt::Display, now: SystemTime) -> bool {
    buf.push('[');
    if !push_timestamp(buf, now) {
        return false;
    }
    buf.push_str(HEADER_TAIL);
    let start = buf.len();
    // Writing into a String cannot fail, and `Line` never returns an error of its own.
    let _ = write!(buf, "{message}");
    if buf[start..].contains('\n') {
        // env_logger's default `format_indent(Some(4))`.
        let indented = buf[start..].replace('\n', "\n    ");
        buf.truncate(start);
        buf.push_str(&indented);
    }
    buf.push('\n');
    true
}

/// Appends `now` in UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`, milliseconds truncated (what jiff prints
/// for env_logger's `{:.3}`). False for a clock before 1970 or after 9999.
pub(crate) fn push_timestamp(buf: &mut String, now: SystemTime) -> bool {
    let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
        return false;
    };
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    if year > 9999 {
        return false;
    }
    let of_day = secs % 86_400;
    push_digits(buf, year, 4);
    buf.push('-');
    push_digits(buf, month, 2);
    buf.push('-');
    push_digits(buf, day, 2);
    buf.push('T');
    push_digits(buf, of_day / 3600, 2);
    buf.push(':');
    push_digits(buf, of_day / 60 % 60, 2);
    buf.push(':');
    push_digits(buf, of_day % 60, 2);
    buf.push('.');
    push_digits(buf, u64::from(since_epoch.subsec_millis()), 3);
    buf.push('Z');
    true
}

/// The last `width` decimal digits of `n`, zero-padded.
fn push_digits(buf: &mut String, n: u64, width: u32) {
    for i in (0..width).rev() {
        let digit = (n / 10u64.pow(i) % 10) as u8;
        buf.push(char::from(b'0' + digit));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use log::Log;

    use super::*;

    fn line<'a>(route: Option<(usize, Option<&'a str>)>, user: &'a str, key: &'a str) -> Line<'a> {
        Line {
            client: None,
            method: "GET",
            route,
            user,
            key,
            status: 206,
            bytes_in: 0,
            bytes_out: 262_144,
            upstream_ms: Some(2),
            total_ms: 9,
            request_id: None,
            outcome: " aborted=client",
        }
    }

    /// What a `Write` received, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The line env_logger prints for `message`, configured as `main` configures it, and the
    /// clock just before and just after.
    fn env_logger_line(message: &dyn fmt::Display) -> (String, SystemTime, SystemTime) {
        let captured = Captured::default();
        let logger = env_logger::Builder::new()
            .filter_level(log::LevelFilter::Info)
            .format_timestamp_millis()
            .target(env_logger::Target::Pipe(Box::new(captured.clone())))
            .build();
        let before = SystemTime::now();
        logger.log(
            &log::Record::builder()
                .target(TARGET)
                .level(log::Level::Info)
                .args(format_args!("{message}"))
                .build(),
        );
        let after = SystemTime::now();
        let bytes = captured.0.lock().unwrap().clone();
        (String::from_utf8(bytes).unwrap(), before, after)
    }

    fn ours(message: &dyn fmt::Display, now: SystemTime) -> String {
        let mut buf = String::new();
        assert!(push_line(&mut buf, message, now));
        buf
    }

    #[track_caller]
    fn assert_same_as_env_logger(message: &dyn fmt::Display) {
        let (theirs, before, after) = env_logger_line(message);
        let (a, b) = (ours(message, before), ours(message, after));
        assert!(
            theirs == a || theirs == b,
            "env_logger: {theirs:?}\nours:       {a:?}\n        or: {b:?}"
        );
    }

    #[test]
    fn lines_are_byte_for_byte_env_loggers() {
        assert_same_as_env_logger(&line(Some((0, Some("videos"))), "alice", "a/b.mp4"));
        assert_same_as_env_logger(&line(Some((3, None)), "-", "-"));
        assert_same_as_env_logger(&line(None, "-", "-"));
        // Escapes inside the quoted fields, and a raw newline (indented by env_logger).
        assert_same_as_env_logger(&line(
            Some((1, Some("two\nlines"))),
            "bob \"b\"",
            "k\ney\u{7}",
        ));
        assert_same_as_env_logger(&"ends with a newline\n");
    }

    #[test]
    fn the_message_is_the_one_log_info_printed_before() {
        let text = line(Some((2, None)), "carol", "dir/ünï.txt").to_string();
        assert_eq!(
            text,
            "- GET route=route2 user=\"carol\" key=\"dir/ünï.txt\" status=206 in=0 out=262144 \
             upstream_ms=2 total_ms=9 aborted=client"
        );
        let mut no_upstream = line(Some((0, Some("files"))), "-", "-");
        no_upstream.upstream_ms = None;
        no_upstream.outcome = "";
        assert!(no_upstream.to_string().ends_with(
            "route=files user=\"-\" key=\"-\" status=206 in=0 out=262144 upstream_ms=- total_ms=9"
        ));
        // S3 routes: the request id the client got, before the outcome.
        let mut s3 = line(Some((1, Some("s3"))), "alice", "a.txt");
        s3.request_id = Some("0A1B2C3D4E5F6071");
        assert!(
            s3.to_string()
                .ends_with(" total_ms=9 request_id=0A1B2C3D4E5F6071 aborted=client"),
            "{s3}"
        );
    }

    #[test]
    fn timestamps_match_the_time_crate() {
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let mut secs: u64 = 0;
        let mut checked = 0;
        // Every day boundary region from 1970 to 9999 in uneven steps, plus the leap-day and
        // end-of-range edges.
        let edges = [
            68_169_599,      // 1972-02-29T23:59:59
            951_782_400,     // 2000-02-29
            4_107_542_399,   // 2100-02-28T23:59:59
            4_107_542_400,   // 2100-03-01
            253_402_300_799, // 9999-12-31T23:59:59
        ];
        while secs < 253_402_300_800 {
            for s in [secs, secs + 86_399].into_iter().chain(edges) {
                for millis in [0u32, 7, 999] {
                    let t = UNIX_EPOCH + Duration::new(s, millis * 1_000_000 + 999_999);
                    let mut ours = String::new();
                    assert!(push_timestamp(&mut ours, t));
                    let dt = time::OffsetDateTime::from_unix_timestamp(s as i64).unwrap();
                    let expected = format!("{}.{millis:03}Z", dt.format(&format).unwrap());
                    assert_eq!(ours, expected, "{s}");
                    checked += 1;
                }
            }
            secs += 86_400 * 373 + 3_601;
        }
        assert!(checked > 100_000);
        let mut buf = String::new();
        assert!(!push_timestamp(
            &mut buf,
            UNIX_EPOCH + Duration::from_secs(253_402_300_800)
        ));
        assert!(!push_timestamp(
            &mut buf,
            UNIX_EPOCH - Duration::from_secs(1)
        ));
    }

    #[test]
    fn plain_only_where_env_logger_prints_no_colors_and_has_no_message_filter() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        // A pipe or a file, nothing set: plain; a terminal: maybe colors.
        assert!(env_logger_writes_plain("info", env(&[]), false));
        assert!(!env_logger_writes_plain("info", env(&[]), true));
        // A message filter: only env_logger applies it.
        assert!(!env_logger_writes_plain("info/GET", env(&[]), false));
        assert!(!env_logger_writes_plain(
            "bucketgate=debug/status=5",
            env(&[("RUST_LOG_STYLE", "never")]),
            false
        ));
        // RUST_LOG_STYLE wins over everything else.
        assert!(env_logger_writes_plain(
            "info",
            env(&[("RUST_LOG_STYLE", "never")]),
            true
        ));
        assert!(!env_logger_writes_plain(
            "info",
            env(&[("RUST_LOG_STYLE", "always")]),
            false
        ));
        assert!(!env_logger_writes_plain(
            "info",
            env(&[("RUST_LOG_STYLE", "always"), ("NO_COLOR", "1")]),
            false
        ));
        // Then anstream's: NO_COLOR, CLICOLOR_FORCE, CLICOLOR=0, the terminal.
        assert!(env_logger_writes_plain(
            "info",
            env(&[("NO_COLOR", "1")]),
            true
        ));
        assert!(env_logger_writes_plain(
            "info",
            env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]),
            true
        ));
        assert!(!env_logger_writes_plain(
            "info",
            env(&[("NO_COLOR", "")]),
            true
        ));
        assert!(!env_logger_writes_plain(
            "info",
            env(&[("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(!env_logger_writes_plain(
            "info",
            env(&[("RUST_LOG_STYLE", "auto"), ("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(env_logger_writes_plain(
            "info",
            env(&[("CLICOLOR", "0")]),
            true
        ));
        assert!(!env_logger_writes_plain(
            "info",
            env(&[("CLICOLOR", "1")]),
            true
        ));
    }

    #[test]
    fn one_write_per_line_and_the_buffer_is_reused_but_not_kept_huge() {
        let capacity = || BUF.with(|b| b.borrow().capacity());
        let mut writes = Vec::new();
        let small = line(Some((0, Some("files"))), "-", "a.txt");
        assert!(write_line_with(&small, SystemTime::now(), &mut |b| writes.push(b.to_vec())));
        let reused = capacity();
        assert!(reused > 0 && reused <= KEPT_CAPACITY);
        let huge = "k".repeat(64 * 1024);
        assert!(write_line_with(
            &line(None, "-", &huge),
            SystemTime::now(),
            &mut |b| writes.push(b.to_vec())
        ));
        assert!(capacity() <= KEPT_CAPACITY, "kept {}", capacity());
        assert!(write_line_with(&small, SystemTime::now(), &mut |b| writes.push(b.to_vec())));
        assert_eq!(writes.len(), 3);
        for w in &writes {
            let text = std::str::from_utf8(w).unwrap();
            assert!(text.starts_with('[') && text.ends_with('\n'));
            assert_eq!(text.matches('\n').count(), 1, "{text}");
        }
        assert!(writes[1].len() > 64 * 1024);
        assert!(String::from_utf8_lossy(&writes[2]).ends_with(
            " INFO  bucketgate::access] - GET route=files user=\"-\" key=\"a.txt\" status=206 \
             in=0 out=262144 upstream_ms=2 total_ms=9 aborted=client\n"
        ));
    }

    #[test]
    fn json_lines_parse_and_carry_the_text_lines_fields() {
        let mut l = line(Some((0, Some("vid\"eos\n"))), "al\u{1}ice", "k\\ey/ünï");
        let parse = |l: &Line<'_>, now: SystemTime| {
            let mut buf = String::new();
            push_json(&mut buf, l, now);
            assert!(buf.ends_with("}\n"), "{buf}");
            assert_eq!(buf.matches('\n').count(), 1, "{buf}");
            serde_json::from_str::<serde_json::Value>(&buf).unwrap_or_else(|e| panic!("{e}: {buf}"))
        };
        let v = parse(&l, UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
        assert_eq!(v["time"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["client"], "-");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["route"], "vid\"eos\n");
        assert_eq!(v["user"], "al\u{1}ice");
        assert_eq!(v["key"], "k\\ey/ünï");
        assert_eq!(v["status"], 206);
        assert_eq!(v["bytes_in"], 0);
        assert_eq!(v["bytes_out"], 262_144);
        assert_eq!(v["upstream_ms"], 2);
        assert_eq!(v["total_ms"], 9);
        assert_eq!(v["aborted"], "client");
        assert!(v.get("failed").is_none());
        assert!(v.get("request_id").is_none(), "only on S3 routes");
        l.request_id = Some("0A1B2C3D4E5F6071");
        assert_eq!(
            parse(&l, SystemTime::now())["request_id"],
            "0A1B2C3D4E5F6071"
        );
        l.request_id = None;

        l.route = Some((4, None));
        l.upstream_ms = None;
        l.outcome = " failed=true";
        let v = parse(&l, UNIX_EPOCH - Duration::from_secs(1));
        assert!(v["time"].is_null());
        assert_eq!(v["route"], "route4");
        assert!(v["upstream_ms"].is_null());
        assert_eq!(v["failed"], true);
        assert!(v.get("aborted").is_none());

        l.route = None;
        l.outcome = "";
        let v = parse(&l, SystemTime::now());
        assert_eq!(v["route"], "-");
        assert!(v.get("failed").is_none() && v.get("aborted").is_none());
    }

    #[test]
    fn a_clock_out_of_range_writes_nothing() {
        let mut wrote = false;
        let before_1970 = UNIX_EPOCH - Duration::from_secs(86_400);
        assert!(!write_line_with(
            &line(None, "-", "-"),
            before_1970,
            &mut |_| wrote = true
        ));
        assert!(!wrote);
    }
}
