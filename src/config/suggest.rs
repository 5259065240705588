//! "Did you mean ...?" for misspelt keys and names.

/// Every `` `word` `` in `s`, in order.
pub fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, w)| w.to_string())
        .collect()
}

/// The candidate closest to `word`, if it is close enough to be a likely typo. A candidate
/// equal to `word` is not a suggestion.
pub fn closest<S: AsRef<str>>(word: &str, candidates: &[S]) -> Option<String> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(AsRef::as_ref)
        .filter(|c| *c != word)
        .map(|c| {
            let d = if c.eq_ignore_ascii_case(word) {
                0
            } else {
                distance(word, c)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Levenshtein distance, counted in chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let known = ["bucket", "upstream", "path_prefix"];
        assert_eq!(closest("bukcet", &known).as_deref(), Some("bucket"));
        assert_eq!(closest("upstrem", &known).as_deref(), Some("upstream"));
        assert_eq!(closest("zzz", &known), None);
        assert_eq!(closest("bucket", &known), None);
        assert_eq!(closest("get", &["GET", "PUT"]).as_deref(), Some("GET"));
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn finds_backticked_words() {
        assert_eq!(
            backticked("unknown field `x`, expected one of `a`, `b`"),
            ["x", "a", "b"]
        );
    }
}
