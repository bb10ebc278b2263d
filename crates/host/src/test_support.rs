//! What the unit tests of several modules share.

use ipnet::{IpNet, Ipv4Net};

/// A literal prefix of either family.
pub(crate) fn ip_net(text: &str) -> IpNet {
    text.parse().expect("literal prefix")
}

/// A literal IPv4 prefix.
pub(crate) fn v4_net(text: &str) -> Ipv4Net {
    text.parse().expect("literal prefix")
}
