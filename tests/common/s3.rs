//! A small S3 client for the `frontend: s3` tests: requests signed the way SDKs sign them,
//! built by hand so a test can also sign them wrongly.
//!
//! - Header signatures come from `aws-sigv4` (through [`super::sign`]), so bucketgate's verifier
//!   is checked against an independent signer.
//! - Presigned URLs, `aws-chunked` chunk signatures and the unsigned-trailer form are written
//!   here from the AWS documentation (HMAC-SHA256 chains), because `aws-sigv4` cannot sign with
//!   a chosen clock for query signatures nor produce chunk signatures.
//! - [`S3Client::at_time`] signs with a skewed clock; [`S3Client::with_host`] sends another
//!   `Host` (virtual-host addressing) while connecting to the same address.
//!
//! Plus the few XML and checksum helpers the tests need (`xml_values`, [`assert_s3_error`],
//! [`md5_base64`], [`crc32_base64`]).

use std::io::{self, Write};
use std::net::Shutdown;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};

use super::client::{self, Conn, Response};
use super::sign::{self, Keys, UNSIGNED_PAYLOAD};
use super::upstream::Upstream;
use super::{encode_query_component, sha256_hex};

/// `x-amz-content-sha256` of a signed aws-chunked upload.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `x-amz-content-sha256` of an unsigned aws-chunked upload with a checksum trailer.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = Hmac<sha2::Sha256>;

/// How a signed aws-chunked upload is cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// `Content-Length` announces the whole body; the client sends everything but the final
    /// zero-length chunk, then half-closes the connection.
    CloseBeforeFinalChunk,
    /// `Content-Length` matches what is sent, which is every data chunk but no final
    /// zero-length chunk: complete HTTP framing around an incomplete aws-chunked body.
    FramedWithoutFinalChunk,
}

/// A signing S3 client for one gateway address and one key pair.
#[derive(Debug, Clone)]
pub struct S3Client {
    /// Where to connect: `127.0.0.1:PORT`.
    pub addr: String,
    /// The `Host` header sent and signed (defaults to `addr`).
    pub host: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    /// Sign as of this instant instead of now.
    pub time: Option<SystemTime>,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body's SHA-256.
    pub unsigned_payload: bool,
}

impl S3Client {
    pub fn new(addr: &str, access_key: &str, secret_key: &str) -> S3Client {
        S3Client {
            addr: addr.to_owned(),
            host: addr.to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: "us-east-1".into(),
            time: None,
            unsigned_payload: false,
        }
    }

    /// The same client sending (and signing) `Host: host`.
    pub fn with_host(&self, host: &str) -> S3Client {
        S3Client {
            host: host.to_owned(),
            ..self.clone()
        }
    }

    /// The same client signing as of `t` (a skewed clock).
    pub fn at_time(&self, t: SystemTime) -> S3Client {
        S3Client {
            time: Some(t),
            ..self.clone()
        }
    }

    /// The same client signing `UNSIGNED-PAYLOAD`.
    pub fn unsigned(&self) -> S3Client {
        S3Client {
            unsigned_payload: true,
            ..self.clone()
        }
    }

    /// The same client with other keys.
    pub fn with_keys(&self, access_key: &str, secret_key: &str) -> S3Client {
        S3Client {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            ..self.clone()
        }
    }

    fn now(&self) -> SystemTime {
        self.time.unwrap_or_else(SystemTime::now)
    }

