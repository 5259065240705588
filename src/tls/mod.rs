//! TLS on both sides of the proxy, with rustls (Pingora's `rustls` feature).
//!
//! - Listeners ([`listeners`], [`resolver`]): certificate chains chosen by SNI, ALPN h2 +
//!   http/1.1, a minimum TLS version, and certificate files re-read on reload (SIGHUP).
//! - Upstreams ([`upstream`]): a CA bundle, a client certificate and a verification switch per
//!   `https` upstream.
//! - [`pem`] reads and cross-checks the PEM files for all of them, and [`config`] holds the
//!   YAML shapes.

pub mod config;
pub mod pem;
pub mod resolver;
pub mod upstream;

pub use resolver::SniResolver;
