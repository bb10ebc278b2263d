//! What the unit tests of several modules share.

use ipnet::{IpNet, Ipv4Net};
use std::time::{Duration, Instant};

/// A literal prefix of either family.
pub(crate) fn ip_net(text: &str) -> IpNet {
    text.parse().expect("literal prefix")
}

/// A literal IPv4 prefix.
pub(crate) fn v4_net(text: &str) -> Ipv4Net {
    text.parse().expect("literal prefix")
}

/// Waits until `done`, for at most 10 s; `what` names what did not come.
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}
