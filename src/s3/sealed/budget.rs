//! The size limits of sealed access keys, and the client measurements they rest on, in one
//! place so that minting, opening and the docs agree.
//!
//! Measured against a local listener that records the `Authorization` header and the
//! `X-Amz-Credential` query parameter (access key ids of `BG1` plus base32, lengths 128, 200,
//! 256, 512, 1024, 2048, 4096 and 8192):
//!
//! | client | how the key was given | largest sent unchanged |
//! |---|---|---|
//! | awscli 1.45.11 (botocore 1.43.11) | `aws configure set aws_access_key_id`, `aws s3 ls` | 8192 (all tried) |
//! | boto3 1.43.11 | `AWS_ACCESS_KEY_ID`, `list_buckets` | 8192 (all tried) |
//! | boto3 1.43.11 | `generate_presigned_url`, SigV4 | 8192 (all tried; URL 8459 chars) |
//! | rclone 1.60.1 (aws-sdk-go) | `--s3-access-key-id`, `lsd` | 8192 (all tried) |
//! | s3cmd 2.3.0 | `--access_key`, `ls` | 8192 (all tried) |
//!
//! No client checked the length or the characters. The limits that bite first are outside the
//! clients: 8 KiB request lines and headers in common load balancers and nginx, which a
//! presigned URL must fit with its key, path and signature. Hence the cap of 512.

/// The longest access key id that [`super::mint`] produces and [`super::open`] reads.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 512;

/// The length a typical key (a short subject and two grants) stays under.
pub const TYPICAL_BUDGET: usize = 200;

/// The longest subject, in bytes of UTF-8.
pub const MAX_SUBJECT_BYTES: usize = 64;

/// The most grants one key carries.
pub const MAX_GRANTS: usize = 8;

/// The longest bucket name or key prefix in a grant, in bytes (one length byte each).
pub const MAX_FIELD_BYTES: usize = 255;

/// The longest sealing key id, in characters of `[A-Za-z0-9_-]`.
pub const MAX_KEY_ID_LEN: usize = 8;
