//! A reference aws-chunked decoder, written from the wire format alone (the AWS S3 API
//! reference, "Transferring Payload in Multiple Chunks" and "... Including Trailing Headers",
//! and the grammar and limits documented in `src/s3/chunked/parse.rs` and `trailer.rs`), and a
//! generator of valid bodies.
//!
//! It is deliberately simple and slow: the whole body at once, no state machine, bit-by-bit
//! CRCs, the base64 of the computed checksum compared as text. It shares no code with
//! `bucketgate::s3::chunked`; the fuzz targets check that both agree.
//!
//! ```text
//! body    = *chunk final trailer
//! chunk   = header CRLF data CRLF          ; size > 0, data is exactly size bytes
//! final   = header CRLF                    ; size = 0
//! header  = hex-size                       ; unsigned
//!         / hex-size ";chunk-signature=" 64HEXDIG   ; signed
//! hex-size = 1*16HEXDIG                    ; at most the largest chunk size
//! trailer = CRLF                           ; signed bodies without a trailer
//!         / *(line CRLF) [line]            ; with a trailer: blank lines allowed anywhere,
//!                                          ; lines at most 256 bytes with their CRLF, the
//!                                          ; section at most 1024 bytes, no CR but in CRLFs
//! ```

use base64::Engine as _;
use hmac::Mac;
use sha2::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// hex(sha256("")).
const EMPTY_SHA256_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The trailer checksums S3 accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

pub const ALGS: [Alg; 5] = [
    Alg::Crc32,
    Alg::Crc32c,
    Alg::Crc64Nvme,
    Alg::Sha1,
    Alg::Sha256,
];

impl Alg {
    pub fn header_name(self) -> &'static str {
        match self {
            Alg::Crc32 => "x-amz-checksum-crc32",
            Alg::Crc32c => "x-amz-checksum-crc32c",
            Alg::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Alg::Sha1 => "x-amz-checksum-sha1",
            Alg::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The checksum of `data`, big-endian bytes.
    pub fn checksum(self, data: &[u8]) -> Vec<u8> {
        match self {
            // Reflected CRCs, one bit at a time, initial value and final XOR all ones.
            Alg::Crc32 => (crc_reflected(data, 0xedb8_8320, 32) as u32)
                .to_be_bytes()
                .to_vec(),
            Alg::Crc32c => (crc_reflected(data, 0x82f6_3b78, 32) as u32)
                .to_be_bytes()
                .to_vec(),
            Alg::Crc64Nvme => crc_reflected(data, 0x9a6c_9329_ac4b_c9b5, 64)
                .to_be_bytes()
                .to_vec(),
            Alg::Sha1 => <sha1::Sha1 as sha1::Digest>::digest(data).to_vec(),
            Alg::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// What a client writes as the trailer value: standard base64 with padding.
    pub fn value(self, data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.checksum(data))
    }
}

fn crc_reflected(data: &[u8], poly: u64, width: u32) -> u64 {
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let mut crc = mask;
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
        }
    }
    !crc & mask
}

/// The secret access key of AWS's chunked-upload examples.
pub const AWS_EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// Seed signature of AWS's "Example: PUT Object" (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`).
pub const AWS_EXAMPLE_SEED: &str =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

/// The SigV4 signing key (kSigning) of `secret` for `date` (`YYYYMMDD`), `region` and S3.
pub fn signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let hmac = |key: &[u8], data: &str| -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().into()
    };
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, "s3");
    hmac(&k_service, "aws4_request")
}

/// The chain of AWS's examples (20130524, us-east-1) from `seed`.
pub fn aws_example(seed: &str) -> Signing {
    let mut seed_bytes = [0u8; 32];
    hex::decode_to_slice(seed, &mut seed_bytes).expect("64 hex digits");
    Signing {
        key: signing_key(AWS_EXAMPLE_SECRET, "20130524", "us-east-1"),
        timestamp: "20130524T000000Z".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        seed: seed_bytes,
    }
}

