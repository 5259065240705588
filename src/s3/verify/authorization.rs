//! Parsing the `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
//! Signature=...` header: strict about content, tolerant of the spacing real clients use
//! (none or any number of spaces after the commas, components in any order).

use super::error::S3AuthError;

/// The three components, unvalidated beyond their presence.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct AuthorizationHeader<'a> {
    pub(super) credential: &'a str,
    pub(super) signed_headers: &'a str,
    pub(super) signature: &'a str,
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

fn malformed(reason: &'static str) -> S3AuthError {
    S3AuthError::AuthorizationHeaderMalformed { reason }
}

/// Parses an `Authorization` value. Another scheme (SigV2 `AWS`, SigV4a, `Bearer`...) is S3's
/// `InvalidArgument: Unsupported Authorization Type`.
pub(super) fn parse(value: &str) -> Result<AuthorizationHeader<'_>, S3AuthError> {
    let rest = match value.strip_prefix(ALGORITHM) {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => rest,
        _ => {
            return Err(S3AuthError::InvalidArgument {
                reason: "Unsupported Authorization Type",
            })
        }
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim_matches(' ');
        let Some((name, value)) = component.split_once('=') else {
            return Err(malformed(
                "each component must be Credential=, SignedHeaders= or Signature=",
            ));
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(malformed(
                    "each component must be Credential=, SignedHeaders= or Signature=",
                ))
            }
        };
        if slot.replace(value).is_some() {
            return Err(malformed("a component appears twice"));
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(AuthorizationHeader {
            credential,
            signed_headers,
            signature,
        }),
        (None, _, _) => Err(malformed("missing Credential")),
        (_, None, _) => Err(malformed("missing SignedHeaders")),
        (_, _, None) => Err(malformed("missing Signature")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRED: &str = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
    const SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    #[test]
    fn spacing_and_order() {
        let want = AuthorizationHeader {
            credential: CRED,
            signed_headers: "host;range;x-amz-date",
            signature: SIG,
        };
        for value in [
            format!("AWS4-HMAC-SHA256 Credential={CRED},SignedHeaders=host;range;x-amz-date,Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;range;x-amz-date, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256  Credential={CRED},   SignedHeaders=host;range;x-amz-date ,Signature={SIG} "),
            format!("AWS4-HMAC-SHA256 Signature={SIG}, Credential={CRED}, SignedHeaders=host;range;x-amz-date"),
        ] {
            assert_eq!(parse(&value).unwrap(), want, "{value}");
        }
    }

    #[test]
    fn refused() {
        let unsupported = [
            "",
            "AWS4-HMAC-SHA256X Credential=x",
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
            "AWS4-ECDSA-P256-SHA256 Credential=x",
            "aws4-hmac-sha256 Credential=x",
            "Bearer abc",
        ];
        for value in unsupported {
            assert_eq!(
                parse(value).unwrap_err().code(),
                "InvalidArgument",
                "{value:?}"
            );
        }
        let malformed = [
            format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host"),
            format!("AWS4-HMAC-SHA256 Credential={CRED}, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host, Signature={SIG}, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host, Signature={SIG}, Extra=1"),
            format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host, Signature={SIG},"),
            format!("AWS4-HMAC-SHA256 Credential={CRED} SignedHeaders=host Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 credential={CRED}, SignedHeaders=host, Signature={SIG}"),
            "AWS4-HMAC-SHA256".to_owned(),
            "AWS4-HMAC-SHA256 ".to_owned(),
            "AWS4-HMAC-SHA256 ,,,".to_owned(),
        ];
        for value in malformed {
            assert_eq!(
                parse(&value).unwrap_err().code(),
                "AuthorizationHeaderMalformed",
                "{value:?}"
            );
        }
    }
}
