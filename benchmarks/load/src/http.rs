//! The smallest HTTP/1.1 client the harness needs: one request at a time on a keep-alive
//! `TcpStream`, `Content-Length` or chunked responses, bodies counted and thrown away. Written
//! by hand so the bytes on the wire are exactly what we say (no hidden retries, pooling or
//! decompression) and the time of the first response byte is ours to take.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `http://host:port/path?query`, split once.
#[derive(Clone, Default)]
pub struct Target {
    /// `host:port`, connected to and sent as `Host`.
    pub authority: String,
    /// Path and query, sent verbatim.
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || path.contains([' ', '\r', '\n']) {
            return Err(format!("bad URL {url}"));
        }
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            authority,
            path: path.to_string(),
        })
    }
}

/// What one response was.
pub struct Response {
    pub status: u16,
    pub body_len: u64,
    /// When the first byte of the response arrived.
    pub first_byte: Instant,
}

pub struct Conn {
    reader: BufReader<TcpStream>,
    line: String,
}

const TIMEOUT: Duration = Duration::from_secs(120);

impl Conn {
    pub fn open(t: &Target) -> std::io::Result<Conn> {
        let s = TcpStream::connect(&t.authority)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.set_write_timeout(Some(TIMEOUT))?;
        Ok(Conn {
            reader: BufReader::with_capacity(256 << 10, s),
            line: String::new(),
        })
    }

    /// Sends one request (with `put = Some((length, chunk))`, a body of `length` bytes made of
    /// `chunk` repeated) and reads the whole response. Gives the connection back when it can be
    /// reused.
    pub fn request(
        mut self,
        method: &str,
        t: &Target,
        headers: &[String],
        put: Option<(u64, &[u8])>,
    ) -> Result<(Option<Conn>, Response), &'static str> {
        let mut head = format!("{method} {} HTTP/1.1\r\nHost: {}\r\n", t.path, t.authority);
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        if let Some((len, _)) = put {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        head.push_str("\r\n");
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes()).map_err(|_| "write")?;
        if let Some((mut left, chunk)) = put {
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                s.write_all(&chunk[..n]).map_err(|_| "write body")?;
                left -= n as u64;
            }
        }
        if self.reader.fill_buf().map_err(|_| "read")?.is_empty() {
            return Err("closed before response");
        }
        let first_byte = Instant::now();
        let status = self.status_line()?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            self.read_line()?;
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err("bad header");
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<u64>().map_err(|_| "bad content-length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let no_body =
            method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
        let body_len = if no_body {
            0
        } else if chunked {
            self.chunked_body()?
        } else if let Some(n) = length {
            self.skip(n)?;
            n
        } else {
            // Delimited by close.
            close = true;
            std::io::copy(&mut self.reader, &mut std::io::sink()).map_err(|_| "read body")?
        };
        let resp = Response {
            status,
            body_len,
            first_byte,
        };
        Ok(((!close).then_some(self), resp))
    }

    fn read_line(&mut self) -> Result<(), &'static str> {
        self.line.clear();
        // Header lines are short; a peer sending megabytes without a newline is broken.
        let n = (&mut self.reader)
            .take(64 << 10)
            .read_line(&mut self.line)
            .map_err(|_| "read head")?;
        if n == 0 || !self.line.ends_with('\n') {
            return Err("truncated head");
        }
        Ok(())
    }

    fn status_line(&mut self) -> Result<u16, &'static str> {
        loop {
            self.read_line()?;
            let code = self
                .line
                .strip_prefix("HTTP/1.")
                .and_then(|r| r.get(2..5))
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or("bad status line")?;
            if code != 100 {
                return Ok(code);
            }
            // 100 Continue: skip its (empty) header block.
            loop {
                self.read_line()?;
                if self.line.trim_end().is_empty() {
                    break;
                }
            }
        }
    }

    fn skip(&mut self, mut n: u64) -> Result<(), &'static str> {
        while n > 0 {
            let buf = self.reader.fill_buf().map_err(|_| "read body")?;
            if buf.is_empty() {
                return Err("body cut short");
            }
            let k = (buf.len() as u64).min(n) as usize;
            self.reader.consume(k);
            n -= k as u64;
        }
        Ok(())
    }

    fn chunked_body(&mut self) -> Result<u64, &'static str> {
        let mut total = 0u64;
        loop {
            self.read_line()?;
            let size = self.line.trim_end().split(';').next().unwrap_or("");
            let size = u64::from_str_radix(size.trim(), 16).map_err(|_| "bad chunk size")?;
            if size == 0 {
                loop {
                    self.read_line()?;
                    if self.line.trim_end().is_empty() {
                        return Ok(total);
                    }
                }
            }
            self.skip(size)?;
            total += size;
            self.read_line()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server on a free port that answers each request (read up to its blank line) with the
    /// next canned response, then closes. Gives the target and the requests it saw.
    fn canned(
        responses: &'static [&'static str],
    ) -> (Target, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let t = Target::parse(&format!("http://{}/b/k?x=1", l.local_addr().unwrap())).unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut seen = Vec::new();
            for r in responses {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap() == 1 {
                    head.push(b[0]);
                }
                seen.push(String::from_utf8(head).unwrap());
                s.write_all(r.as_bytes()).unwrap();
            }
            seen
        });
        (t, h)
    }

    #[test]
    fn keep_alive_chunked_and_continue() {
        let (t, h) = canned(&[
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            "HTTP/1.1 206 Partial\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        ]);
        let c = Conn::open(&t).unwrap();
        let (c, r) = c
            .request("GET", &t, &["Range: bytes=0-4".into()], None)
            .unwrap();
        assert_eq!((r.status, r.body_len), (200, 5));
        let (c, r) = c.unwrap().request("GET", &t, &[], None).unwrap();
        assert_eq!((r.status, r.body_len), (206, 5));
        let (c, r) = c.unwrap().request("GET", &t, &[], None).unwrap();
        assert_eq!((r.status, r.body_len), (404, 2));
        assert!(c.is_none(), "Connection: close must not be reused");
        let seen = h.join().unwrap();
        assert!(seen[0].starts_with("GET /b/k?x=1 HTTP/1.1\r\nHost: 127.0.0.1:"));
        assert!(seen[0].contains("\r\nRange: bytes=0-4\r\n"));
    }

    #[test]
    fn short_body_is_an_error() {
        let (t, h) = canned(&["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]);
        let c = Conn::open(&t).unwrap();
        assert_eq!(
            c.request("GET", &t, &[], None).err(),
            Some("body cut short")
        );
        h.join().unwrap();
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(Target::parse("https://h/x").is_err());
        assert!(Target::parse("http:///x").is_err());
        assert!(Target::parse("http://h/a b").is_err());
        assert_eq!(Target::parse("http://h").unwrap().authority, "h:80");
    }
}
