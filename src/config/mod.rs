//! Loading and validating `bucketgate.yaml`: every problem is reported with file, line and column.

mod access_keys;
mod credentials;
mod interpolate;
pub mod limits;
mod load;
mod locate;
pub mod model;
mod path;
mod problem;
mod suggest;
mod typed;
mod validate;
mod validate_limits;
mod validate_observe;
mod validate_pools;
mod validate_tls;

pub use access_keys::read_key_file;
pub use load::{load, load_str};
pub use model::Config;
pub use problem::Problem;