    fn keys(&self) -> Keys<'_> {
        Keys {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            region: &self.region,
        }
    }

    /// Every header of a signed request: `Host`, the given ones, then `authorization`,
    /// `x-amz-date` and `x-amz-content-sha256` (= `payload_hash`). `path_and_query` must be
    /// encoded exactly as it will be sent.
    pub fn signed_headers(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
    ) -> Vec<(String, String)> {
        let signed = sign::sign_headers(
            &self.keys(),
            method,
            &self.host,
            path_and_query,
            headers,
            payload_hash,
            self.now(),
        );
        let mut all = vec![("Host".to_owned(), self.host.clone())];
        all.extend(
            headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        all.extend(signed);
        all
    }

    /// Sends a request with exactly these headers (plus `Content-Length` for a body and
    /// `Connection: close`). PUT and POST without a body send an empty one.
    #[track_caller]
    pub fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Response {
        let hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = match (body, method) {
            (Some(b), _) => Some(b),
            (None, "PUT" | "POST") => Some(&b""[..]),
            (None, _) => None,
        };
        client::try_request(&self.addr, method, path_and_query, &hs, body).unwrap_or_else(|e| {
            panic!(
                "{method} {path_and_query} (Host {}) to bucketgate at {} failed: {e}",
                self.host, self.addr
            )
        })
    }

    /// A request signed in the `Authorization` header; the payload hash is the body's SHA-256
    /// (or `UNSIGNED-PAYLOAD` for an [`S3Client::unsigned`] client).
    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let hash = if self.unsigned_payload {
            UNSIGNED_PAYLOAD.to_owned()
        } else {
            sha256_hex(body.unwrap_or_default())
        };
        self.request_with_payload_hash(method, path_and_query, headers, body, &hash)
    }

    /// DeleteObjects (`POST /{bucket}?delete`) of `keys`, not quiet, with its Content-MD5.
    #[track_caller]
    pub fn delete_objects(&self, bucket: &str, keys: &[&str]) -> Response {
        let mut body = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for k in keys {
            body.push_str(&format!("<Object><Key>{}</Key></Object>", xml_escape(k)));
        }
        body.push_str("<Quiet>false</Quiet></Delete>");
        let md5 = md5_base64(body.as_bytes());
        self.request(
            "POST",
            &format!("/{bucket}?delete"),
            &[("content-md5", &md5), ("content-type", "application/xml")],
            Some(body.as_bytes()),
        )
    }

    /// A request whose signed `x-amz-content-sha256` is `payload_hash`, whatever the body.
    #[track_caller]
    pub fn request_with_payload_hash(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        payload_hash: &str,
    ) -> Response {
        let all = self.signed_headers(method, path_and_query, headers, payload_hash);
        self.send(method, path_and_query, &all, body)
    }

    /// Shorthands.
    #[track_caller]
    pub fn get(&self, path_and_query: &str) -> Response {
        self.request("GET", path_and_query, &[], None)
    }

    #[track_caller]
    pub fn head(&self, path_and_query: &str) -> Response {
        self.request("HEAD", path_and_query, &[], None)
    }

    #[track_caller]
    pub fn put(&self, path_and_query: &str, body: &[u8]) -> Response {
        self.request("PUT", path_and_query, &[], Some(body))
    }

    #[track_caller]
    pub fn delete(&self, path_and_query: &str) -> Response {
        self.request("DELETE", path_and_query, &[], None)
    }

    /// A presigned `path?query` (query signature, `UNSIGNED-PAYLOAD`, only `host` signed) as
    /// signed at `at` and valid for `expires_secs` from then. `path` must be encoded as it will
    /// be sent; it may carry a query already (canonically encoded), which is signed too.
    pub fn presign(&self, method: &str, path: &str, expires_secs: u64, at: SystemTime) -> String {
        let (amz_date, date) = amz_dates(at);
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let mut params: Vec<(String, String)> = q
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv.to_owned(), String::new()),
            })
            .collect();
        let credential = format!("{}/{scope}", self.access_key);
        for (k, v) in [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", credential.as_str()),
            ("X-Amz-Date", amz_date.as_str()),
            ("X-Amz-Expires", &expires_secs.to_string()),
            ("X-Amz-SignedHeaders", "host"),
        ] {
            params.push((k.to_owned(), encode_query_component(v)));
        }
        params.sort();
        let cq: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cq = cq.join("&");
        let canonical = format!(
            "{method}\n{p}\n{cq}\nhost:{}\n\nhost\n{UNSIGNED_PAYLOAD}",
            self.host
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let sig = hex::encode(hmac(&self.signing_key(&date), sts.as_bytes()));
        format!("{p}?{cq}&X-Amz-Signature={sig}")
    }

    /// Sends a presigned request: only `Host` (plus the body's length), no signature headers.
    #[track_caller]
    pub fn send_presigned(&self, method: &str, url: &str, body: Option<&[u8]>) -> Response {
        self.send(method, url, &[("Host".into(), self.host.clone())], body)
    }

    /// The SigV4 signing key for `date` (`YYYYMMDD`).
    pub fn signing_key(&self, date: &str) -> Vec<u8> {
        let k = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        );
        let k = hmac(&k, self.region.as_bytes());
        let k = hmac(&k, b"s3");
        hmac(&k, b"aws4_request")
    }

    /// The head and aws-chunked body of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` PUT of `data` in
    /// chunks of `chunk_size`, chunk signatures chained from the seed signature. `forge_chunk`
    /// (0-based; `data.len().div_ceil(chunk_size)` is the final empty chunk) gets a wrong
    /// signature. Returns (headers, body, offset where the final chunk starts).
    fn streaming_signed_parts(
        &self,
        path: &str,
        data: &[u8],
        chunk_size: usize,
        forge_chunk: Option<usize>,
    ) -> (Vec<(String, String)>, Vec<u8>, usize) {
        assert!(chunk_size > 0);
        let decoded = data.len().to_string();
        let given = [
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", decoded.as_str()),
        ];
        let headers = self.signed_headers("PUT", path, &given, STREAMING_SIGNED);
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("aws-sigv4 gave no {name} header: {headers:?}"))
        };
        let amz_date = find("x-amz-date");
        let auth = find("authorization");
        let seed = auth
            .rsplit("Signature=")
            .next()
            .expect("a Signature= in the authorization header")
            .trim()
            .to_owned();
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let key = self.signing_key(date);

        let mut chunks: Vec<&[u8]> = data.chunks(chunk_size).collect();
        chunks.push(&[]);
        let mut body = Vec::with_capacity(data.len() + chunks.len() * 100);
        let mut prev = seed;
        let mut final_at = 0;
        for (i, c) in chunks.iter().enumerate() {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{EMPTY_SHA256}\n{}",
                sha256_hex(c)
            );
            let mut sig = hex::encode(hmac(&key, sts.as_bytes()));
            if forge_chunk == Some(i) {
                // Flip the first hex digit: still well-formed, no longer right.
                let first = if sig.starts_with('0') { "1" } else { "0" };
                sig.replace_range(0..1, first);
            }
            if c.is_empty() {
                final_at = body.len();
            }
            body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
            prev = sig;
        }
        (headers, body, final_at)
    }

    /// A signed aws-chunked PUT (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, `Content-Encoding:
    /// aws-chunked`, `x-amz-decoded-content-length`, the encoded `Content-Length`), optionally
    /// with one chunk's signature forged. An I/O error means the gateway hung up.
    pub fn put_streaming_signed(
        &self,
        path: &str,
        data: &[u8],
        chunk_size: usize,
        forge_chunk: Option<usize>,
    ) -> io::Result<Response> {
        let (headers, body, _) = self.streaming_signed_parts(path, data, chunk_size, forge_chunk);
        let hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        client::try_request(&self.addr, "PUT", path, &hs, Some(&body))
    }

    /// A correctly signed aws-chunked PUT cut short before its final chunk (see
    /// [`Truncation`]). An I/O error means the gateway hung up without answering.
    pub fn put_streaming_signed_truncated(
        &self,
        path: &str,
        data: &[u8],
        chunk_size: usize,
        how: Truncation,
    ) -> io::Result<Response> {
        let (headers, body, final_at) = self.streaming_signed_parts(path, data, chunk_size, None);
        let announced = match how {
            Truncation::CloseBeforeFinalChunk => body.len(),
            Truncation::FramedWithoutFinalChunk => final_at,
        };
        let hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut stream = client::connect(&self.addr)?;
        let mut bytes = client::build_head(&self.addr, "PUT", path, &hs, Some(announced as u64));
        bytes.extend_from_slice(&body[..final_at]);
        // The gateway may answer and close early; what it answered is what counts.
        let _ = stream.write_all(&bytes);
        if how == Truncation::CloseBeforeFinalChunk {
            let _ = stream.shutdown(Shutdown::Write);
        }
        Conn::new(stream).read_response("PUT")
    }

    /// An unsigned aws-chunked PUT with a CRC32 trailer (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
    /// `x-amz-trailer: x-amz-checksum-crc32`), the header signature covering the headers only.
    /// `checksum`: the trailer value to send instead of the payload's real CRC32 (base64).
    pub fn put_unsigned_trailer(
        &self,
        path: &str,
        data: &[u8],
        chunk_size: usize,
        checksum: Option<&str>,
    ) -> io::Result<Response> {
        let decoded = data.len().to_string();
        let given = [
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", decoded.as_str()),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ];
        let headers = self.signed_headers("PUT", path, &given, STREAMING_UNSIGNED_TRAILER);
        let mut body = Vec::with_capacity(data.len() + 256);
        for c in data.chunks(chunk_size.max(1)) {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        let crc = checksum.map_or_else(|| crc32_base64(data), str::to_owned);
        body.extend_from_slice(format!("0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
        let hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        client::try_request(&self.addr, "PUT", path, &hs, Some(&body))
    }
}

/// (`YYYYMMDDTHHMMSSZ`, `YYYYMMDD`) of `t`, UTC.
pub fn amz_dates(t: SystemTime) -> (String, String) {
    let dt = time::OffsetDateTime::from(t);
    let full = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let date = full[..8].to_owned();
    (full, date)
}

pub fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Base64 of the big-endian CRC32 (IEEE) of `data`, as in `x-amz-checksum-crc32`.
pub fn crc32_base64(data: &[u8]) -> String {
    BASE64.encode(crc32fast::hash(data).to_be_bytes())
}

/// `Content-MD5` of `data`: base64 of its MD5 (the `md-5` crate, which bucketgate uses too;
/// checked against the RFC 1321 vectors in the tests).
pub fn md5_base64(data: &[u8]) -> String {
    BASE64.encode(md5(data))
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

/// Every text of `<tag>...</tag>` in `xml`, in order, entities decoded. Good enough for S3's
/// flat, attribute-free responses.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next())
        .map(xml_unescape)
        .collect()
}

/// The first text of `<tag>`.
pub fn xml_value(xml: &str, tag: &str) -> Option<String> {
    xml_values(xml, tag).into_iter().next()
}

/// The `<Prefix>` of every `<CommonPrefixes>` entry.
pub fn common_prefixes(xml: &str) -> Vec<String> {
    xml_values(xml, "CommonPrefixes")
        .iter()
        .flat_map(|cp| xml_values(cp, "Prefix"))
        .collect()
}

/// The `<Key>` of every `<Contents>` entry.
pub fn content_keys(xml: &str) -> Vec<String> {
    xml_values(xml, "Contents")
        .iter()
        .flat_map(|c| xml_values(c, "Key"))
        .collect()
}

pub fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The `<Code>` of an S3 error body, if it is one.
pub fn error_code(r: &Response) -> Option<String> {
    let text = r.text();
    if !text.contains("<Error>") {
        return None;
    }
    xml_value(&text, "Code")
}

/// Panics with the whole response unless it has `status` and an S3 XML error body whose
/// `<Code>` is `code` (for HEAD, which has no body, check the status alone).
#[track_caller]
pub fn assert_s3_error(r: &Response, status: u16, code: &str) {
    assert_eq!(
        r.status,
        status,
        "want {status} {code}; got headers {:?}, body: {}",
        r.headers,
        client::truncate_for_display(&r.body)
    );
    assert_eq!(
        error_code(r).as_deref(),
        Some(code),
        "want S3 error code {code} (status {status}); got headers {:?}, body: {}",
        r.headers,
        client::truncate_for_display(&r.body)
    );
}

/// Like [`assert_s3_error`], accepting any of `codes` and any of `statuses`.
#[track_caller]
pub fn assert_s3_error_any(r: &Response, statuses: &[u16], codes: &[&str]) {
    let code = error_code(r);
    assert!(
        statuses.contains(&r.status) && code.as_deref().is_some_and(|c| codes.contains(&c)),
        "want status {statuses:?} with code {codes:?}; got {} {:?}, headers {:?}, body: {}",
        r.status,
        code,
        r.headers,
        client::truncate_for_display(&r.body)
    );
}

/// Asserts that `bucket/key` does not exist upstream, now and for a short while (a gateway
/// that let an upload through might still be finishing it).
#[track_caller]
pub fn assert_not_stored(bucket: &str, key: &str) {
    let up = Upstream::get();
    for _ in 0..5 {
        if let Some((body, _)) = up.get_object(bucket, key) {
            panic!(
                "{bucket}/{key} was stored upstream ({} bytes) but should not have been",
                body.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that `bucket/key` holds exactly `want` upstream.
#[track_caller]
pub fn assert_stored(bucket: &str, key: &str, want: &[u8]) {
    let (got, _) = Upstream::get()
        .get_object(bucket, key)
        .unwrap_or_else(|| panic!("{bucket}/{key} is not stored upstream"));
    assert!(
        got == want,
        "{bucket}/{key} upstream holds {} bytes (sha256 {}), want {} bytes (sha256 {})",
        got.len(),
        sha256_hex(&got),
        want.len(),
        sha256_hex(want)
    );
}
