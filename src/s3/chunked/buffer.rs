//! Byte buffers whose capacity never exceeds a known bound (a chunk plus its framing), and the
//! gathering of released buffers into one output without copying when there is only one.

/// Appends `data` to `buf`, growing its capacity geometrically but never past `limit` bytes,
/// so a chunk buffer is never more than its chunk's framed length (however the bytes arrive).
/// The caller guarantees `buf.len() + data.len() <= limit`.
pub(crate) fn push_bounded(buf: &mut Vec<u8>, data: &[u8], limit: usize) {
    let needed = buf.len().saturating_add(data.len());
    if needed > buf.capacity() {
        let target = needed.max(buf.capacity().saturating_mul(2).min(limit));
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(data);
}

/// An empty buffer for a chunk of `size` data bytes plus `framing` bytes, and its limit for
/// [`push_bounded`]: the capacity starts at no more than 64 KiB and grows only as bytes arrive.
pub(crate) fn chunk_buffer(size: u64, framing: u64) -> (Vec<u8>, usize) {
    // The framer refused sizes over the maximum chunk size.
    let limit = usize::try_from(size.saturating_add(framing)).unwrap_or(usize::MAX);
    (Vec::with_capacity(limit.min(64 * 1024)), limit)
}

/// Appends a released buffer to the output, moving it instead of copying when the output is
/// still empty.
pub(crate) fn release(out: &mut Vec<u8>, buf: Vec<u8>) {
    if out.is_empty() {
        *out = buf;
    } else {
        out.extend_from_slice(&buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_stays_within_limit() {
        let mut buf = Vec::new();
        let limit = 1000;
        for _ in 0..1000 {
            push_bounded(&mut buf, b"x", limit);
            assert!(buf.capacity() <= limit, "{}", buf.capacity());
        }
        assert_eq!(buf.len(), 1000);
    }

    #[test]
    fn release_moves_then_appends() {
        let mut out = Vec::new();
        release(&mut out, b"ab".to_vec());
        release(&mut out, b"cd".to_vec());
        assert_eq!(out, b"abcd");
    }
}
