//! Bringing up a port of the lab plan on the host, one function per way
//! its kind says it is brought up ([`crate::plan::ports::BringUp`]): the
//! namespace (or, for a site tunnel, the existing router
//! namespace) its TUN is in, with the addresses, routes and forwarding the
//! kind needs. Every port's TUN has one queue per worker and does not block.
//! A port goes with its namespace; a site's tunnels go with the site's
//! router (see `hybrid`).

use crate::host::NamespaceSpec;
use crate::plan::ports::BringUp;
use crate::plan::Port;
use crate::topology::{NicIdx, Topology};
use ipnet::{IpNet, Ipv4Net};

/// The namespace and TUN of `port`, with `queues` queues; with `shaping`,
/// a single-NIC VM's `eth0` sends at most its size's bandwidth.
pub fn namespace_spec(
    topology: &Topology,
    port: &Port,
    queues: usize,
    shaping: bool,
) -> NamespaceSpec {
    let mut spec = match port.kind.bring_up() {
        BringUp::Vm => {
            let mut spec = vm(topology, port, shaping);
            spec.resolv_conf = topology
                .nic_by_name(&port.name)
                .map(|nic| resolv_conf(topology, nic));
            spec
        }
        BringUp::Guest => vm(topology, port, false),
        BringUp::Firewall => firewall(topology, port),
        BringUp::Tunnel => site_tunnel(port),
        BringUp::PlatformAddress => platform_address(port),
        BringUp::Internet => internet(topology, port),
    };
    spec.queues = queues;
    spec.nonblocking = true;
    spec
}

/// A firewall's namespace: a forwarding guest without a VM size (the
/// firewall's SKU caps it in the fabric instead), whose kernel translates
/// the sources towards destinations outside its private ranges, applies
/// the policy's DNAT rules and hands what the application rules judge to
/// its proxy.
fn firewall(topology: &Topology, port: &Port) -> NamespaceSpec {
    let mut spec = vm(topology, port, false);
    let Some(fw) = port.kind.firewall().map(|f| &topology.firewalls[f]) else {
        return spec;
    };
    spec.masquerade_except = Some(crate::policy::firewall::private_ranges(topology, fw));
    spec.dnat = firewall_dnat(topology, fw);
    // FQDNs' addresses join the pass rules once the plane knows them
    // (`answering::firewall_proxy`).
    spec.intercept =
        crate::daemon::forwarding::firewall_intercept::of(topology, fw, &|_| Vec::new());
    spec
}

/// The DNAT rules of `fw`'s policy as its namespace applies them: IPv4
/// rules whose destination is one of the firewall's public addresses
/// (what the fabric delivers to it), their connections leaving from the
/// firewall's first instance address
/// ([`crate::policy::firewall::dnat_source`]).
fn firewall_dnat(
    topology: &Topology,
    fw: &crate::topology::AzureFirewall,
) -> crate::host::nat::DestinationNats {
    use std::net::IpAddr;
    let source = match crate::policy::firewall::dnat_source(fw) {
        IpAddr::V4(source) => Some(source),
        IpAddr::V6(_) => None,
    };
    let Some(rules) = fw.policy.and_then(|p| topology.edge.dnat_rules.get(&p)) else {
        return crate::host::nat::DestinationNats::default();
    };
    let Some(f) = topology.firewalls.iter().position(|f| f.name == fw.name) else {
        return crate::host::nat::DestinationNats::default();
    };
    let owned = topology
        .edge
        .firewall_addresses(crate::topology::FirewallIdx::new(f));
    let mut out = Vec::new();
    for rule in rules.iter().filter(|r| owned.contains(&r.destination)) {
        let (IpAddr::V4(address), IpAddr::V4(to)) = (rule.destination, rule.translated_address)
        else {
            continue;
        };
        for protocol in &rule.protocols {
            let protocol = match protocol {
                crate::topology::Protocol::Udp => "udp",
                _ => "tcp",
            };
            out.push(crate::host::nat::DestinationNat {
                protocol,
                address,
                port: rule.destination_port,
                to,
                to_port: rule.translated_port,
            });
        }
    }
    crate::host::nat::DestinationNats { rules: out, source }
}

