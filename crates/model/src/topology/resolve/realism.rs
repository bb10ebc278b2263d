//! Resolution of what makes a lab as slow as Azure: virtual machines (a
//! known size, NICs of one region, each NIC in at most one VM), VPN gateway
//! SKUs per generation, and the region pairs whose delay a lab needs: a
//! global peering or a Vnet2Vnet connection between regions that Azure
//! publishes no round trip for takes vnetd's estimate from the regions'
//! coordinates (or, without coordinates, no delay), with a warning,
//! unless the link gives its own `impairments.latency_ms`. Azure accepts
//! these designs; only vnetd lacks the figure.

use super::super::catalog::{gateway_skus, round_trips, vm_sizes};
use super::super::decode::{RawGateway, RawVirtualMachine};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use std::collections::HashMap;
use std::str::FromStr;

pub const VM_NAME: NameRule = NameRule::new("virtual machine", 1, 64);

impl Resolver<'_> {
    /// A VPN gateway's SKU in its generation, spelled as Azure does, with
    /// its aggregate throughput; an unknown pair is refused.
    pub(super) fn vpn_sku(&mut self, gw: &RawGateway, sku: &str) -> Option<(String, u32)> {
        let generation = match &gw.generation {
            None => gateway_skus::Generation::default(),
            Some((text, line)) => match gateway_skus::Generation::from_str(text) {
                Ok(g) => g,
                Err(_) => {
                    let why =
                        format!("`{text}` is not a gateway generation (Generation1, Generation2)");
                    self.diags
                        .error(*line, &format!("{}.generation", gw.key), why);
                    return None;
                }
            },
        };
        if let Some((name, mbps)) = gateway_skus::vpn_mbps(sku, generation) {
            return Some((name.to_string(), mbps));
        }
        let line = gw.sku.as_ref().map_or(gw.line, |(_, l)| *l);
        let known = gateway_skus::vpn_skus(generation);
        let other = match generation {
            gateway_skus::Generation::Generation1 => gateway_skus::Generation::Generation2,
            gateway_skus::Generation::Generation2 => gateway_skus::Generation::Generation1,
        };
        let hint = if gateway_skus::vpn_mbps(sku, other).is_some() {
            format!("; it is a {} SKU", <&str>::from(other))
        } else {
            String::new()
        };
        let why = format!(
            "`{sku}` is not a {} VPN gateway SKU ({}){hint}",
            <&str>::from(generation),
            known.join(", ")
        );
        self.diags.error(line, &format!("{}.sku", gw.key), why);
        None
    }

    pub(super) fn virtual_machines(&mut self, vms: Vec<RawVirtualMachine>) {
        let mut seen = Names::new(VM_NAME);
        let mut owner: HashMap<NicIdx, String> = HashMap::new();
        for vm in vms {
            self.check_name(&mut seen, &vm.name, vm.line, &vm.key);
            let (given_size, size_line) = &vm.size;
            let size = vm_sizes::find(given_size);
            if let Some(undocumented) = size.filter(|s| s.mbps.is_none()) {
                let why = format!(
                    "Azure documents no network bandwidth for `{}` (its series page, {}, lists none): the VM runs without a rate cap",
                    undocumented.name, undocumented.source
                );
                self.diags
                    .warning(*size_line, &format!("{}.size", vm.key), why);
            } else if size.is_none() {
                let hint = vm_sizes::closest(given_size)
                    .map_or(String::new(), |k| format!("; did you mean `{k}`?"));
                let why = format!("`{given_size}` is not an Azure VM size{hint}");
                self.diags
                    .error(*size_line, &format!("{}.size", vm.key), why);
            }
            let mut nics = Vec::new();
            for r in &vm.nics {
                let found = self.topo.nics.by_name(&r.name);
                let Some(nic) = self.lookup(r, "network interface", found) else {
                    continue;
                };
                if let Some(other) = owner.insert(nic, vm.name.clone()) {
                    let why = format!(
                        "NIC `{}` already belongs to virtual machine `{other}`",
                        r.name
                    );
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                nics.push(nic);
            }
            if vm.nics.is_empty() {
                let key = format!("{}.network_interfaces", vm.key);
                self.diags
                    .error(vm.line, &key, "a virtual machine needs at least one NIC");
            }
            let location = self.vm_location(&vm, &nics);
            if let (Some(size), Some(location)) = (size, location) {
                self.topo.virtual_machines.push(VirtualMachine {
                    name: vm.name,
                    size: size.name,
                    egress_mbps: size.mbps,
                    location,
                    nics,
                    line: vm.line,
                });
            }
        }
    }

    /// The VM's region: the one written, which every NIC's VNet must be
    /// in, as Azure requires; else its first NIC's.
    fn vm_location(&mut self, vm: &RawVirtualMachine, nics: &[NicIdx]) -> Option<String> {
        let vnet_location =
            |r: &Self, nic: NicIdx| r.topo.vnets[r.topo.nics[nic].subnet.vnet].location.clone();
        let location = match &vm.location {
            Some((text, line)) => match super::super::regions::canonical(text) {
                Some(name) => name.to_string(),
                None => {
                    let why = format!("`{text}` is not an Azure region");
                    self.diags
                        .error(*line, &format!("{}.location", vm.key), why);
                    return None;
                }
            },
            None => nics
                .first()
                .map(|n| vnet_location(self, *n))
                .unwrap_or_default(),
        };
        for nic in nics {
            let theirs = vnet_location(self, *nic);
            if !theirs.is_empty() && !location.is_empty() && theirs != location {
                let why = format!(
                    "NIC `{}` is in {theirs}, virtual machine `{}` in {location}: a VM's NICs must be in its region",
                    self.topo.nics[*nic].name, vm.name
                );
                self.diags
                    .error(vm.line, &format!("{}.location", vm.key), why);
                return None;
            }
        }
        Some(location)
    }

    /// Every link between two regions takes a delay: the published round
    /// trip, the link's own `latency_ms`, or an estimate, said in a
    /// warning.
    pub(super) fn check_region_pairs(&mut self) {
        let mut warnings = Vec::new();
        for p in &self.topo.peerings {
            let given = p.impairments.and_then(|i| i.latency_us).is_some();
            let (a, b) = (
                &self.topo.vnets[p.vnet].location,
                &self.topo.vnets[p.remote].location,
            );
            if let Some(why) = unpublished(a, b, given) {
                warnings.push((p.line, format!("peerings[{}]", p.name), why));
            }
        }
        for c in &self.topo.connections {
            let ConnectionPeer::Gateway(peer) = c.peer else {
                continue;
            };
            let given = c.impairments.and_then(|i| i.latency_us).is_some();
            let vnet_of = |g: GatewayIdx| &self.topo.vnets[self.topo.gateways[g].vnet].location;
            if let Some(why) = unpublished(vnet_of(c.gateway), vnet_of(peer), given) {
                let key = format!("virtual_network_gateway_connections[{}]", c.name);
                warnings.push((c.line, key, why));
            }
        }
        for (line, key, why) in warnings {
            self.diags.warning(line, &key, why);
        }
    }
}

/// What a link between regions `a` and `b` takes when Azure publishes no
/// round trip for them, if so: the estimate, or no delay at all.
fn unpublished(a: &str, b: &str, latency_given: bool) -> Option<String> {
    if latency_given || a.is_empty() || b.is_empty() || round_trips::round_trip_ms(a, b).is_some() {
        return None;
    }
    let set_it =
        "to set it, give the link `impairments: {round_trip_ms: ...}` (or `latency_ms`, one way)";
    Some(match round_trips::round_trip(a, b) {
        Some(estimate) => {
            let fit = round_trips::fit();
            format!(
                "Azure publishes no round trip between {a} and {b}: vnetd estimates {:.0} ms \
                 from the regions' coordinates (median error {:.0} ms over the published pairs); {set_it}",
                f64::from(estimate.us) / 1000.0,
                fit.median_error_ms
            )
        }
        None => format!(
            "vnetd has no round trip and no coordinates for {a} and {b}: the link adds no delay; {set_it}"
        ),
    })
}
