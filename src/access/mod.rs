//! Authentication on the data path: per-route plugin chains, the view of the request plugins
//! get, and the count of failed attempts.

pub mod access_keys;
pub mod authorize;
pub mod build;
pub mod chain;
pub mod cors;
pub mod failures;
pub mod minter;
pub mod policy;
pub mod view;

pub use chain::Chain;
