//! The resolver's state, and what every step of the resolution shares:
//! Azure's naming rule for a kind of resource and the check of a name
//! against it, the lookup of a reference by name (a VNet, a subnet), and
//! the addresses Azure keeps for itself in a subnet. It uses none of the
//! steps, so each step's file can use it without using the others.

use super::super::decode::NameRef;
use super::super::diagnostic::Diagnostics;
use super::speakers::{Claim, NicBgp};
use crate::topology::model::*;
use ipnet::IpNet;
use std::collections::HashSet;
use std::net::IpAddr;

/// The topology resolved so far, what has been refused (so that what
/// refers to it is not refused again), and where problems are reported.
pub(super) struct Resolver<'d> {
    pub(super) diags: &'d mut Diagnostics,
    pub(super) topo: Topology,
    /// Gateways and local network gateways refused for a reason already
    /// reported (and the VNet of a refused gateway, when known): what
    /// refers to them is not refused again for their absence.
    pub(super) refused_gateways: Vec<(String, Option<VnetIdx>)>,
    /// The VNets of Route Servers refused (`None`: an unknown VNet), so
    /// that a peering using their gateways is not refused again.
    pub(super) refused_route_servers: Vec<Option<VnetIdx>>,
    /// The NICs' BGP keys and the connections that may name them, until
    /// the virtual hubs' BGP connections are known too.
    pub(super) pending_speakers: Option<(Vec<NicBgp>, Vec<Claim>)>,
    pub(super) refused_local_gateways: Vec<String>,
    /// ExpressRoute circuits refused for a reason already reported.
    pub(super) refused_circuits: Vec<String>,
    /// Azure Firewalls refused for a reason already reported.
    pub(super) refused_firewalls: Vec<String>,
    /// VPN sites refused for a reason already reported.
    pub(super) refused_vpn_sites: Vec<String>,
    /// Who uses each public IP so far (a public IP serves one resource).
    pub(super) public_ip_users: std::collections::HashMap<PublicIpIdx, String>,
}

impl<'d> Resolver<'d> {
    /// A resolver with nothing resolved yet, reporting to `diags`.
    pub(super) fn new(diags: &'d mut Diagnostics) -> Self {
        let mut r = Resolver {
            diags,
            topo: Topology {
                source: String::new(),
                ..Topology::default()
            },
            refused_gateways: Vec::new(),
            refused_route_servers: Vec::new(),
            pending_speakers: None,
            refused_local_gateways: Vec::new(),
            refused_circuits: Vec::new(),
            refused_firewalls: Vec::new(),
            refused_vpn_sites: Vec::new(),
            public_ip_users: Default::default(),
        };
        r.topo.source = r.diags.file.clone();
        r
    }
}

/// A kind of Azure resource and the length its name may have. The
/// characters are the same for every kind vnetd models: letters, digits,
/// `_`, `.` and `-`, starting with a letter or digit and ending with a
/// letter, digit or `_` ("Naming rules and restrictions for Azure
/// resources", Microsoft.Network, learn.microsoft.com/azure/
/// azure-resource-manager/management/resource-name-rules).
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    pub kind: &'static str,
    pub min: usize,
    pub max: usize,
}

impl NameRule {
    /// The rule for names of `kind`: `min` to `max` characters.
    pub const fn new(kind: &'static str, min: usize, max: usize) -> Self {
        NameRule { kind, min, max }
    }

    /// Why `name` breaks the rule, or `None` when Azure accepts it.
    pub fn refusal(&self, name: &str) -> Option<String> {
        let bytes = name.as_bytes();
        let (kind, min, max) = (self.kind, self.min, self.max);
        let length = name.chars().count();
        let problem = if length < min || length > max {
            format!("{length} characters, where Azure allows {min} to {max}")
        } else if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            format!("`{bad}` is not allowed (only letters, digits, `_`, `.` and `-`)")
        } else if !bytes[0].is_ascii_alphanumeric() {
            "it must start with a letter or digit".to_string()
        } else if !bytes
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            "it must end with a letter, digit or `_`".to_string()
        } else {
            return None;
        };
        Some(format!("`{name}` is not a valid {kind} name: {problem}"))
    }
}

