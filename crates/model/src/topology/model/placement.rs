//! Where a lab spread over several machines runs each part: the file's
//! `hosts` (each machine, by its name and the address other machines reach
//! it at, its underlay address) and the `host` a VNet, a NIC or an
//! on-premises site is placed on.
//!
//! As on Azure, where each physical host runs the virtual switch of its own
//! VMs, a NIC's host holds its namespace and applies its NSGs; a VNet's
//! gateways and health prober are on the VNet's host, a site's router,
//! hosts and circuit edges on the site's. Without `hosts`, every part is on
//! the one machine, and [`Placement::is_spread`] is false.

use super::indices::{NicIdx, SiteIdx, VnetIdx};
use super::named::ByName;
use super::TiVec;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

super::index_type!(
    /// Index of a machine in [`Placement::hosts`].
    HostIdx
);

/// One machine of a lab spread over several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    pub name: String,
    /// The address the other machines send this one's VXLAN packets to.
    pub underlay_address: Ipv4Addr,
    pub line: usize,
}

/// The file's `hosts` and what each VNet, NIC and site is placed on.
/// Unplaced parts are on the first host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub hosts: TiVec<HostIdx, LabHost>,
    /// A VNet's `host`: its NICs, gateways and prober.
    pub vnets: BTreeMap<VnetIdx, HostIdx>,
    /// A NIC's own `host`, over its VNet's.
    pub nics: BTreeMap<NicIdx, HostIdx>,
    /// A site's `host`: its router, its hosts and its circuits' edges.
    pub sites: BTreeMap<SiteIdx, HostIdx>,
    /// The machine this topology runs on (`vnetd run --host`): only its
    /// share is built here. `None` for a lab on one machine, and for the
    /// offline commands, which see every part.
    pub local: Option<HostIdx>,
    /// The largest packet the underlay carries between this machine and
    /// the others (its MTU less VXLAN's 50 bytes), once it is opened: a
    /// packet for a port on another machine meets it as a path MTU, so
    /// nothing is fragmented.
    pub inner_mtu: Option<u16>,
}

/// The host of everything in a lab that is not spread.
pub const FIRST_HOST: HostIdx = HostIdx::new(0);

impl Placement {
    /// True when the file names machines: the lab runs on several.
    pub fn is_spread(&self) -> bool {
        !self.hosts.is_empty()
    }

    pub fn host_by_name(&self, name: &str) -> Option<HostIdx> {
        self.hosts.by_name(name)
    }

    /// The host of a VNet's gateways and prober, and of its NICs that name
    /// none.
    pub fn vnet_host(&self, vnet: VnetIdx) -> HostIdx {
        self.vnets.get(&vnet).copied().unwrap_or(FIRST_HOST)
    }

    /// The host of a site's router, hosts and circuit edges.
    pub fn site_host(&self, site: SiteIdx) -> HostIdx {
        self.sites.get(&site).copied().unwrap_or(FIRST_HOST)
    }

    /// True when a part on `host` runs on this machine.
    #[inline]
    pub fn is_local(&self, host: HostIdx) -> bool {
        self.local.is_none_or(|local| local == host)
    }

    /// Makes `host` (a name of the file's `hosts`) the machine this
    /// topology runs on. A spread lab needs its machine named, and a lab on
    /// one machine takes no name: either mistake is refused with why.
    pub fn run_on(&mut self, host: Option<&str>) -> Result<(), String> {
        let names = || {
            let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
            names.join(", ")
        };
        self.local = match host {
            None if self.is_spread() => {
                return Err(format!(
                    "the file spreads the lab over the hosts {}: say which one this machine is \
                     with --host NAME",
                    names()
                ))
            }
            None => None,
            Some(name) if !self.is_spread() => {
                return Err(format!(
                    "--host {name}: the file has no `hosts`, so the lab runs on this machine alone"
                ))
            }
            Some(name) => match self.host_by_name(name) {
                Some(host) => Some(host),
                None => return Err(format!("--host {name}: the file's hosts are {}", names())),
            },
        };
        Ok(())
    }

    /// The name of the machine this topology runs on, if it is spread.
    pub fn local_name(&self) -> Option<String> {
        self.local.and_then(|h| self.name(h)).map(str::to_owned)
    }

    /// The name of a host, or `None` for a lab on one machine.
    pub fn name(&self, host: HostIdx) -> Option<&str> {
        self.hosts.get(host).map(|h| h.name.as_str())
    }
}
