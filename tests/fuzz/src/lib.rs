//! Shared pieces of the fuzz targets: a reference aws-chunked decoder and a generator of valid
//! aws-chunked bodies (`chunked_ref`), reading raw HTTP request heads the way Pingora does
//! (`http_head`), and polling a plugin's future without a runtime (`block_on`).

pub mod chunked_check;
pub mod chunked_ref;
pub mod http_head;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Polls `fut` to completion on this thread. The auth plugins' `authenticate` never waits on
/// I/O for the configurations the targets build (static keys, inline users), so this returns at
/// the first poll; a future that stays pending is a bug in the target, hence the panic.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("an authenticate future kept waiting without I/O");
}

/// A little reader over fuzz input for the targets that build structured values: every call
/// succeeds (running out of input gives zeros), so any input is a valid program.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | (u16::from(self.u8()) << 8)
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 256 {
            usize::from(self.u8()) % n
        } else {
            usize::from(self.u16()) % n
        }
    }

    /// Up to `max` bytes.
    pub fn take(&mut self, max: usize) -> &'a [u8] {
        let n = max.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Cuts `body` into pieces at the offsets `cuts` picks, as a socket would deliver it.
pub fn pieces<'b>(body: &'b [u8], cuts: &mut Bytes<'_>) -> Vec<&'b [u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = match cuts.u8() {
            0 => rest.len(),
            n => usize::from(n).min(rest.len()),
        };
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    out
}
