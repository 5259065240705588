//! The payload a client signed (`x-amz-content-sha256`, or `X-Amz-Content-Sha256` on a
//! presigned URL): which body mode it declares, and what S3 requires alongside each mode.

use http::HeaderMap;

use super::error::S3AuthError;
use super::request::single_header;

/// What the client declared about the body, in the canonical request's last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// The body's SHA-256 (64 hex digits, lower-cased here). The signature covers it only if
    /// the body is then checked against it.
    Sha256(String),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed in a chain.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: as above, plus a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned chunks, a checksum trailer.
    StreamingUnsignedTrailer,
}

const UNSIGNED: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

const BAD_HASH: S3AuthError = S3AuthError::InvalidArgument {
    reason: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
             STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, \
             or a valid sha256 value.",
};

impl PayloadHash {
    /// Parses a declared payload hash. SigV4a (`...ECDSA...`) modes are not supported.
    pub fn parse(value: &str) -> Option<PayloadHash> {
        match value {
            UNSIGNED => Some(PayloadHash::Unsigned),
            STREAMING_SIGNED => Some(PayloadHash::StreamingSigned),
            STREAMING_SIGNED_TRAILER => Some(PayloadHash::StreamingSignedTrailer),
            STREAMING_UNSIGNED_TRAILER => Some(PayloadHash::StreamingUnsignedTrailer),
            hex if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(PayloadHash::Sha256(hex.to_ascii_lowercase()))
            }
            _ => None,
        }
    }

    /// The body is aws-chunked (`Content-Encoding: aws-chunked` framing).
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            PayloadHash::StreamingSigned
                | PayloadHash::StreamingSignedTrailer
                | PayloadHash::StreamingUnsignedTrailer
        )
    }

    /// The aws-chunked body ends with trailer fields.
    pub fn has_trailer(&self) -> bool {
        matches!(
            self,
            PayloadHash::StreamingSignedTrailer | PayloadHash::StreamingUnsignedTrailer
        )
    }

    /// Each chunk carries a signature chained from the seed signature.
    pub fn has_chunk_signatures(&self) -> bool {
        matches!(
            self,
            PayloadHash::StreamingSigned | PayloadHash::StreamingSignedTrailer
        )
    }
}

/// A request's declared payload.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Declared<'a> {
    pub(super) hash: PayloadHash,
    /// The last line of the canonical request, exactly as the client sent it.
    pub(super) line: &'a str,
    /// `x-amz-decoded-content-length`, for aws-chunked bodies (S3 requires it with them).
    pub(super) decoded_content_length: Option<u64>,
}

/// The declared payload of a header-authenticated request (`x-amz-content-sha256`, which S3
/// requires).
pub(super) fn header_payload(headers: &HeaderMap) -> Result<Declared<'_>, S3AuthError> {
    let line = single_header(headers, "x-amz-content-sha256")
        .map_err(|()| BAD_HASH)?
        .ok_or(S3AuthError::InvalidRequest {
            reason: "Missing required header for this request: x-amz-content-sha256",
        })?;
    let hash = PayloadHash::parse(line).ok_or(BAD_HASH)?;
    if !hash.is_streaming() {
        return Ok(Declared {
            hash,
            line,
            decoded_content_length: None,
        });
    }
    let decoded = single_header(headers, "x-amz-decoded-content-length")
        .ok()
        .flatten()
        .and_then(|v| {
            (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<u64>().ok())
                .flatten()
        })
        .ok_or(S3AuthError::MissingContentLength)?;
    if hash.has_trailer()
        && single_header(headers, "x-amz-trailer")
            .ok()
            .flatten()
            .is_none()
    {
        return Err(S3AuthError::InvalidRequest {
            reason: "Missing required header for this request: x-amz-trailer",
        });
    }
    Ok(Declared {
        hash,
        line,
        decoded_content_length: Some(decoded),
    })
}

/// The declared payload of a presigned URL: `X-Amz-Content-Sha256` if given, else
/// `UNSIGNED-PAYLOAD`. A URL cannot carry an aws-chunked upload.
pub(super) fn presigned_payload(declared: Option<&str>) -> Result<Declared<'_>, S3AuthError> {
    let line = declared.unwrap_or(UNSIGNED);
    let hash = PayloadHash::parse(line).ok_or(BAD_HASH)?;
    if hash.is_streaming() {
        return Err(S3AuthError::InvalidRequest {
            reason: "aws-chunked uploads cannot be authenticated with a presigned URL",
        });
    }
    Ok(Declared {
        hash,
        line,
        decoded_content_length: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn parse_modes() {
        assert_eq!(PayloadHash::parse(UNSIGNED), Some(PayloadHash::Unsigned));
        assert_eq!(
            PayloadHash::parse(&EMPTY.to_ascii_uppercase()),
            Some(PayloadHash::Sha256(EMPTY.to_owned()))
        );
        assert!(PayloadHash::parse(STREAMING_SIGNED_TRAILER)
            .unwrap()
            .has_chunk_signatures());
        assert!(PayloadHash::parse(STREAMING_UNSIGNED_TRAILER)
            .unwrap()
            .has_trailer());
        for bad in [
            "",
            "unsigned-payload",
            &EMPTY[1..],
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
            "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert_eq!(PayloadHash::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_rules() {
        let missing = header_payload(&headers(&[])).unwrap_err();
        assert_eq!(missing.code(), "InvalidRequest");
        let twice = headers(&[
            ("x-amz-content-sha256", UNSIGNED),
            ("x-amz-content-sha256", UNSIGNED),
        ]);
        assert_eq!(
            header_payload(&twice).unwrap_err().code(),
            "InvalidArgument"
        );
        let bad = headers(&[("x-amz-content-sha256", "abc")]);
        assert_eq!(header_payload(&bad).unwrap_err().code(), "InvalidArgument");

        let chunked = headers(&[("x-amz-content-sha256", STREAMING_SIGNED)]);
        assert_eq!(
            header_payload(&chunked).unwrap_err(),
            S3AuthError::MissingContentLength
        );
        let chunked = headers(&[
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("x-amz-decoded-content-length", "+5"),
        ]);
        assert_eq!(
            header_payload(&chunked).unwrap_err(),
            S3AuthError::MissingContentLength
        );
        let chunked = headers(&[
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("x-amz-decoded-content-length", "66560"),
        ]);
        assert_eq!(
            header_payload(&chunked).unwrap(),
            Declared {
                hash: PayloadHash::StreamingSigned,
                line: STREAMING_SIGNED,
                decoded_content_length: Some(66560)
            }
        );
        let trailer = headers(&[
            ("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER),
            ("x-amz-decoded-content-length", "19"),
        ]);
        assert_eq!(
            header_payload(&trailer).unwrap_err().code(),
            "InvalidRequest"
        );
    }

    #[test]
    fn presigned_rules() {
        let unsigned = presigned_payload(None).unwrap();
        assert_eq!(
            (unsigned.hash, unsigned.line),
            (PayloadHash::Unsigned, UNSIGNED)
        );
        let upper = EMPTY.to_ascii_uppercase();
        let sha = presigned_payload(Some(&upper)).unwrap();
        assert_eq!(sha.hash, PayloadHash::Sha256(EMPTY.to_owned()));
        assert_eq!(sha.line, upper, "signed as sent");
        assert_eq!(
            presigned_payload(Some(STREAMING_UNSIGNED_TRAILER))
                .unwrap_err()
                .code(),
            "InvalidRequest"
        );
        assert_eq!(
            presigned_payload(Some("x")).unwrap_err().code(),
            "InvalidArgument"
        );
    }
}
