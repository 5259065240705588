//! Frontends: the APIs that clients speak, each turned into plain S3 object operations.

pub mod files;
pub mod header_policy;
pub mod s3;
pub mod upstream_errors;
