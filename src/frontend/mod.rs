//! Frontends: the APIs that clients speak, each turned into plain S3 object operations.

pub mod files;
pub mod s3;
pub mod s3_xml;
pub mod upstream_errors;
