//! The spine of one request: Pingora's `ProxyHttp` phases ([`spine`]), each delegating to the
//! route's frontend and the layers below; the health endpoints, CORS headers and the TLS
//! version gate it answers before any frontend.

pub mod cors;
pub mod cors_headers;
pub mod ctx;
pub mod health;
pub mod route;
pub mod spine;
pub mod tls_version;
