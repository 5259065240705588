//! Parsers for the operator's command line when minting keys: `--grant BUCKET:PREFIX:OPS` and
//! `--ttl 24h`.

use std::time::Duration;

use bucketgate_plugin::{Grant, Operation, Operations};

use super::claims::check_grant;

/// `BUCKET:PREFIX:OPS`, where OPS is a comma-separated list of `read`, `write`, `delete`,
/// `list`, or `all`. The prefix may be empty (`data::read`, the whole bucket) and may itself
/// contain `:` (the bucket ends at the first `:`, the operations start after the last);
/// `*` as the bucket is any bucket.
pub fn parse_grant_arg(s: &str) -> Result<Grant, String> {
    const FORM: &str = "expected BUCKET:PREFIX:OPERATIONS, like `data:users/alice/:read,write` \
                        or `data::read` for the whole bucket";
    let (bucket, rest) = s.split_once(':').ok_or(FORM)?;
    let (prefix, ops) = rest.rsplit_once(':').ok_or(FORM)?;
    let mut list = Vec::new();
    for word in ops.split(',').map(str::trim) {
        match word {
            "read" => list.push(Operation::Read),
            "write" => list.push(Operation::Write),
            "delete" => list.push(Operation::Delete),
            "list" => list.push(Operation::List),
            "all" => list.extend([
                Operation::Read,
                Operation::Write,
                Operation::Delete,
                Operation::List,
            ]),
            "" => return Err(format!("no operations after the last `:`: {FORM}")),
            other => {
                return Err(format!(
                    "unknown operation `{other}`: use read, write, delete, list or all"
                ))
            }
        }
    }
    let grant = Grant {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        operations: Operations::of(&list),
    };
    check_grant(&grant)?;
    Ok(grant)
}

/// A duration such as `30m`, `24h`, `7d` or `1d12h`: whole numbers, each with a unit of `s`,
/// `m`, `h`, `d` or `w`. Must be more than zero.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    const FORM: &str = "expected a duration such as 30m, 24h, 7d or 1d12h (units s, m, h, d, w)";
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("unexpected `{c}` in `{s}`: {FORM}")),
        };
        if digits.is_empty() {
            return Err(format!("`{c}` without a number in `{s}`: {FORM}"));
        }
        let n: u64 = digits.parse().map_err(|_| format!("`{s}` is too long"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| format!("`{s}` is too long"))?;
    }
    if !digits.is_empty() {
        return Err(format!("`{digits}` has no unit in `{s}`: {FORM}"));
    }
    if total == 0 {
        return Err(format!("`{s}` is not more than zero: {FORM}"));
    }
    Ok(Duration::from_secs(total))
}
