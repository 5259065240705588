//! bucketgate: an edge proxy on Pingora that authenticates callers and re-signs their requests
//! to S3 and Ceph RGW buckets. The binary in `main.rs` is a thin CLI over this library.
//!
//! Each folder is a layer, and a layer imports only the layers listed below it (`.ci/layers.py`
//! checks every `crate::` path against this order):
//!
//! | layer | what it holds |
//! |---|---|
//! | [`cli`] | the `keys` commands of the binary |
//! | [`server`] | building the Pingora server, signals, reload, listeners, the metrics listener |
//! | `request` | the spine: the `ProxyHttp` phases, the per-request context, health endpoints, CORS headers |
//! | [`gateway`] | the runtime model of one config: its routes, each with its frontend, chain and pool |
//! | [`frontend`] | the APIs clients speak (`files`, `s3`), behind the [`frontend::Frontend`] trait |
//! | `access` | the auth chains, policy (grants), CORS policy, the S3 access-key store |
//! | `reply` | the one refusal type and the writing of locally made answers |
//! | [`upstream`] | pools of S3 endpoints, retries, the internal S3 client |
//! | `limit` | rate and concurrency limits, the client address |
//! | [`observe`] | metrics, the access log, the upstream log |
//! | [`config`] | the YAML file: its model, loading and validation |
//! | `tls` | certificate files, SNI resolution, upstream TLS settings |
//! | [`s3`] | the pure S3 toolkit: signing, verification, aws-chunked, sealed keys, key encoding |
//! | `util` | small helpers with no bucketgate dependency |
//!
//! Only what the binary, the tests and the benchmarks use is public; the rest is the crate's own.

mod access;
pub mod cli;
pub mod config;
pub mod frontend;
pub mod gateway;
mod limit;
pub mod observe;
mod reply;
mod request;
pub mod s3;
pub mod server;
mod tls;
pub mod upstream;
mod util;
