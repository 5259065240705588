//! Unit tests of the plugin's flows, against a local HTTP provider (`support`), and of the
//! config and the Redis store.

mod callback;
mod config;
mod login;
mod logout;
mod mint;
mod redis;
mod session;
pub(crate) mod support;
