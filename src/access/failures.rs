//! Failed authentication attempts per client IP: the auth step ([`crate::access::authorize`]) and the
//! S3 frontend call [`record`] for every refused credential. The count feeds the stricter
//! `limits.failed_auth_per_ip` limit ([`crate::limit`]), which refuses an address before the
//! auth plugins run once it is reached, and goes in the log line of the refusal.

use std::net::IpAddr;

use crate::limit::Limits;

/// Counts one failed attempt from `ip` (the client address, see [`crate::limit::client_ip`]) and
/// returns the failures from it in the current window. `pending`: the request carried
/// credentials, so [`crate::limit`] counted its attempt before auth.
pub async fn record(limits: &Limits, ip: IpAddr, pending: bool) -> u64 {
    limits.record_failure(ip, pending).await
}
