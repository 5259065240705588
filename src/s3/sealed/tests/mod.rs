//! Unit tests of sealed access keys, end to end through `mint` and `open`.

mod args;
mod config;
mod rotation;
mod roundtrip;
mod support;
mod tamper;
