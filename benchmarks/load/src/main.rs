//! `loadgen`: the load client of bucketgate's load harness (`benchmarks/load/run.sh`) for what
//! wrk cannot do here: PUT of large bodies, time-to-first-byte, random `Range` reads and a
//! fixed-rate (open-loop) mode, since wrk2 is not packaged.
//!
//! Std threads, one keep-alive HTTP/1.1 connection per thread, raw requests on `TcpStream`: no
//! dependencies, so it builds in seconds and costs little CPU next to the proxy it measures.
//! It prints one JSON object with counts, throughput and latency/TTFB percentiles.
//!
//! ```text
//! loadgen [options] GET|PUT URL
//!   -c N            concurrent connections, one thread each (default 1)
//!   -d SECS         run for SECS seconds ...
//!   -n N            ... or for N requests in all (default 1)
//!   -H 'Name: v'    extra request header (repeatable)
//!   --put-size B    PUT body of B bytes (required for PUT)
//!   --range B/S     each GET asks `Range` for B bytes at a random offset in an S-byte object
//!   --rate R        start R requests a second in all (open loop; latency counts from the
//!                   scheduled start, so a stalled server is not hidden by fewer requests)
//! ```

mod http;
mod stats;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Conn, Target};
use stats::Recorder;

/// Parsed command line.
#[derive(Clone)]
struct Options {
    method: String,
    target: Target,
    connections: usize,
    duration: Option<Duration>,
    requests: u64,
    headers: Vec<String>,
    put_size: u64,
    range: Option<(u64, u64)>,
    rate: Option<f64>,
}

fn usage(why: &str) -> ExitCode {
    eprintln!("loadgen: {why}\nusage: loadgen [-c N] [-d SECS | -n N] [-H 'Name: v']... [--put-size B] [--range B/S] [--rate R] GET|PUT URL");
    ExitCode::from(2)
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut o = Options {
        method: String::new(),
        target: Target::default(),
        connections: 1,
        duration: None,
        requests: 1,
        headers: Vec::new(),
        put_size: 0,
        range: None,
        rate: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "-c" => o.connections = num(&value("-c")?)?,
            "-d" => o.duration = Some(Duration::from_secs_f64(num(&value("-d")?)?)),
            "-n" => o.requests = num(&value("-n")?)?,
            "-H" => o.headers.push(value("-H")?),
            "--put-size" => o.put_size = num(&value("--put-size")?)?,
            "--rate" => o.rate = Some(num(&value("--rate")?)?),
            "--range" => {
                let v = value("--range")?;
                let (b, s) = v.split_once('/').ok_or("--range is B/S")?;
                let (b, s): (u64, u64) = (num(b)?, num(s)?);
                if b == 0 || b > s {
                    return Err("--range B/S needs 0 < B <= S".into());
                }
                o.range = Some((b, s));
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ => positional.push(a.clone()),
        }
    }
    let [method, url] = positional.as_slice() else {
        return Err("expected METHOD URL".into());
    };
    o.method = method.to_ascii_uppercase();
    if o.method != "GET" && o.method != "PUT" {
        return Err(format!("method {method}: only GET and PUT"));
    }
    o.target = Target::parse(url)?;
    if o.connections == 0 || o.requests == 0 {
        return Err("-c and -n must be at least 1".into());
    }
    if o.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("--rate must be positive".into());
    }
    if o.headers
        .iter()
        .any(|h| !h.contains(':') || h.contains('\r') || h.contains('\n'))
    {
        return Err("-H takes 'Name: value' on one line".into());
    }
    Ok(o)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

/// The shared request counter and clock of one run.
struct Plan {
    start: Instant,
    end: Option<Instant>,
    next: AtomicU64,
}

impl Plan {
    /// The next request's number and, in rate mode, its scheduled start; `None` when done.
    fn take(&self, o: &Options) -> Option<(u64, Option<Instant>)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match (self.end, o.rate) {
            (Some(end), Some(rate)) => {
                let at = self.start + Duration::from_secs_f64(i as f64 / rate);
                (at < end).then_some((i, Some(at)))
            }
            (Some(end), None) => (Instant::now() < end).then_some((i, None)),
            (None, Some(rate)) => (i < o.requests).then(|| {
                (
                    i,
                    Some(self.start + Duration::from_secs_f64(i as f64 / rate)),
                )
            }),
            (None, None) => (i < o.requests).then_some((i, None)),
        }
    }
}

fn worker(o: &Options, plan: &Plan, seed: u64) -> Recorder {
    let mut rec = Recorder::default();
    let mut conn: Option<Conn> = None;
    let mut rng = seed | 1;
    let body = vec![b'x'; 1 << 20];
    while let Some((_, scheduled)) = plan.take(o) {
        if let Some(at) = scheduled {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        let mut headers = o.headers.clone();
        let mut expect_len = None;
        if let Some((len, size)) = o.range {
            let off = xorshift(&mut rng) % (size - len + 1);
            headers.push(format!("Range: bytes={}-{}", off, off + len - 1));
            expect_len = Some(len);
        }
        let sent = Instant::now();
        let from = scheduled.unwrap_or(sent);
        let c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(&o.target) {
                Ok(c) => c,
                Err(_) => {
                    rec.error("connect");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            },
        };
        let put = (o.method == "PUT").then_some((o.put_size, body.as_slice()));
        match c.request(&o.method, &o.target, &headers, put) {
            Ok((c, r)) => {
                let done = Instant::now();
                let ok =
                    (200..300).contains(&r.status) && expect_len.is_none_or(|l| r.body_len == l);
                rec.record(
                    r.status,
                    ok,
                    r.body_len,
                    o.put_size * u64::from(put.is_some()),
                    done - from,
                    r.first_byte - from,
                );
                conn = c;
            }
            Err(why) => rec.error(why),
        }
    }
    rec
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => Arc::new(o),
        Err(why) => return usage(&why),
    };
    let start = Instant::now();
    let plan = Arc::new(Plan {
        start,
        end: o.duration.map(|d| start + d),
        next: AtomicU64::new(0),
    });
    let threads: Vec<_> = (0..o.connections)
        .map(|i| {
            let (o, plan) = (Arc::clone(&o), Arc::clone(&plan));
            let seed = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1)
                ^ start.elapsed().as_nanos() as u64;
            std::thread::spawn(move || worker(&o, &plan, seed))
        })
        .collect();
    let mut all = Recorder::default();
    for t in threads {
        match t.join() {
            Ok(r) => all.merge(r),
            Err(_) => all.error("thread panicked"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{}", all.json(secs));
    if all.ok_count() == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
