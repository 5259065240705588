//! Test-only garbage for the "never panics" tests of the S3 XML modules: a tiny deterministic
//! random generator and mutations of valid bodies, so no fuzzing crate is needed.

/// A small deterministic generator for the garbage tests (no extra crate needed).
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutations of a valid body: flipped bytes, cuts, spliced markup.
pub(super) fn mutate(rng: &mut XorShift, body: &[u8]) -> Vec<u8> {
    const PIECES: [&[u8]; 10] = [
        b"<",
        b">",
        b"</",
        b"/>",
        b"&",
        b"&amp;",
        b"&#x",
        b"<![CDATA[",
        b"<Key>",
        b"\xff",
    ];
    let mut out = body.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            1 => out.truncate(at),
            2 => {
                let piece = PIECES[rng.below(PIECES.len())];
                out.splice(at..at, piece.iter().copied());
            }
            _ => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}