/// Installs in a kept firewall's namespace the DNAT rules and the
/// interception of `now` where they differ from `was`'s, each in one
/// transaction, so that established connections keep their translation
/// and their proxy (Azure keeps a firewall's connections across a policy
/// update).
pub fn update_firewall_rules(
    name: &str,
    (was, now): (&NamespaceSpec, &NamespaceSpec),
    summary: &mut crate::api::ApplyOutcome,
    warnings: &mut Vec<String>,
) {
    if was.dnat != now.dnat {
        if let Some(except) = &now.masquerade_except {
            let done = crate::host::nat::masquerade(&now.name, &now.interface, except, &now.dnat);
            match done {
                Ok(()) => summary.changed.push(format!("{name}: DNAT rules")),
                Err(e) => warn_and_keep!(warnings, "{e:#}"),
            }
        }
    }
    if was.intercept != now.intercept {
        let done = match &now.intercept {
            Some(intercept) => crate::host::intercept::install(&now.name, intercept),
            None => crate::host::intercept::remove(&now.name),
        };
        match done {
            Ok(()) => summary
                .changed
                .push(format!("{name}: what its application rules take")),
            Err(e) => warnings.push(format!("{e:#}")),
        }
    }
}

/// Whether `port`'s flows may leave userspace, as its kind declares: a
/// VM's NIC (an NVA's and a backend's among them), an Azure Firewall and
/// the Internet are on the fabric; gateways, sites, probers and the
/// platform's other ports keep every packet in the workers.
pub fn offloadable(port: &Port) -> bool {
    port.kind.fast_path()
}

/// The Internet's namespace: its servers' addresses and the PaaS public
/// faces on `eth0`, the lab's prefixes out of its TUN, and every other
/// address of each family it has an address of held as its own, with the
/// default answers on HTTP and HTTPS (see
/// [`crate::plan::ports::internet`]). It forwards: a packet from the lab
/// to another of the lab's public addresses goes out and comes back in,
/// as on the Internet.
fn internet(topology: &Topology, port: &Port) -> NamespaceSpec {
    use crate::plan::ports::internet::{lab_prefixes, DEFAULT_ANSWERS};
    let mut spec = platform_address(port);
    spec.forwarding = true;
    let v4 = spec.addresses.iter().any(|a| matches!(a, IpNet::V4(_)));
    let v6 = spec.addresses.iter().any(|a| matches!(a, IpNet::V6(_)));
    spec.device_routes = lab_prefixes(topology)
        .into_iter()
        .filter(|p| if p.addr().is_ipv4() { v4 } else { v6 })
        .collect();
    spec.every_address = Some(crate::host::every_address::EveryAddress {
        ipv4: v4,
        ipv6: v6,
        default_listeners: DEFAULT_ANSWERS.to_vec(),
    });
    spec
}

/// A VM's namespace: its addresses with the prefix length of the subnet
/// they sit in, and the subnet's gateway (x.x.x.1, and the IPv6
/// equivalent) as default route. An NVA's guest OS must forward too; the
/// namespace of a NIC with IP forwarding stands for such a guest.
fn vm(topology: &Topology, port: &Port, shaping: bool) -> NamespaceSpec {
    let subnet = topology.subnet(port.subnet);
    let addresses: Vec<IpNet> = port
        .ip_configurations
        .iter()
        .filter_map(|c| {
            let prefix = subnet
                .address_prefixes
                .iter()
                .find(|p| p.contains(&c.address))?;
            IpNet::new(c.address, prefix.prefix_len()).ok()
        })
        .collect();
    let mut spec = NamespaceSpec::new(port.netns.clone());
    spec.addresses = addresses;
    spec.gateways = spec.first_host_gateways();
    spec.forwarding = port.ip_forwarding;
    if let Some(nic) = topology.nic_by_name(&port.name) {
        spec.mtu = u32::from(topology.nics[nic].mtu);
        // A VM with several NICs shares its limit across them in the
        // workers instead.
        spec.egress_limit_mbps = crate::policy::shaping::vm_egress(topology, nic)
            .filter(|egress| shaping && !egress.shared)
            .map(|egress| egress.mbps);
    }
    spec
}

