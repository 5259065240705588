//! Loading and validating `bucketgate.yaml`: every problem is reported with file, line and column.

pub mod model;

pub use model::Config;
