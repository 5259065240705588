//! The differential check of the aws-chunked decoders against [`crate::chunked_ref`], shared by
//! the `chunked_raw` and `chunked_generated` targets.

use bucketgate::s3::chunked::{
    ChecksumAlgorithm, ChunkError, ChunkSigningContext, Output, SignedChunkDecoder, UnsignedOutput,
    UnsignedTrailerDecoder, DEFAULT_MAX_CHUNK_SIZE,
};

use crate::chunked_ref::{self, Alg, Signing, Spec};

/// Which kind of body, as the request's `x-amz-content-sha256` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    UnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    SignedTrailer,
}

pub const KINDS: [Kind; 3] = [Kind::UnsignedTrailer, Kind::Signed, Kind::SignedTrailer];

/// One decoding job.
#[derive(Clone, Debug)]
pub struct Case {
    pub kind: Kind,
    /// The algorithm `x-amz-trailer` names (ignored for `Signed`).
    pub alg: Alg,
    /// `x-amz-decoded-content-length`.
    pub expected: u64,
    /// The largest chunk accepted.
    pub max_chunk: u64,
}

impl Case {
    pub fn new(kind: Kind, alg: Alg, expected: u64) -> Self {
        Self {
            kind,
            alg,
            expected,
            max_chunk: DEFAULT_MAX_CHUNK_SIZE,
        }
    }

    fn trailer(&self) -> Option<Alg> {
        (self.kind != Kind::Signed).then_some(self.alg)
    }

    fn algorithm(&self) -> ChecksumAlgorithm {
        ChecksumAlgorithm::from_trailer_name(self.alg.header_name()).expect("known algorithm")
    }

    /// The reference's view of this case, signed by `signing` (the client's chain).
    pub fn spec<'s>(&self, signing: &'s Signing) -> Spec<'s> {
        Spec {
            signing: (self.kind != Kind::UnsignedTrailer).then_some(signing),
            trailer: self.trailer(),
            expected: self.expected,
            max_chunk: self.max_chunk,
        }
    }
}

/// The client's chain: AWS's chunked-upload example (its key, date, scope and seed signature),
/// so the example body itself is a valid input.
pub fn client() -> Signing {
    chunked_ref::aws_example(chunked_ref::AWS_EXAMPLE_SEED)
}

