//! Resolution of Azure VMware Solution private clouds. A private cloud is
//! what Azure builds for it, in vnetd's terms:
//!
//! - its NSX Tier-0 router is an on-premises site named like the cloud
//!   (BIRD written by vnetd, ASN [`PRIVATE_CLOUD_ASN`]), holding the /22
//!   and the workload segments, with vCenter as a host at the second
//!   address of the /22 and the cloud's `hosts` on the segments;
//! - its Microsoft-managed ExpressRoute circuit is named like the cloud,
//!   its private peering on the first two /30s of the /22's ExpressRoute
//!   /27, at [`PRIVATE_CLOUD_CIRCUIT_MBPS`]; a VNet gateway connects to it
//!   by an ExpressRoute connection (Azure asks for an authorization key,
//!   which vnetd takes and does not check) and on-premises by Global Reach.
//!
//! Azure refuses a network block that is not a /22, and so does vnetd.

use super::super::decode::{
    NameRef, RawCircuit, RawPrivateCloud, RawPrivatePeering, RawRouter, RawRouterSettings, RawSite,
    RawSiteHost,
};
use super::resolver::Resolver;
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};

/// A private cloud whose site and circuit are resolved with the others.
pub(super) struct PendingCloud {
    name: String,
    location: String,
    sku: String,
    network_block: Ipv4Net,
    workload_segments: Vec<IpNet>,
    line: usize,
}

impl Resolver<'_> {
    /// Each private cloud as the site and circuit it stands for, added to
    /// `sites` and `circuits`; the clouds to record once those are
    /// resolved. A network block that is not an IPv4 /22 is refused.
    pub(super) fn private_clouds(
        &mut self,
        clouds: Vec<RawPrivateCloud>,
        sites: &mut Vec<RawSite>,
        circuits: &mut Vec<RawCircuit>,
    ) -> Vec<PendingCloud> {
        let mut pending = Vec::new();
        for cloud in clouds {
            let (block, block_line) = cloud.network_block;
            let block = match block {
                IpNet::V4(net) if net.prefix_len() == 22 && net.trunc() == net => net,
                other => {
                    let why = format!(
                        "`{other}` is not an IPv4 /22 on its boundary: a private cloud takes a /22 (network_subnet_cidr)"
                    );
                    let key = format!("{}.network_subnet_cidr", cloud.key);
                    self.diags.error(block_line, &key, why);
                    // What names its circuit is not refused again for it.
                    self.refused_circuits.push(cloud.name);
                    continue;
                }
            };
            let line = cloud.line;
            let mut hosts = vec![RawSiteHost {
                name: format!("{}-vcenter", cloud.name),
                key: format!("{}.vcenter", cloud.key),
                address: Some(PrivateCloud::vcenter_address(block).into()),
                netns: None,
                dns_servers: Vec::new(),
                dns_server: None,
                line,
            }];
            hosts.extend(cloud.hosts);
            let mut address_space = vec![(IpNet::V4(block), block_line)];
            address_space.extend(cloud.workload_segments.iter().copied());
            sites.push(RawSite {
                name: cloud.name.clone(),
                key: cloud.key.clone(),
                address_space,
                router: Some(RawRouter {
                    settings: RawRouterSettings {
                        netns: None,
                        asn: Some((PRIVATE_CLOUD_ASN, line)),
                        bgp_speaker: BgpSpeaker::Bird,
                    },
                    line,
                }),
                routers: Vec::new(),
                hosts,
                latency_us: 0,
                host: None,
                line,
            });
            let (primary, secondary) = PrivateCloud::peering_links(block);
            circuits.push(RawCircuit {
                name: cloud.name.clone(),
                key: cloud.key.clone(),
                site: Some(NameRef {
                    name: cloud.name.clone(),
                    line,
                    key: cloud.key.clone(),
                }),
                service_provider_name: Some(("Azure VMware Solution".to_string(), line)),
                peering_location: cloud.peering_location.clone(),
                bandwidth_mbps: PRIVATE_CLOUD_CIRCUIT_MBPS,
                private_peering: Some(RawPrivatePeering {
                    peer_asn: Some((PRIVATE_CLOUD_ASN, line)),
                    primary: Some((IpNet::V4(primary), line)),
                    secondary: Some((IpNet::V4(secondary), line)),
                    vlan_id: None,
                    key: cloud.key.clone(),
                    line,
                }),
                latency_us: 0,
                line,
            });
            let text = |t: Option<(String, usize)>| t.map(|(s, _)| s).unwrap_or_default();
            pending.push(PendingCloud {
                name: cloud.name,
                location: text(cloud.location),
                sku: text(cloud.sku),
                network_block: block,
                workload_segments: cloud.workload_segments.iter().map(|(n, _)| *n).collect(),
                line,
            });
        }
        pending
    }

    /// Records the clouds whose site and circuit were both resolved.
    pub(super) fn record_private_clouds(&mut self, pending: Vec<PendingCloud>) {
        for cloud in pending {
            let site = self.topo.sites.by_name(&cloud.name);
            let circuit = self.topo.circuits.by_name(&cloud.name);
            let (Some(site), Some(circuit)) = (site, circuit) else {
                continue;
            };
            self.topo.private_clouds.push(PrivateCloud {
                name: cloud.name,
                location: cloud.location,
                sku: cloud.sku,
                network_block: cloud.network_block,
                workload_segments: cloud.workload_segments,
                site,
                circuit,
                line: cloud.line,
            });
        }
    }
}