/// Whether the namespace of `port` trusts the lab's CA: a VM's, where
/// users run their clients.
pub fn trusts_lab_ca(port: &Port) -> bool {
    port.kind.bring_up() == BringUp::Vm
}

/// The `resolv.conf` of a VM's namespace: the DNS servers Azure's DHCP
/// gives the NIC (its own `dns_servers`, else its VNet's, else Azure DNS at
/// 168.63.129.16; a resolver reads the first three), and Azure's search
/// domain, under which `vm2` finds `vm2.internal.cloudapp.net`.
pub fn resolv_conf(topology: &Topology, nic: NicIdx) -> String {
    let servers = crate::names::NameServers::of(topology, nic).addresses();
    let mut text = format!(
        "# vnetd: the DNS servers of NIC {}, as Azure's DHCP gives them\n",
        topology.nics[nic].name
    );
    for server in servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    text.push_str(&format!("search {}\n", crate::names::INTERNAL_SUFFIX));
    text.push_str("options timeout:2 attempts:2\n");
    text
}

/// A site's tunnel is a TUN of its own name in the router's namespace,
/// which the site builds (see `hybrid`), without addresses here.
fn site_tunnel(port: &Port) -> NamespaceSpec {
    let mut spec = NamespaceSpec::interface_in(port.netns.clone(), port.interface.clone());
    spec.forwarding = true;
    spec
}

/// A port of the platform's address (a VNet's health prober, its Azure
/// DNS: 168.63.129.16) owns it alone, as a /32 that is in no subnet, and
/// sends everything out of its TUN with no gateway address: the fabric
/// takes a prober's probes to the backends of its VNet, and Azure DNS's
/// answers to the askers.
fn platform_address(port: &Port) -> NamespaceSpec {
    let mut spec = NamespaceSpec::new(port.netns.clone());
    spec.addresses = port
        .ip_configurations
        .iter()
        .map(|c| IpNet::from(c.address))
        .collect();
    spec.device_routes = vec![IpNet::V4(Ipv4Net::default())];
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PortKind, PORT_INTERFACE};
    use crate::topology::{IpConfiguration, SubnetIdx, SubnetRef, VnetIdx, PROBE_SOURCE};

    #[test]
    fn the_plan_names_the_tun_as_the_host_does() {
        assert_eq!(PORT_INTERFACE, crate::host::INTERFACE_NAME);
    }

    #[test]
    fn a_prober_owns_its_address_alone_and_routes_everything_out_of_its_tun() {
        let prober = Port {
            kind: PortKind::Prober {
                vnet: VnetIdx::new(0),
            },
            name: "probe-hub".into(),
            subnet: SubnetRef {
                vnet: VnetIdx::new(0),
                subnet: SubnetIdx::new(0),
            },
            ip_configurations: vec![IpConfiguration {
                name: "probe".into(),
                address: PROBE_SOURCE.into(),
            }],
            ip_forwarding: false,
            network_security_group: None,
            application_security_groups: Vec::new(),
            netns: "probe-hub".into(),
            interface: PORT_INTERFACE.into(),
            host: crate::topology::FIRST_HOST,
            line: 0,
        };
        let spec = namespace_spec(&Topology::default(), &prober, 2, true);
        assert_eq!(spec.name, "probe-hub");
        assert_eq!(spec.interface, "eth0");
        assert_eq!(
            spec.addresses,
            vec!["168.63.129.16/32".parse::<IpNet>().unwrap()]
        );
        assert!(spec.gateways.is_empty());
        assert_eq!(
            spec.device_routes,
            vec!["0.0.0.0/0".parse::<IpNet>().unwrap()]
        );
        assert_eq!((spec.queues, spec.nonblocking), (2, true));
        assert!(!spec.forwarding);
    }
}
