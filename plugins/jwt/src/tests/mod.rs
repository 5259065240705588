//! Unit tests of the JWT plugin, end to end through `Plugin::authenticate`, with the test-only
//! keys of `testdata/` (see testdata/README.md).

mod algorithms;
mod cache;
mod grants;
mod hmac_keys;
mod jwks_transport;
mod jwks_url;
mod rejections;
mod sources;
mod support;
mod validate;
