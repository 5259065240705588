//! The ways a client's SigV4 authentication can fail, each with the S3 error code, HTTP status
//! and message S3 itself answers with, so the S3 frontend can reply exactly like S3 does.
//!
//! Reasons are fixed strings: no error ever carries a secret, a signature, a canonical request
//! or a string-to-sign (S3 echoes the last two in `SignatureDoesNotMatch`; we do not).

use std::borrow::Cow;
use std::fmt;

/// Why a request's S3 authentication was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3AuthError {
    /// The signature is well formed but wrong: wrong secret, or something signed was changed.
    SignatureDoesNotMatch,
    /// The access key id is not known to the [`KeyStore`](super::KeyStore).
    InvalidAccessKeyId,
    /// The security token is missing, unexpected, or not the one issued with the key.
    InvalidToken,
    /// The signing time is more than 15 minutes away from the server's clock.
    RequestTimeTooSkewed,
    /// The `Authorization` header cannot be parsed or its scope is unacceptable.
    AuthorizationHeaderMalformed { reason: &'static str },
    /// The presigned URL's `X-Amz-*` query parameters are missing or malformed.
    AuthorizationQueryParametersError { reason: &'static str },
    /// Authenticated badly in a way S3 reports as 403 `AccessDenied` (an expired presigned
    /// URL, unsigned `x-amz-*` headers, no usable date).
    AccessDenied { reason: &'static str },
    /// A header S3 requires is missing (`x-amz-content-sha256`, `x-amz-trailer`).
    InvalidRequest { reason: &'static str },
    /// A value is unsupported (another authorization scheme, a bad payload hash, two auth
    /// mechanisms at once).
    InvalidArgument { reason: &'static str },
    /// An aws-chunked upload without a usable `x-amz-decoded-content-length`.
    MissingContentLength,
}

impl S3AuthError {
    /// The S3 XML error code (`<Code>`).
    pub fn code(&self) -> &'static str {
        match self {
            S3AuthError::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            S3AuthError::InvalidAccessKeyId => "InvalidAccessKeyId",
            S3AuthError::InvalidToken => "InvalidToken",
            S3AuthError::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            S3AuthError::AuthorizationHeaderMalformed { .. } => "AuthorizationHeaderMalformed",
            S3AuthError::AuthorizationQueryParametersError { .. } => {
                "AuthorizationQueryParametersError"
            }
            S3AuthError::AccessDenied { .. } => "AccessDenied",
            S3AuthError::InvalidRequest { .. } => "InvalidRequest",
            S3AuthError::InvalidArgument { .. } => "InvalidArgument",
            S3AuthError::MissingContentLength => "MissingContentLength",
        }
    }

    /// The HTTP status S3 answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            S3AuthError::SignatureDoesNotMatch
            | S3AuthError::InvalidAccessKeyId
            | S3AuthError::RequestTimeTooSkewed
            | S3AuthError::AccessDenied { .. } => 403,
            S3AuthError::InvalidToken
            | S3AuthError::AuthorizationHeaderMalformed { .. }
            | S3AuthError::AuthorizationQueryParametersError { .. }
            | S3AuthError::InvalidRequest { .. }
            | S3AuthError::InvalidArgument { .. } => 400,
            S3AuthError::MissingContentLength => 411,
        }
    }

    /// The S3 XML error message (`<Message>`).
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            S3AuthError::SignatureDoesNotMatch => Cow::Borrowed(
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method.",
            ),
            S3AuthError::InvalidAccessKeyId => {
                Cow::Borrowed("The AWS Access Key Id you provided does not exist in our records.")
            }
            S3AuthError::InvalidToken => {
                Cow::Borrowed("The provided token is malformed or otherwise invalid.")
            }
            S3AuthError::RequestTimeTooSkewed => Cow::Borrowed(
                "The difference between the request time and the current time is too large.",
            ),
            S3AuthError::AuthorizationHeaderMalformed { reason } => {
                Cow::Owned(format!("The authorization header is malformed; {reason}"))
            }
            S3AuthError::MissingContentLength => {
                Cow::Borrowed("You must provide the Content-Length HTTP header.")
            }
            S3AuthError::AuthorizationQueryParametersError { reason }
            | S3AuthError::AccessDenied { reason }
            | S3AuthError::InvalidRequest { reason }
            | S3AuthError::InvalidArgument { reason } => Cow::Borrowed(reason),
        }
    }
}

impl fmt::Display for S3AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for S3AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_messages() {
        let cases = [
            (
                S3AuthError::SignatureDoesNotMatch,
                "SignatureDoesNotMatch",
                403,
            ),
            (S3AuthError::InvalidAccessKeyId, "InvalidAccessKeyId", 403),
            (S3AuthError::InvalidToken, "InvalidToken", 400),
            (
                S3AuthError::RequestTimeTooSkewed,
                "RequestTimeTooSkewed",
                403,
            ),
            (
                S3AuthError::AuthorizationHeaderMalformed { reason: "r" },
                "AuthorizationHeaderMalformed",
                400,
            ),
            (
                S3AuthError::AuthorizationQueryParametersError { reason: "r" },
                "AuthorizationQueryParametersError",
                400,
            ),
            (
                S3AuthError::AccessDenied { reason: "r" },
                "AccessDenied",
                403,
            ),
            (
                S3AuthError::InvalidRequest { reason: "r" },
                "InvalidRequest",
                400,
            ),
            (
                S3AuthError::InvalidArgument { reason: "r" },
                "InvalidArgument",
                400,
            ),
            (
                S3AuthError::MissingContentLength,
                "MissingContentLength",
                411,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.http_status(), status);
            assert!(!err.message().is_empty());
            assert!(err.to_string().starts_with(code));
        }
        assert_eq!(
            S3AuthError::AccessDenied {
                reason: "Request has expired"
            }
            .message(),
            "Request has expired"
        );
        assert_eq!(
            S3AuthError::AuthorizationHeaderMalformed { reason: "x" }.message(),
            "The authorization header is malformed; x"
        );
    }
}
