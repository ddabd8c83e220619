//! Where a redirected connection was really going.
//!
//! A gateway sends pupils' port 80 and 443 traffic to Haven with a NAT redirect (iptables/nftables
//! `REDIRECT` or `DNAT`); the kernel keeps the original destination, which `SO_ORIGINAL_DST` reads
//! back. A connection made straight to Haven (a browser that was given the block page address by
//! the DNS service) has no other destination: it gets `None` and is answered by Haven itself.

use std::net::SocketAddr;

use tokio::net::TcpStream;

/// The original destination of a redirected connection, or `None` if it was meant for Haven.
pub(crate) fn intercepted(stream: &TcpStream, local: SocketAddr) -> Option<SocketAddr> {
    use nix::sys::socket::{getsockopt, sockopt};
    let here = stream.local_addr().unwrap_or(local);
    let dst: Option<SocketAddr> = if here.is_ipv4() {
        getsockopt(stream, sockopt::OriginalDst).ok().map(|sa| {
            let ip = std::net::Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
            SocketAddr::from((ip, u16::from_be(sa.sin_port)))
        })
    } else {
        getsockopt(stream, sockopt::Ip6tOriginalDst).ok().map(|sa| {
            let ip = std::net::Ipv6Addr::from(sa.sin6_addr.s6_addr);
            SocketAddr::from((ip, u16::from_be(sa.sin6_port)))
        })
    };
    // Without NAT, conntrack (when loaded) reports the connection's own local address.
    dst.filter(|d| *d != here && *d != local)
}
