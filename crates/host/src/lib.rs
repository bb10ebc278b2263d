//! Host plumbing: network namespaces, TUN devices and their addressing.
//!
//! This layer speaks plain Linux only. It knows namespaces, links, queues,
//! addresses, prefixes and default gateways, and nothing about Azure: no
//! virtual networks, subnets, NICs or policies. The daemon translates its
//! topology into [`NamespaceSpec`]s and gets back namespaces whose `eth0` is
//! a TUN device whose queues it holds.
//!
//! - [`netns`]: named network namespaces compatible with iproute2
//!   (`ip netns list/exec` see them), and running code inside one on a
//!   short-lived thread.
//! - [`tun`]: multi-queue TUN devices with `IFF_VNET_HDR` and offloads.
//! - [`netlink`]: links, veth pairs, addresses and routes through
//!   rtnetlink.
//! - [`interface`]: an interface's setup inside its namespace (MTU,
//!   addresses, gateways, forwarding, IPv6 quieted).
//! - [`HostLab`]: builds a set of namespaces and removes everything it
//!   created, through [`ops::HostOps`] (the host's own operations, or a
//!   wrapper that fails one); [`cleanup_leftovers`] and [`cleanup_marked`] remove what a
//!   crashed run left.
//! - [`process`]: whether the process that made something still runs (its
//!   pid and start time).
//! - [`site`]: a routed site: a router namespace joined to host namespaces
//!   by veth pairs, forwarding with an L4 ECMP hash.
//! - [`probe`]: health checks (a TCP handshake, an HTTP or HTTPS GET)
//!   opened from inside a namespace, so that they leave from its address.
//! - [`shaping`]: a rate on what an interface sends (`tc` `tbf`).
//! - [`every_address`]: a namespace that holds every address it does not
//!   route elsewhere, with default TCP listeners for them.
//! - [`held_files`]: files kept open without taking descriptors.
//! - [`link_drops`]: what devices' queues dropped, in any namespace.
//! - [`bpf`]: the one BPF object (the fabric's tc programs and the
//!   underlay's), its loader and the tc requests that attach its programs;
//!   [`fabric`] (the kernel fast path) and [`underlay`] (VXLAN between
//!   hosts) use them.
//! - [`routing`]: BGP speakers (BIRD 2, FRR, gobgpd) run inside namespaces.
//! - [`listener`]: the one accept loop of every listening socket, with the
//!   bounds each client is held to.
//! - [`dns_server`]: unbound and BIND 9 run in a namespace, unprivileged
//!   and chrooted, ready once they answer what they hold.
//! - [`config_text`]: the writers of every text handed another program (a
//!   configuration, a zone file, a ruleset, a command line), each quoting
//!   by its program's grammar or refusing.
//! - [`log_relay`]: a daemon's output relayed into vnetd's log, at the
//!   daemon's own levels.
//!
//! It owns the Linux side and knows nothing of Azure: it may use nothing
//! else of the crate.

pub mod bpf;
pub mod cap;
pub mod capture;
pub mod capture_filter;
pub mod config_text;
pub mod dns_server;
pub mod every_address;
pub mod fabric;
pub mod held_files;
pub mod intercept;
pub mod interface;
mod lab;
pub mod link_drops;
pub mod listener;
pub mod log_relay;
pub mod machine;
pub mod nat;
pub mod netlink;
pub mod netns;
mod nlmsg;
pub mod ops;
pub mod probe;
pub mod process;
pub mod request_name;
pub mod routing;
pub mod shaping;
pub mod site;
#[cfg(test)]
mod test_support;
pub mod tls;
pub mod tun;
pub mod underlay;

pub use interface::InterfaceConfig;
pub use lab::{
    allow_open_files, cleanup_leftovers, cleanup_marked, cleanup_named, HostLab, Leftovers,
    NamespaceSpec, PlumbedNamespace, StoppedProcess, UnmountedNamespaces, DEFAULT_MTU,
    INTERFACE_NAME,
};
pub use ops::{HostOps, LinuxHost};
pub use tun::{gso_segment_size, Offloads, TunDevice, TunOptions, TunQueue, VNET_HDR_LEN};
