//! The process: building the Pingora server from a config ([`build`]), its listeners, signals
//! (drain, upgrade), config reloads and the metrics listener.

pub mod build;
pub mod drain;
pub mod exposition;
pub mod listeners;
pub mod reload;
pub mod signals;
