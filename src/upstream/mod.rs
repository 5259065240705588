//! The upstream side: pools of S3 endpoints with background name resolution and health checks.

pub mod background;
pub mod discovery;
pub mod pool;

pub use pool::{Pool, Pools};
