//! bucketgate: an edge proxy on Pingora that authenticates callers and re-signs their requests
//! to S3 and Ceph RGW buckets. The binary in `main.rs` is a thin CLI over this library; the
//! request's path through the modules is laid out in [`proxy`].

pub mod access_log;
pub mod app;
pub mod auth;
pub mod authorize;
pub mod civil;
pub mod client_ip;
pub mod config;
pub mod cors;
pub mod cors_headers;
pub mod failure;
pub mod frontend;
pub mod gateway;
pub mod header_policy;
pub mod health;
pub mod key;
pub mod keys_cli;
pub mod lifecycle;
pub mod limit;
pub mod live;
pub mod observe;
pub mod policy;
pub mod proxy;
pub mod reload;
pub mod reply;
pub mod route;
pub mod s3;
pub mod tls;
pub mod upstream;
