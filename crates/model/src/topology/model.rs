//! The resolved topology: what a topology file describes, after decoding and
//! validation. Names are resolved to indices, CIDRs and addresses are parsed,
//! enum values are typed. Every object remembers the line it was declared on
//! so that later stages (and `vnetd apply`) can point back into the file.
//!
//! The vocabulary mirrors the Terraform `azurerm` provider and ARM: a
//! [`Vnet`] holds [`Subnet`]s, a [`Nic`] sits in one subnet, [`Peering`]
//! links are one-directional exactly as in Azure, a [`RouteTable`] and an
//! [`Nsg`] are standalone resources associated with subnets (and NSGs with
//! NICs).
//!
//! This module only names its files and what they hold: the whole
//! ([`Topology`], and the questions asked of it across kinds) in
//! `topology`, the core indices in `indices`, the virtual networks in
//! `networks`, gateways, connections and circuits in `hybrid`, and every
//! other kind in a file of its own.

pub use typed_index_collections::{TiSlice, TiVec};

mod expectations;
mod firewalls;
mod load_balancers;
mod route_servers;
mod virtual_wan;
pub use expectations::*;
pub use firewalls::*;
pub use load_balancers::*;
pub use route_servers::*;
pub use virtual_wan::*;

mod dns;
pub use dns::*;
mod edge;
pub use edge::*;
mod express_route;
mod named;
mod named_kinds;
pub use express_route::{PrivateCloud, PRIVATE_CLOUD_ASN, PRIVATE_CLOUD_CIRCUIT_MBPS};
pub(crate) use named::named;
pub use named::{ByName, Named};
mod index_type;
mod placement;
pub(crate) use index_type::index_type;
mod spelled;
pub use placement::{HostIdx, LabHost, Placement, FIRST_HOST};
pub(crate) use spelled::spelled_enum;

mod flow_logs;
pub use flow_logs::*;
mod network_managers;
pub use network_managers::*;
mod realism;
pub use realism::*;

mod services;
pub use services::*;
mod sites;
pub use sites::*;

mod hybrid;
mod indices;
mod networks;
mod topology;
pub use crate::net::{
    PortRange, PortSpec, IPPROTO_AH, IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP,
    IPPROTO_UDP,
};
pub use hybrid::*;
pub use indices::*;
pub use networks::*;
pub use topology::Topology;
