//! Who the client is, by address: the TCP peer, or, when the peer is one of our own trusted
//! proxies (a load balancer, a CDN), the address that proxy put in `X-Forwarded-For`.
//!
//! `X-Forwarded-For` is a list anyone can write to, so it is read from the right: each hop
//! appends the address it saw. Walking left from the peer, the first address that is not a
//! trusted proxy is the client; everything left of it may be forged. A peer that is not trusted
//! is the client itself, whatever headers it sends. The rate limiter keys on this; the access
//! log and metrics may too.

use std::net::IpAddr;

use pingora_proxy::Session;

pub use bucketgate_plugin::Cidr;

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
    let mut client = peer.to_canonical();
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
        return Some(ip.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
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
