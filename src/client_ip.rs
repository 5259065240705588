//! Who the client is, by address: the TCP peer, or, when the peer is one of our own trusted
//! proxies (a load balancer, a CDN), the address that proxy put in `X-Forwarded-For`.
//!
//! `X-Forwarded-For` is a list anyone can write to, so it is read from the right: each hop
//! appends the address it saw. Walking left from the peer, the first address that is not a
//! trusted proxy is the client; everything left of it may be forged. A peer that is not trusted
//! is the client itself, whatever headers it sends. The rate limiter keys on this; the access
//! log and metrics may too.

use std::fmt;
use std::net::IpAddr;

use pingora_proxy::Session;
use serde::{de, Deserialize, Deserializer};

/// An IP network such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is a `/32` (`/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || {
            format!(
                "invalid network {s:?}: expected an address or CIDR such as 10.0.0.0/8 or \
                 2001:db8::/32"
            )
        };
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr {
            net: canonical(net),
            prefix: if net.is_ipv6() && canonical(net).is_ipv4() {
                prefix.saturating_sub(96)
            } else {
                prefix
            },
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).map_err(de::Error::custom)
    }
}

/// `::ffff:a.b.c.d` (an IPv4 client on a dual-stack listener) as `a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The client address of a request: see the module doc. None when the peer is not an IP
/// socket (a Unix socket).
pub fn of(session: &Session, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())?;
    let forwarded = session
        .req_header()
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(resolve(peer, forwarded, trusted))
}

/// The client address given the peer and the `X-Forwarded-For` header lines in order.
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let mut client = canonical(peer);
    if !is_trusted(client, trusted) {
        return client;
    }
    let hops: Vec<&str> = forwarded.flat_map(|line| line.split(',')).collect();
    for hop in hops.iter().rev() {
        // Garbage in the list: the hop that wrote it is the last one we can vouch for.
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            return ip;
        }
    }
    client
}

fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|c| c.contains(ip))
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `2001:db8::1`, and leniently `1.2.3.4:5678` or
/// `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| canonical(a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| Cidr::parse(s).unwrap()).collect()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")), "v4-mapped peers match");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("192.0.2.7").unwrap().contains(ip("192.0.2.7")));
        assert!(!Cidr::parse("192.0.2.7").unwrap().contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::5")));
        assert!(!v6.contains(ip("10.0.0.1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "host/8",
            "::/129",
            "1.2.3.4/-1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn untrusted_peers_are_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        let got = resolve(ip("203.0.113.9"), ["198.51.100.1"].into_iter(), &trusted);
        assert_eq!(got, ip("203.0.113.9"), "an untrusted peer's XFF is ignored");
        let got = resolve(ip("10.0.0.2"), ["198.51.100.1"].into_iter(), &[]);
        assert_eq!(got, ip("10.0.0.2"), "no trusted proxies: XFF is ignored");
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.0.0/16"]);
        // A forged left part, the real client, then our own proxies.
        let xff = ["6.6.6.6, 198.51.100.7", "192.168.1.1"];
        let got = resolve(ip("10.0.0.2"), xff.into_iter(), &trusted);
        assert_eq!(got, ip("198.51.100.7"));
        // Only trusted hops: the left-most of them.
        let got = resolve(ip("10.0.0.2"), ["10.9.9.9"].into_iter(), &trusted);
        assert_eq!(got, ip("10.9.9.9"));
        // No header: the peer.
        let got = resolve(ip("10.0.0.2"), std::iter::empty(), &trusted);
        assert_eq!(got, ip("10.0.0.2"));
        // Garbage stops the walk at the last address we can vouch for.
        let got = resolve(
            ip("10.0.0.2"),
            ["1.1.1.1, junk, 10.3.3.3"].into_iter(),
            &trusted,
        );
        assert_eq!(got, ip("10.3.3.3"));
        // Ports and brackets are tolerated.
        let got = resolve(ip("10.0.0.2"), ["[2001:db8::5]:443"].into_iter(), &trusted);
        assert_eq!(got, ip("2001:db8::5"));
    }
}
