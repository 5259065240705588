//! Small helpers with no dependency on the rest of bucketgate.

pub mod civil;
pub mod client_gone;
