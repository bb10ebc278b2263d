//! Host plumbing: network namespaces, TUN devices and their addressing.
//!
//! This layer speaks plain Linux only. It knows namespaces, links, queues,
//! addresses, prefixes and default gateways, and nothing about Azure: no
//! virtual networks, subnets, NICs or policies.
//!
//! - [`netns`]: named network namespaces compatible with iproute2
//!   (`ip netns list/exec` see them), and running code inside one on a
//!   short-lived thread.

pub mod netns;