/// The catalogue check values ("123456789"), and AWS's published chunked-upload examples
/// (sigv4-streaming.html "Example: PUT Object" and sigv4-streaming-trailers.html) decoded by
/// this reference, so a broken reference cannot pass silently. Called once by the chunked
/// targets.
pub fn self_test() {
    assert_eq!(
        Alg::Crc32.checksum(b"123456789"),
        0xcbf4_3926u32.to_be_bytes()
    );
    assert_eq!(
        Alg::Crc32c.checksum(b"123456789"),
        0xe306_9283u32.to_be_bytes()
    );
    assert_eq!(
        Alg::Crc64Nvme.checksum(b"123456789"),
        0xae8b_1486_0a79_9888u64.to_be_bytes()
    );
    assert_eq!(Alg::Crc32c.value(&[b'a'; 66560]), "sOO8/Q==");
    assert_eq!(hex::encode(Sha256::digest(b"")), EMPTY_SHA256_HEX);

    let chunks = |sigs: [&str; 3]| {
        let mut body = format!("10000;chunk-signature={}\r\n", sigs[0]).into_bytes();
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", sigs[2]).as_bytes());
        body
    };
    let mut body = chunks([
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]);
    body.extend_from_slice(b"\r\n");
    assert_eq!(body.len(), 66824, "the example's Content-Length");
    let signing = aws_example(AWS_EXAMPLE_SEED);
    let spec = Spec {
        signing: Some(&signing),
        trailer: None,
        expected: 66560,
        max_chunk: 1 << 24,
    };
    assert_eq!(
        decode(&body, &spec),
        Ok(vec![b'a'; 66560]),
        "AWS PUT Object example"
    );

    let mut body = chunks([
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ]);
    body.extend_from_slice(
        b"\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:\
          d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435",
    );
    let signing = aws_example("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
    let spec = Spec {
        signing: Some(&signing),
        trailer: Some(Alg::Crc32c),
        ..spec
    };
    assert_eq!(
        decode(&body, &spec),
        Ok(vec![b'a'; 66560]),
        "AWS trailer example"
    );
}

/// Who signs a chunk chain (the AWS chunked-upload signature calculation).
#[derive(Clone, Debug)]
pub struct Signing {
    pub key: [u8; 32],
    pub timestamp: String,
    pub scope: String,
    pub seed: [u8; 32],
}

impl Signing {
    fn mac(&self, lines: &[&str]) -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(lines.join("\n").as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The signature of a chunk whose data is `data`, after `previous`.
    pub fn chunk(&self, previous: &[u8; 32], data: &[u8]) -> [u8; 32] {
        self.mac(&[
            "AWS4-HMAC-SHA256-PAYLOAD",
            &self.timestamp,
            &self.scope,
            &hex::encode(previous),
            EMPTY_SHA256_HEX,
            &hex::encode(Sha256::digest(data)),
        ])
    }

    /// The `x-amz-trailer-signature` of the canonical trailers (`name:value\n`), after the
    /// final chunk's signature `previous`.
    pub fn trailer(&self, previous: &[u8; 32], canonical: &str) -> [u8; 32] {
        self.mac(&[
            "AWS4-HMAC-SHA256-TRAILER",
            &self.timestamp,
            &self.scope,
            &hex::encode(previous),
            &hex::encode(Sha256::digest(canonical.as_bytes())),
        ])
    }
}

/// How a body must look.
#[derive(Clone, Debug)]
pub struct Spec<'a> {
    /// Signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`), or unsigned.
    pub signing: Option<&'a Signing>,
    /// The checksum trailer `x-amz-trailer` names; `None` only for signed bodies.
    pub trailer: Option<Alg>,
    /// `x-amz-decoded-content-length`.
    pub expected: u64,
    /// The largest chunk size accepted.
    pub max_chunk: u64,
}

const MAX_TRAILER_LINE: usize = 256;
const MAX_TRAILER_SECTION: usize = 4 * MAX_TRAILER_LINE;

/// Decodes a whole body: the payload, or why it is refused.
pub fn decode(body: &[u8], spec: &Spec<'_>) -> Result<Vec<u8>, &'static str> {
    let mut pos = 0usize;
    let mut payload = Vec::new();
    let mut previous = spec.signing.map(|s| s.seed);
    loop {
        let rest = &body[pos..];
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("no complete header line")?;
        let raw = &rest[..=nl];
        pos += nl + 1;
        if !raw.ends_with(b"\r\n") || raw[..raw.len() - 2].contains(&b'\r') {
            return Err("header line does not end with its only CR, in CRLF");
        }
        let line = &raw[..raw.len() - 2];
        let (size_text, extension) = match line.iter().position(|&b| b == b';') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        if size_text.is_empty() || size_text.len() > 16 {
            return Err("size is not 1 to 16 digits");
        }
        let size_text = std::str::from_utf8(size_text).map_err(|_| "size not ASCII")?;
        if !size_text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("size is not hex");
        }
        let size = u64::from_str_radix(size_text, 16).map_err(|_| "size is not hex")?;
        if size > spec.max_chunk {
            return Err("chunk too large");
        }
        let sent = match (spec.signing, extension) {
            (None, None) => None,
            (None, Some(_)) => return Err("extension in an unsigned header"),
            (Some(_), None) => return Err("no chunk-signature"),
            (Some(_), Some(ext)) => {
                let hex_sig = ext
                    .strip_prefix(b"chunk-signature=")
                    .ok_or("extension is not chunk-signature")?;
                Some(signature(hex_sig).ok_or("chunk-signature is not 64 hex digits")?)
            }
        };
        let size = usize::try_from(size).map_err(|_| "size")?;
        let data = body.get(pos..pos + size).ok_or("data cut short")?;
        pos += size;
        if size > 0 {
            if body.get(pos..pos + 2) != Some(b"\r\n") {
                return Err("data not followed by CRLF");
            }
            pos += 2;
        }
        if let (Some(signing), Some(prev), Some(sent)) = (spec.signing, previous.as_mut(), sent) {
            let want = signing.chunk(prev, data);
            if want != sent {
                return Err("chunk signature mismatch");
            }
            *prev = want;
        }
        payload.extend_from_slice(data);
        if payload.len() as u64 > spec.expected {
            return Err("more data than declared");
        }
        if size == 0 {
            break;
        }
    }
    if payload.len() as u64 != spec.expected {
        return Err("less data than declared");
    }
    let rest = &body[pos..];
    let Some(alg) = spec.trailer else {
        return if rest == b"\r\n" {
            Ok(payload)
        } else {
            Err("not exactly CRLF after the final chunk")
        };
    };

    // The trailer section: CRLF-terminated lines and maybe one last unterminated line.
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut seen = 0usize;
    let mut rest = rest;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let raw = &rest[..=nl];
        if raw.len() > MAX_TRAILER_LINE {
            return Err("trailer line too long");
        }
        if !raw.ends_with(b"\r\n") || raw[..raw.len() - 2].contains(&b'\r') {
            return Err("trailer line does not end with its only CR, in CRLF");
        }
        lines.push(&raw[..raw.len() - 2]);
        seen += raw.len();
        rest = &rest[nl + 1..];
    }
    if rest.len() > MAX_TRAILER_LINE || rest.contains(&b'\r') {
        return Err("bad last trailer line");
    }
    lines.push(rest);
    seen += rest.len();
    if seen > MAX_TRAILER_SECTION {
        return Err("trailer section too long");
    }

    let mut checksum: Option<&str> = None;
    let mut sent_signature: Option<[u8; 32]> = None;
    for line in lines.into_iter().filter(|l| !l.is_empty()) {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or("trailer line has no colon")?;
        let name = &line[..colon];
        let value = trim_blanks(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(alg.header_name().as_bytes()) {
            if checksum.is_some() {
                return Err("two checksums");
            }
            checksum = Some(std::str::from_utf8(value).map_err(|_| "checksum not UTF-8")?);
        } else if spec.signing.is_some() && name.eq_ignore_ascii_case(b"x-amz-trailer-signature") {
            if sent_signature.is_some() {
                return Err("two trailer signatures");
            }
            sent_signature = Some(signature(value).ok_or("trailer signature not 64 hex")?);
        } else {
            return Err("unexpected trailer");
        }
    }
    let checksum = checksum.ok_or("no checksum trailer")?;
    if let (Some(signing), Some(prev)) = (spec.signing, previous.as_ref()) {
        let sent = sent_signature.ok_or("no trailer signature")?;
        let canonical = format!("{}:{}\n", alg.header_name(), checksum);
        if signing.trailer(prev, &canonical) != sent {
            return Err("trailer signature mismatch");
        }
    }
    if checksum != alg.value(&payload) {
        return Err("checksum mismatch");
    }
    Ok(payload)
}

fn trim_blanks(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// 64 hex digits, either case.
fn signature(hex_digits: &[u8]) -> Option<[u8; 32]> {
    if hex_digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut out).ok()?;
    Some(out)
}

/// How the generator spells a trailer section (all valid).
#[derive(Clone, Debug, Default)]
pub struct TrailerStyle {
    /// A blank line between the final chunk and the trailers (the AWS documentation's example).
    pub blank_before: bool,
    /// The CRLF after the last trailer line (the SDKs send it; the AWS example does not).
    pub final_crlf: bool,
    /// Header names in upper case.
    pub upper_names: bool,
    /// Spaces and tabs around the values (0-3 each side).
    pub pad: (u8, u8),
    /// The signature line before the checksum line.
    pub signature_first: bool,
}

/// A valid body to generate.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    pub payload: Vec<u8>,
    /// Chunk sizes, each at least 1, adding up to the payload's length.
    pub chunks: Vec<usize>,
    /// Per chunk (cycled): upper-case hex, and how many leading zeros (the size stays at most
    /// 16 digits).
    pub hex_style: Vec<(bool, u8)>,
    /// Signatures in upper-case hex.
    pub upper_signatures: bool,
    pub trailer: TrailerStyle,
}

