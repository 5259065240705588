//! Password hashes: which ones the plugin accepts (bcrypt `$2y$`, `$2b$`, `$2a$`, what
//! `htpasswd -B` writes), why it refuses the others (in words that never repeat the hash), and
//! the dummy hash an unknown user is checked against so that timing does not tell which users
//! exist.

use std::fmt;
use std::str::FromStr;

/// The cheapest bcrypt cost there is.
pub const MIN_COST: u32 = 4;
/// The dearest cost accepted: what `htpasswd -B -C` allows. A verification at 17 already takes
/// seconds; higher costs would let one request hold a worker thread for minutes.
pub const MAX_COST: u32 = 17;

/// A bcrypt hash that passed [`parse`]. Its `Debug` shows the cost only.
#[derive(Clone, PartialEq, Eq)]
pub struct BcryptHash {
    text: String,
    cost: u32,
}

impl BcryptHash {
    /// The work factor, 4..=17.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Whether `password` matches. Never panics: an error from the bcrypt crate (which
    /// [`parse`] rules out) counts as a mismatch.
    pub fn verify(&self, password: &[u8]) -> bool {
        match bcrypt::verify(password, &self.text) {
            Ok(matched) => matched,
            Err(e) => {
                log::error!("basic: bcrypt verification failed: {e}");
                false
            }
        }
    }

    /// A hash no password is known to match, at `cost`, for unknown users: verifying against it
    /// takes as long as verifying a real user's password of the same cost.
    pub fn dummy(cost: u32) -> BcryptHash {
        let cost = cost.clamp(MIN_COST, MAX_COST);
        // Salt and digest of an arbitrary bcrypt hash; only the cost is changed.
        let text = format!("$2b${cost:02}$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u");
        BcryptHash { text, cost }
    }
}

impl fmt::Debug for BcryptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BcryptHash")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

/// Accepts a bcrypt hash, or says in words (never quoting it) what kind of hash it is instead.
pub fn parse(hash: &str) -> Result<BcryptHash, String> {
    let bcrypt_prefix = ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p));
    if !bcrypt_prefix {
        return Err(format!(
            "{}; only bcrypt hashes ($2y$, $2b$, $2a$) are supported: make them with `htpasswd -B`",
            describe_other(hash)
        ));
    }
    let malformed =
        "is a malformed bcrypt hash (expected 60 characters: $2y$NN$ and 53 of [./A-Za-z0-9])";
    if hash.len() != 60 || !hash.is_ascii() || hash.as_bytes().get(6) != Some(&b'$') {
        return Err(malformed.into());
    }
    let cost: u32 = match hash.get(4..6).map(str::parse) {
        Some(Ok(cost)) => cost,
        _ => return Err(malformed.into()),
    };
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(format!(
            "has bcrypt cost {cost}; the cost must be {MIN_COST} to {MAX_COST} (as `htpasswd -B -C` allows)"
        ));
    }
    let alphabet_ok = hash
        .bytes()
        .skip(7)
        .all(|b| b == b'.' || b == b'/' || b.is_ascii_alphanumeric());
    if !alphabet_ok || bcrypt::HashParts::from_str(hash).is_err() {
        return Err(malformed.into());
    }
    Ok(BcryptHash {
        text: hash.to_owned(),
        cost,
    })
}

