//! The signing time of a request: parsing `x-amz-date` / `X-Amz-Date` (ISO 8601 basic,
//! `YYYYMMDDTHHMMSSZ`) or, for header authentication without `x-amz-date`, the HTTP `Date`
//! header; and the clock checks S3 applies to it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

use super::error::S3AuthError;
use super::request::single_header;
use crate::s3::sign::Timestamp;

/// How far the signing time of a header-authenticated request may be from the server clock,
/// either way (S3's limit); also how far in the future a presigned URL's start may be.
pub(super) const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// A validated signing time.
pub(super) struct SignedAt {
    /// `YYYYMMDDTHHMMSSZ`, exactly as it goes into the string-to-sign.
    pub(super) date_time: [u8; 16],
    pub(super) time: SystemTime,
}

impl SignedAt {
    /// `YYYYMMDD`.
    pub(super) fn date(&self) -> &[u8] {
        &self.date_time[..8]
    }

    /// The timestamp as text.
    pub(super) fn as_str(&self) -> &str {
        // Only ASCII digits, `T` and `Z` are ever stored.
        std::str::from_utf8(&self.date_time).unwrap_or("")
    }
}

/// Parses `YYYYMMDDTHHMMSSZ`. Rejects anything that does not name a real UTC instant
/// (month 13, February 30, 24:00:00) and years before 1970.
pub(super) fn parse_amz_date(value: &str) -> Option<SignedAt> {
    let b = value.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = &b[range];
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let time = UNIX_EPOCH + Duration::from_secs(secs);
    // Round-trip through the signer's formatter: this rejects days the month does not have.
    let date_time: [u8; 16] = b.try_into().ok()?;
    (Timestamp::new(time).date_time == date_time).then_some(SignedAt { date_time, time })
}

/// The signing time of a header-authenticated request: `x-amz-date`, or `Date` when there is
/// no `x-amz-date` (as SigV4 allows). Anything else is S3's `AccessDenied`.
pub(super) fn header_signed_at(headers: &HeaderMap) -> Result<SignedAt, S3AuthError> {
    const NO_DATE: S3AuthError = S3AuthError::AccessDenied {
        reason: "AWS authentication requires a valid Date or x-amz-date header",
    };
    let single = |name| single_header(headers, name).map_err(|()| NO_DATE);
    if let Some(amz) = single("x-amz-date")? {
        return parse_amz_date(amz).ok_or(NO_DATE);
    }
    let http_date = single("date")?.ok_or(NO_DATE)?;
    let time = httpdate::parse_http_date(http_date).map_err(|_| NO_DATE)?;
    let date_time = Timestamp::new(time).date_time;
    // Dates before 1970 or after 9999 are clamped by the formatter: refuse them.
    let parsed = std::str::from_utf8(&date_time)
        .ok()
        .and_then(parse_amz_date)
        .ok_or(NO_DATE)?;
    (parsed.time == time).then_some(parsed).ok_or(NO_DATE)
}

/// Header authentication: the signing time must be within [`MAX_SKEW`] of `now`.
pub(super) fn check_skew(signed: SystemTime, now: SystemTime) -> Result<(), S3AuthError> {
    if distance(signed, now) > MAX_SKEW {
        return Err(S3AuthError::RequestTimeTooSkewed);
    }
    Ok(())
}

/// Presigned URLs: valid from `signed` (less the allowed skew) until `signed + expires`.
/// Returns the expiry time.
pub(super) fn check_presigned_window(
    signed: SystemTime,
    expires: Duration,
    now: SystemTime,
) -> Result<SystemTime, S3AuthError> {
    if now < signed && distance(signed, now) > MAX_SKEW {
        return Err(S3AuthError::AccessDenied {
            reason: "Request is not valid yet",
        });
    }
    let expires_at = signed + expires;
    if now > expires_at {
        return Err(S3AuthError::AccessDenied {
            reason: "Request has expired",
        });
    }
    Ok(expires_at)
}

fn distance(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or(Duration::ZERO)
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian (H. Hinnant's algorithm).
/// Needs year >= 1970 (checked by the caller), so everything stays unsigned.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn amz_dates() {
        let ok = [
            ("19700101T000000Z", 0),
            ("20130524T000000Z", 1_369_353_600),
            ("20000229T000000Z", 951_782_400),
            ("20231114T221320Z", 1_700_000_000),
            ("20991231T235959Z", 4_102_444_799),
        ];
        for (s, secs) in ok {
            let parsed = parse_amz_date(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(parsed.time, at(secs), "{s}");
            assert_eq!(parsed.as_str(), s);
            assert_eq!(parsed.date(), &s.as_bytes()[..8]);
        }
        let bad = [
            "",
            "20130524",
            "20130524T000000",
            "20130524T000000z",
            "20130524t000000Z",
            "2013-05-24T00:00:00Z",
            "20131324T000000Z",
            "20130024T000000Z",
            "20130500T000000Z",
            "20130230T000000Z",
            "20010229T000000Z",
            "20130524T240000Z",
            "20130524T006000Z",
            "20130524T000060Z",
            "19691231T235959Z",
            "2013052４T00000Z",
            "+0130524T000000Z",
        ];
        for s in bad {
            assert!(parse_amz_date(s).is_none(), "{s}");
        }
    }

    #[test]
    fn header_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(header_signed_at(&h).err().unwrap().code(), "AccessDenied");
        h.insert("date", "Fri, 24 May 2013 00:00:00 GMT".parse().unwrap());
        assert_eq!(header_signed_at(&h).unwrap().as_str(), "20130524T000000Z");
        // x-amz-date wins over Date.
        h.insert("x-amz-date", "20130524T010203Z".parse().unwrap());
        assert_eq!(header_signed_at(&h).unwrap().as_str(), "20130524T010203Z");
        // A bad x-amz-date does not fall back to Date.
        h.insert("x-amz-date", "yesterday".parse().unwrap());
        assert!(header_signed_at(&h).is_err());
        h.remove("x-amz-date");
        h.append("x-amz-date", "20130524T010203Z".parse().unwrap());
        h.append("x-amz-date", "20130524T010203Z".parse().unwrap());
        assert!(header_signed_at(&h).is_err());
        let mut h = HeaderMap::new();
        h.insert("date", "not a date".parse().unwrap());
        assert!(header_signed_at(&h).is_err());
    }

    #[test]
    fn skew() {
        let t = at(1_369_353_600);
        assert!(check_skew(t, t).is_ok());
        assert!(check_skew(t, t + MAX_SKEW).is_ok());
        assert!(check_skew(t, t - MAX_SKEW).is_ok());
        assert_eq!(
            check_skew(t, t + MAX_SKEW + Duration::from_secs(1)),
            Err(S3AuthError::RequestTimeTooSkewed)
        );
        assert_eq!(
            check_skew(t, t - MAX_SKEW - Duration::from_secs(1)),
            Err(S3AuthError::RequestTimeTooSkewed)
        );
    }

    #[test]
    fn presigned_window() {
        let t = at(1_369_353_600);
        let e = Duration::from_secs(86_400);
        assert_eq!(check_presigned_window(t, e, t), Ok(t + e));
        assert!(check_presigned_window(t, e, t + e).is_ok());
        assert!(check_presigned_window(t, e, t - MAX_SKEW).is_ok());
        let expired = check_presigned_window(t, e, t + e + Duration::from_secs(1)).unwrap_err();
        assert_eq!(expired.message(), "Request has expired");
        let early =
            check_presigned_window(t, e, t - MAX_SKEW - Duration::from_secs(1)).unwrap_err();
        assert_eq!(early.message(), "Request is not valid yet");
    }
}