/// The names of one kind of resource seen so far, and Azure's rule for
/// them: what [`Resolver::check_name`] checks a name against.
pub(super) struct Names {
    pub(super) rule: NameRule,
    pub(super) seen: HashSet<String>,
}

impl Names {
    /// No name of `rule`'s kind seen yet.
    pub(super) fn new(rule: NameRule) -> Self {
        Names {
            rule,
            seen: HashSet::new(),
        }
    }
}

/// Whether two prefixes share an address.
pub(super) fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl Resolver<'_> {
    /// Checks a resource name against Azure's rule for its kind, and its
    /// uniqueness among the `names` of that kind seen so far.
    pub(super) fn check_name(&mut self, names: &mut Names, name: &str, line: usize, key: &str) {
        let rule = names.rule;
        if let Some(refusal) = rule.refusal(name) {
            self.diags.error(line, key, refusal);
        }
        // Azure resource names are case-insensitive.
        if !names.seen.insert(name.to_ascii_lowercase()) {
            let kind = rule.kind;
            self.diags
                .error(line, key, format!("duplicate {kind} name `{name}`"));
        }
    }

    /// Refuses every NIC placed in `subnet`, a subnet Azure keeps for one
    /// service; `why` says whose it is.
    pub(super) fn refuse_nics_in(&mut self, subnet: SubnetRef, why: &str) {
        let placed: Vec<(usize, String)> = (self.topo.nics.iter())
            .filter(|n| n.subnet == subnet)
            .map(|n| (n.line, n.name.clone()))
            .collect();
        for (line, nic) in placed {
            let key = format!("network_interfaces[{nic}].subnet");
            self.diags.error(line, &key, why.to_string());
        }
    }

    pub(super) fn lookup<K>(&mut self, r: &NameRef, kind: &str, found: Option<K>) -> Option<K> {
        found.or_else(|| self.refuse_ref(r, format!("no {kind} named `{}` in this file", r.name)))
    }

    /// Reports `why` at the reference `r`, and gives no referent.
    pub(super) fn refuse_ref<T>(&mut self, r: &NameRef, why: impl Into<String>) -> Option<T> {
        self.diags.error(r.line, &r.key, why);
        None
    }

    pub(super) fn vnet_ref(&mut self, r: &NameRef) -> Option<VnetIdx> {
        let found = self.topo.vnets.by_name(&r.name);
        self.lookup(r, "virtual network", found)
    }

    pub(super) fn subnet_ref(&mut self, r: &NameRef) -> Option<SubnetRef> {
        let Some((vnet_name, subnet_name)) = r.name.split_once('/') else {
            return self.refuse_ref(r, format!("`{}` is not of the form vnet/subnet", r.name));
        };
        let Some(vnet) = self.topo.vnets.by_name(vnet_name) else {
            return self.refuse_ref(
                r,
                format!("no virtual network named `{vnet_name}` in this file"),
            );
        };
        let Some(subnet) = self.topo.vnets[vnet].subnets.by_name(subnet_name) else {
            return self.refuse_ref(
                r,
                format!("VNet `{vnet_name}` has no subnet named `{subnet_name}`"),
            );
        };
        Some(SubnetRef { vnet, subnet })
    }
}

/// True for the addresses Azure keeps for itself in a subnet.
pub fn is_reserved(prefix: &IpNet, ip: IpAddr) -> bool {
    match (prefix, ip) {
        (IpNet::V4(p), IpAddr::V4(a)) => {
            let offset = u32::from(a).wrapping_sub(u32::from(p.network()));
            offset <= 3 || a == p.broadcast()
        }
        (IpNet::V6(p), IpAddr::V6(a)) => u128::from(a).wrapping_sub(u128::from(p.network())) <= 3,
        _ => false,
    }
}