/// What kind of (non-bcrypt) hash this looks like, as the start of a sentence.
fn describe_other(hash: &str) -> &'static str {
    if hash.is_empty() {
        "is empty"
    } else if hash.starts_with("$apr1$") {
        "is an MD5 hash ($apr1$, `htpasswd -m`)"
    } else if hash.starts_with("{SHA}") {
        "is a SHA-1 hash ({SHA}, `htpasswd -s`)"
    } else if hash.starts_with("$1$") {
        "is an MD5-crypt hash ($1$)"
    } else if hash.starts_with("$5$") || hash.starts_with("$6$") {
        "is a SHA-crypt hash ($5$/$6$, `htpasswd -2`/`-5`)"
    } else if hash.starts_with("$2x$") {
        "is a $2x$ bcrypt hash (the buggy pre-2011 variant)"
    } else if hash.starts_with('$') {
        "is not a bcrypt hash"
    } else if hash.len() == 13
        && hash
            .bytes()
            .all(|b| b == b'.' || b == b'/' || b.is_ascii_alphanumeric())
    {
        "looks like a DES crypt hash (`htpasswd -d`)"
    } else {
        "is not a hash (a plain-text password?)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_crate_hashes_parse_and_verify_as_2y() {
        let made = bcrypt::hash_with_result("s3cret", MIN_COST)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        assert!(made.starts_with("$2y$04$"));
        let h = parse(&made).unwrap();
        assert_eq!(h.cost(), 4);
        assert!(h.verify(b"s3cret"));
        assert!(!h.verify(b"s3cret "));
        for version in [bcrypt::Version::TwoA, bcrypt::Version::TwoB] {
            let text = bcrypt::hash_with_result("pw", MIN_COST)
                .unwrap()
                .format_for_version(version);
            assert!(parse(&text).unwrap().verify(b"pw"));
        }
    }

    /// `$2y$` hashes made by other implementations: PHP's documented examples (the
    /// `password_verify` and `crypt` manual pages) and one made with libxcrypt (Perl's `crypt`),
    /// the same format `htpasswd -B` writes.
    #[test]
    fn foreign_2y_hashes_verify() {
        let vectors = [
            (
                "rasmuslerdorf",
                "$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq",
            ),
            (
                "rasmuslerdorf",
                "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
            ),
            (
                "IGV range requests",
                "$2y$05$bucketgateTestSaltXYZ.itIhpsh7oTMCJ0o6aOWUamroBsXcEV6",
            ),
        ];
        for (password, text) in vectors {
            let h = parse(text).unwrap();
            assert!(h.verify(password.as_bytes()), "{text}");
            assert!(!h.verify(b"rasmus"), "{text}");
        }
    }

    #[test]
    fn other_hash_kinds_are_named_and_never_quoted() {
        let cases = [
            ("$apr1$abcdefgh$0123456789abcdefghijkl", "MD5"),
            ("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "SHA-1"),
            ("$1$salt$hash", "MD5-crypt"),
            ("$6$salt$hash", "SHA-crypt"),
            ("abJnggxhB/yJU", "DES"),
            ("hunter2", "plain-text"),
            ("", "empty"),
            (
                "$2x$10$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u",
                "buggy",
            ),
        ];
        for (hash, kind) in cases {
            let msg = parse(hash).unwrap_err();
            assert!(msg.contains(kind), "{hash}: {msg}");
            if !hash.is_empty() {
                assert!(!msg.contains(hash), "{msg}");
            }
        }
    }

    #[test]
    fn malformed_bcrypt_and_bad_costs_are_refused() {
        let good = "$2y$10$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u";
        assert!(parse(good).is_ok());
        assert!(parse(&good[..59]).unwrap_err().contains("malformed"));
        assert!(parse(&good.replace("$10$", "$1x$"))
            .unwrap_err()
            .contains("malformed"));
        assert!(parse(&good.replace("$10$", "$31$"))
            .unwrap_err()
            .contains("cost 31"));
        assert!(parse(&good.replace("$10$", "$03$"))
            .unwrap_err()
            .contains("cost 3"));
        assert!(parse(&good.replace('L', "é")).is_err());
        assert!(parse(&good.replace('L', "!")).is_err());
        assert!(parse(&good.replace('L', ":")).is_err());
    }

    #[test]
    fn dummy_hashes_are_valid_at_every_cost_and_match_nothing_obvious() {
        for cost in MIN_COST..=MAX_COST {
            let d = BcryptHash::dummy(cost);
            assert_eq!(parse(&d.text).unwrap(), d);
        }
        assert!(!BcryptHash::dummy(4).verify(b""));
        assert!(!BcryptHash::dummy(4).verify(b"password"));
        assert_eq!(BcryptHash::dummy(99).cost(), MAX_COST);
    }

    #[test]
    fn debug_hides_the_hash() {
        let h = BcryptHash::dummy(5);
        let shown = format!("{h:?}");
        assert!(!shown.contains("L6Bc"), "{shown}");
        assert!(shown.contains('5'));
    }
}
