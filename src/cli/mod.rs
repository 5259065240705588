//! The subcommands of the binary that are more than a call into the server: `keys`.

pub mod keys;
