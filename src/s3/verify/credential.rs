//! Parsing a SigV4 credential, `AKID/YYYYMMDD/region/s3/aws4_request`, the same way for the
//! `Authorization` header and for `X-Amz-Credential`. Errors are reasons; the caller wraps
//! them in the error kind of its authentication method.

/// A parsed credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Credential<'a> {
    pub(super) access_key_id: &'a str,
    /// `YYYYMMDD` (eight digits; checked against the request date by the caller).
    pub(super) date: &'a str,
    pub(super) region: &'a str,
    /// `date/region/s3/aws4_request`, a slice of the input.
    pub(super) scope: &'a str,
}

pub(super) const MALFORMED: &str = "the Credential is mal-formed; expecting \
     \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
const BAD_SERVICE: &str = "incorrect service; this endpoint belongs to \"s3\".";
const BAD_TERMINAL: &str = "incorrect terminal; this endpoint uses \"aws4_request\".";
pub(super) const DATE_MISMATCH: &str =
    "Invalid credential date. Date is not the same as X-Amz-Date.";

/// Parses `credential`; S3 service and `aws4_request` terminator only.
pub(super) fn parse(credential: &str) -> Result<Credential<'_>, &'static str> {
    let mut parts = credential.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some(terminal), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(MALFORMED);
    };
    if akid.is_empty()
        || !akid.bytes().all(|b| b.is_ascii_graphic())
        || date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
        || !region.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(MALFORMED);
    }
    if service != "s3" {
        return Err(BAD_SERVICE);
    }
    if terminal != "aws4_request" {
        return Err(BAD_TERMINAL);
    }
    Ok(Credential {
        access_key_id: akid,
        date,
        region,
        scope: &credential[akid.len() + 1..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good() {
        let c = parse("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request").unwrap();
        assert_eq!(c.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(c.date, "20130524");
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.scope, "20130524/us-east-1/s3/aws4_request");
        // Ceph RGW and MinIO deployments use region names like these.
        assert!(parse("k/20130524/default/s3/aws4_request").is_ok());
    }

    #[test]
    fn bad() {
        let cases = [
            ("", MALFORMED),
            ("AK", MALFORMED),
            ("AK/20130524/us-east-1/s3", MALFORMED),
            ("AK/20130524/us-east-1/s3/aws4_request/x", MALFORMED),
            ("/20130524/us-east-1/s3/aws4_request", MALFORMED),
            ("AK/2013052/us-east-1/s3/aws4_request", MALFORMED),
            ("AK/2013052x/us-east-1/s3/aws4_request", MALFORMED),
            ("AK/20130524//s3/aws4_request", MALFORMED),
            ("A K/20130524/us-east-1/s3/aws4_request", MALFORMED),
            ("AK/20130524/us east/s3/aws4_request", MALFORMED),
            ("AK/20130524/us-east-1/ec2/aws4_request", BAD_SERVICE),
            ("AK/20130524/us-east-1/S3/aws4_request", BAD_SERVICE),
            ("AK/20130524/us-east-1/s3/aws4_requesT", BAD_TERMINAL),
            ("AK/2013０524/us-east-1/s3/aws4_request", MALFORMED),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Err(want), "{input:?}");
        }
    }
}