/// Our chain, for re-signing.
pub fn ours() -> Signing {
    Signing {
        key: *b"bucketgate-fuzz-ours-signing-key",
        timestamp: "20261124T055614Z".into(),
        scope: "20261124/eu-central-1/s3/aws4_request".into(),
        seed: hex_32("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    }
}

fn hex_32(s: &str) -> [u8; 32] {
    let mut out = [0; 32];
    hex::decode_to_slice(s, &mut out).expect("64 hex digits");
    out
}

fn context(s: &Signing) -> ChunkSigningContext {
    ChunkSigningContext::new(
        s.key,
        s.timestamp.clone(),
        s.scope.clone(),
        &hex::encode(s.seed),
    )
    .expect("a valid seed")
}

/// Either decoder, in either output mode.
enum Decoder {
    Signed(SignedChunkDecoder),
    Unsigned(UnsignedTrailerDecoder),
}

impl Decoder {
    fn new(case: &Case, mirror: bool) -> Self {
        match case.kind {
            Kind::UnsignedTrailer => {
                let mode = if mirror {
                    UnsignedOutput::Passthrough
                } else {
                    UnsignedOutput::Decode
                };
                Decoder::Unsigned(
                    UnsignedTrailerDecoder::new(case.algorithm(), case.expected)
                        .with_output(mode)
                        .with_max_chunk_size(case.max_chunk),
                )
            }
            Kind::Signed | Kind::SignedTrailer => {
                let mode = if mirror {
                    Output::Resign(context(&ours()))
                } else {
                    Output::Decode
                };
                let mut d = SignedChunkDecoder::new(context(&client()), case.expected, mode)
                    .with_max_chunk_size(case.max_chunk);
                if case.kind == Kind::SignedTrailer {
                    d = d.with_trailer(case.algorithm());
                }
                Decoder::Signed(d)
            }
        }
    }

    fn feed(&mut self, piece: &[u8]) -> Result<bytes::Bytes, ChunkError> {
        match self {
            Decoder::Signed(d) => d.feed(piece),
            Decoder::Unsigned(d) => d.feed(piece),
        }
    }

    fn finish(&mut self) -> Result<bytes::Bytes, ChunkError> {
        match self {
            Decoder::Signed(d) => d.finish(),
            Decoder::Unsigned(d) => d.finish(),
        }
    }

    fn verified_checksum(&self) -> Option<&str> {
        match self {
            Decoder::Signed(d) => d.verified_checksum(),
            Decoder::Unsigned(d) => d.verified_checksum(),
        }
    }
}

/// What bucketgate's decoder made of the pieces: the whole output or the error, and what it
/// had released before the error.
struct Run {
    result: Result<Vec<u8>, ChunkError>,
    released: Vec<u8>,
    checksum: Option<String>,
}

fn run(case: &Case, mirror: bool, pieces: &[&[u8]]) -> Run {
    let mut d = Decoder::new(case, mirror);
    let mut out = Vec::new();
    let mut failed = None;
    for piece in pieces {
        match d.feed(piece) {
            Ok(b) => out.extend_from_slice(&b),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let released = out.clone();
    let result = match failed {
        Some(e) => Err(e),
        None => d.finish().map(|b| {
            out.extend_from_slice(&b);
            out
        }),
    };
    if let Err(e) = &result {
        // Poisoned: the same error forever, nothing more released.
        assert_eq!(d.feed(b"0\r\n").as_ref().err(), Some(e), "feed after {e:?}");
        assert_eq!(d.finish().as_ref().err(), Some(e), "finish after {e:?}");
    }
    Run {
        result,
        released,
        checksum: d.verified_checksum().map(str::to_owned),
    }
}

/// Decodes `body` (delivered as `pieces`) with bucketgate's decoder in both output modes and
/// with the reference, and checks that they agree:
/// - both accept or both refuse; accepted, the payload is the reference's, byte for byte;
/// - mirroring, the output is the input unchanged (unsigned) or re-signed under our chain, the
///   same length, and the reference decodes it under our chain to the same payload;
/// - refused, what was released before the error is never a complete object: less than the
///   declared payload, or when mirroring, not a body the reference accepts.
///
/// Returns the payload when accepted.
pub fn check(case: &Case, body: &[u8], pieces: &[&[u8]]) -> Option<Vec<u8>> {
    debug_assert_eq!(pieces.concat(), body);
    let client = client();
    let reference = chunked_ref::decode(body, &case.spec(&client));

    let decoded = run(case, false, pieces);
    match (&decoded.result, &reference) {
        (Ok(got), Ok(want)) => assert!(got == want, "payloads differ: {case:?}"),
        (Err(e), Ok(_)) => {
            panic!("bucketgate refused what the reference accepts: {e:?} ({case:?})")
        }
        (Ok(_), Err(why)) => {
            panic!("bucketgate accepted what the reference refuses: {why} ({case:?})")
        }
        (Err(_), Err(_)) => {
            let n = decoded.released.len();
            assert!(
                n == 0 || (n as u64) < case.expected,
                "released {n} of {} payload bytes before refusing",
                case.expected
            );
        }
    }
    if let (Ok(payload), Some(alg)) = (&decoded.result, case.trailer()) {
        assert_eq!(
            decoded.checksum.as_deref(),
            Some(alg.value(payload).as_str())
        );
    }

    let mirrored = run(case, true, pieces);
    match (&mirrored.result, &decoded.result) {
        (Ok(out), Ok(payload)) => {
            assert_eq!(out.len(), body.len(), "mirrored output changed length");
            if case.kind == Kind::UnsignedTrailer {
                assert!(out == body, "passthrough changed the body");
            } else {
                let ours = ours();
                let again = chunked_ref::decode(out, &case.spec(&ours));
                assert_eq!(
                    again.as_ref().ok(),
                    Some(payload),
                    "re-signed body does not verify: {again:?}"
                );
            }
        }
        (Err(_), Err(_)) => {
            let signing = if case.kind == Kind::UnsignedTrailer {
                client
            } else {
                ours()
            };
            let complete = chunked_ref::decode(&mirrored.released, &case.spec(&signing));
            assert!(
                complete.is_err(),
                "released a complete body before refusing"
            );
        }
        (m, d) => panic!("mirroring changed the decision: {m:?} vs {d:?}"),
    }
    decoded.result.ok()
}

/// The alg, kind and length that a config byte and the following bytes choose.
pub fn case_from(input: &mut crate::Bytes<'_>) -> Case {
    let config = input.u8();
    let kind = KINDS[usize::from(config) % 3];
    let alg = chunked_ref::ALGS[usize::from(config >> 2) % 5];
    let mut case = Case::new(kind, alg, 0);
    if config & 0x80 != 0 {
        case.max_chunk = u64::from(input.u8());
    }
    case
}