impl Generated {
    /// The body for `spec` (whose `expected` must be the payload's length).
    pub fn encode(&self, spec: &Spec<'_>) -> Vec<u8> {
        let mut body = Vec::new();
        let mut previous = spec.signing.map(|s| s.seed);
        let mut at = 0;
        let sizes = self.chunks.iter().copied().chain(std::iter::once(0));
        for (i, size) in sizes.enumerate() {
            let data = &self.payload[at..at + size];
            at += size;
            let (upper, zeros) = self
                .hex_style
                .get(i % self.hex_style.len().max(1))
                .copied()
                .unwrap_or_default();
            let digits = if upper {
                format!("{size:X}")
            } else {
                format!("{size:x}")
            };
            let zeros = usize::from(zeros).min(16 - digits.len());
            body.extend_from_slice("0".repeat(zeros).as_bytes());
            body.extend_from_slice(digits.as_bytes());
            if let (Some(signing), Some(prev)) = (spec.signing, previous.as_mut()) {
                let sig = signing.chunk(prev, data);
                *prev = sig;
                body.extend_from_slice(b";chunk-signature=");
                body.extend_from_slice(self.hex(&sig).as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            if size > 0 {
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            }
        }
        let Some(alg) = spec.trailer else {
            body.extend_from_slice(b"\r\n");
            return body;
        };
        let style = &self.trailer;
        let name = |n: &str| {
            if style.upper_names {
                n.to_ascii_uppercase()
            } else {
                n.to_owned()
            }
        };
        let pad = |v: &str| {
            let blanks = |n: u8| {
                (0..n % 4)
                    .map(|i| if i % 2 == 0 { ' ' } else { '\t' })
                    .collect::<String>()
            };
            format!("{}{v}{}", blanks(style.pad.0), blanks(style.pad.1))
        };
        let value = alg.value(&self.payload);
        let mut lines = vec![format!("{}:{}", name(alg.header_name()), pad(&value))];
        if let (Some(signing), Some(prev)) = (spec.signing, previous.as_ref()) {
            let canonical = format!("{}:{}\n", alg.header_name(), value);
            let sig = self.hex(&signing.trailer(prev, &canonical));
            let line = format!("{}:{}", name("x-amz-trailer-signature"), pad(&sig));
            if style.signature_first {
                lines.insert(0, line);
            } else {
                lines.push(line);
            }
        }
        if style.blank_before {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(lines.join("\r\n").as_bytes());
        if style.final_crlf {
            body.extend_from_slice(b"\r\n");
        }
        body
    }

    fn hex(&self, sig: &[u8; 32]) -> String {
        let h = hex::encode(sig);
        if self.upper_signatures {
            h.to_ascii_uppercase()
        } else {
            h
        }
    }
}
