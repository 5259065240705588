//! The upstream side: pools of S3 endpoints with background name resolution, active health
//! checks, passive ejection, load balancing and the retry rules.

pub mod background;
pub mod client;
pub mod discovery;
pub mod ejection;
pub mod health_check;
pub mod pool;
pub mod retry;
pub mod selection;

pub use client::S3Client;
pub use pool::{Pool, Pools, Target};
