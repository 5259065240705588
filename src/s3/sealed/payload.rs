//! The compact binary form of [`Claims`] that goes inside the seal: a version byte, the expiry
//! as u32 seconds, then length-prefixed strings. Decoding is strict and never panics.

use bucketgate_plugin::{Grant, Operation, Operations};

use super::claims::{self, Claims};

/// The payload layout this code writes and reads.
const VERSION: u8 = 1;

/// Operations in bit order: read 1, write 2, delete 4, list 8.
const OPS: [Operation; 4] = [
    Operation::Read,
    Operation::Write,
    Operation::Delete,
    Operation::List,
];

/// The payload of `c`, or why it cannot be sealed.
pub(super) fn encode(c: &Claims) -> Result<Vec<u8>, String> {
    claims::check(&c.subject, &c.grants)?;
    let expires = claims::expiry_seconds(c.expires_at)?;
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    out.extend_from_slice(&expires.to_be_bytes());
    push_str(&mut out, &c.subject)?;
    out.push(u8::try_from(c.grants.len()).map_err(|_| "too many grants")?);
    for g in &c.grants {
        out.push(ops_to_bits(g.operations));
        push_str(&mut out, &g.bucket)?;
        push_str(&mut out, &g.prefix)?;
    }
    Ok(out)
}

/// The claims in `bytes`, or None when they are not a well-formed version-1 payload.
pub(super) fn decode(bytes: &[u8]) -> Option<Claims> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    let expires = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
    let subject = r.string()?;
    let count = r.byte()?;
    let mut grants = Vec::with_capacity(usize::from(count).min(8));
    for _ in 0..count {
        let operations = ops_from_bits(r.byte()?)?;
        let bucket = r.string()?;
        let prefix = r.string()?;
        grants.push(Grant {
            bucket,
            prefix,
            operations,
        });
    }
    if !r.0.is_empty() || expires == 0 {
        return None;
    }
    claims::check(&subject, &grants).ok()?;
    Some(Claims {
        subject,
        grants,
        expires_at: claims::expiry_time(expires),
    })
}

fn push_str(out: &mut Vec<u8>, s: &str) -> Result<(), String> {
    let len = u8::try_from(s.len()).map_err(|_| format!("{s:?} is longer than 255 bytes"))?;
    out.push(len);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn ops_to_bits(ops: Operations) -> u8 {
    OPS.iter()
        .enumerate()
        .filter(|(_, op)| ops.contains(**op))
        .fold(0, |acc, (i, _)| acc | 1 << i)
}

/// The operations of `bits`, or None for unknown bits or none at all.
fn ops_from_bits(bits: u8) -> Option<Operations> {
    if bits == 0 || bits >> OPS.len() != 0 {
        return None;
    }
    let ops: Vec<Operation> = OPS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, op)| *op)
        .collect();
    Some(Operations::of(&ops))
}

/// A cursor over the payload; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn string(&mut self) -> Option<String> {
        let len = usize::from(self.byte()?);
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_bits_round_trip() {
        for bits in 1..16u8 {
            assert_eq!(ops_to_bits(ops_from_bits(bits).unwrap()), bits);
        }
        assert!(ops_from_bits(0).is_none());
        assert!(ops_from_bits(16).is_none());
        assert!(ops_from_bits(0x81).is_none());
    }

    #[test]
    fn truncations_and_trailing_bytes_are_refused() {
        let c = Claims {
            subject: "alice".into(),
            grants: vec![Grant {
                bucket: "data".into(),
                prefix: "a/".into(),
                operations: Operations::of(&[Operation::Read]),
            }],
            expires_at: claims::expiry_time(2_000_000_000),
        };
        let bytes = encode(&c).unwrap();
        assert_eq!(decode(&bytes).unwrap(), c);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_none(), "{n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
    }
}
