//! ExpressRoute and Azure VMware Solution: `azurerm_express_route_circuit`
//! with its `azurerm_express_route_circuit_peering` (the
//! `AzurePrivatePeering`), `azurerm_express_route_circuit_connection`
//! (Global Reach) and `azurerm_vmware_private_cloud`, written as the
//! topology's `express_route_circuits`, `express_route_circuit_connections`
//! and `vmware_private_clouds`.
//!
//! vnetd runs the customer edge too, as an `on_premises_sites` entry Azure
//! has no resource for: one site per circuit, named `<circuit>-edge`,
//! whose router runs BIRD with the peering's `peer_asn`. Nothing in Azure
//! says what is behind it, so its address space is the customer edge's
//! own address of the primary link, to be widened to the datacenter's
//! ranges. A private cloud's circuit is named like the cloud (its ID in
//! Microsoft's subscription is not the user's), so a connection or a
//! Global Reach link that names it names the cloud.

use super::attrs::Attrs;
use super::gateways::{render_parts, Part};
use super::model::Model;
use super::output::{plain_or_quoted, scalar, Output};
use crate::ImportError;
use std::net::Ipv4Addr;

/// A circuit, its private peering once read, and the source of each.
#[derive(Debug)]
pub(super) struct Circuit {
    source: String,
    fields: Vec<(&'static str, String)>,
    peering: Option<Peering>,
}

/// A circuit's private peering.
#[derive(Debug)]
pub(super) struct Peering {
    peer_asn: String,
    primary: String,
    secondary: String,
    vlan_id: Option<String>,
}

/// A Global Reach link.
#[derive(Debug)]
pub(super) struct Reach {
    source: String,
    circuit: String,
    peer_circuit: String,
    prefix: String,
}

/// The customer edge's address of a /30: its first.
fn customer_address(link: &str) -> Option<String> {
    let net: ipnet::Ipv4Net = link.parse().ok()?;
    Some(format!(
        "{}/32",
        Ipv4Addr::from(u32::from(net.network()) + 1)
    ))
}

impl<'r> Model<'r> {
    pub(super) fn add_circuit(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.circuits, "ExpressRoute circuit", |f| &f.source)?;
        let mut fields = vec![("site", scalar(&format!("{name}-edge")))];
        for key in ["service_provider_name", "peering_location"] {
            if let Some(value) = a.str(key) {
                fields.push((key, scalar(&value)));
            }
        }
        if let Some(mbps) = a.str("bandwidth_in_mbps") {
            fields.push(("bandwidth_in_mbps", plain_or_quoted(&mbps)));
        }
        let circuit = Circuit {
            source: a.r.source.clone(),
            fields,
            peering: None,
        };
        self.circuits.insert(name, circuit);
        Ok(())
    }

    pub(super) fn add_circuit_peering(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let kind = a.required_str("peering_type")?;
        if kind != "AzurePrivatePeering" {
            self.ignored.push((
                a.r,
                format!("{kind}: vnetd emulates a circuit's private peering only"),
            ));
            return Ok(());
        }
        let circuit = a.required_str("express_route_circuit_name")?;
        let peering = Peering {
            peer_asn: a.required_str("peer_asn")?,
            primary: a.required_str("primary_peer_address_prefix")?,
            secondary: a.required_str("secondary_peer_address_prefix")?,
            vlan_id: a.str("vlan_id"),
        };
        let Some(c) = self.circuits.get_mut(&circuit) else {
            return Err(a.error(format!(
                "the private peering names circuit `{circuit}`, which is not in the input"
            )));
        };
        c.peering = Some(peering);
        Ok(())
    }

    pub(super) fn add_circuit_connection(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let circuit_of = |key: &str| -> Result<String, ImportError> {
            let id = a.required_str(key)?;
            crate::write::id_names(&id, &["expressRouteCircuits", "peerings"])
                .map(|names| names[0].clone())
                .ok_or_else(|| a.error(format!("`{key}` is not a circuit peering's ID: {id}")))
        };
        let circuit = circuit_of("peering_id")?;
        let peer_circuit = circuit_of("peer_peering_id")?;
        for c in [&circuit, &peer_circuit] {
            if !self.circuits.contains_key(c) && !self.clouds.contains_key(c) {
                return Err(a.error(format!(
                    "Global Reach link `{name}` names circuit `{c}`, which is not in the input"
                )));
            }
        }
        self.reach.insert(
            name,
            Reach {
                source: a.r.source.clone(),
                circuit,
                peer_circuit,
                prefix: a.required_str("address_prefix_ipv4")?,
            },
        );
        Ok(())
    }

    pub(super) fn add_private_cloud(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.clouds, "VMware private cloud", |f| &f.source)?;
        let mut fields = Vec::new();
        for key in ["location", "sku_name"] {
            if let Some(value) = a.str(key) {
                fields.push((key, scalar(&value)));
            }
        }
        fields.push((
            "network_subnet_cidr",
            scalar(&a.required_str("network_subnet_cidr")?),
        ));
        self.clouds.insert(name, Part::new(a, fields));
        Ok(())
    }

    /// Whether `name` is a circuit of the input (a private cloud's
    /// included).
    pub(super) fn has_circuit(&self, name: &str) -> bool {
        self.circuits.contains_key(name) || self.clouds.contains_key(name)
    }

    /// Refuses a circuit without its private peering, or whose primary
    /// link is not an IPv4 /30.
    pub(super) fn check_circuits(&self) -> Result<(), ImportError> {
        for (name, circuit) in &self.circuits {
            let Some(peering) = &circuit.peering else {
                return Err(ImportError::new(
                    circuit.source.clone(),
                    format!(
                        "circuit `{name}` has no AzurePrivatePeering \
                         (azurerm_express_route_circuit_peering): vnetd emulates the private peering"
                    ),
                ));
            };
            if customer_address(&peering.primary).is_none() {
                return Err(ImportError::new(
                    circuit.source.clone(),
                    format!("circuit `{name}`: `{}` is not an IPv4 /30", peering.primary),
                ));
            }
        }
        Ok(())
    }

    /// The circuits with their private peering (all of them, once
    /// [`Self::check_circuits`] passed).
    fn peered(&self) -> impl Iterator<Item = (&String, &Circuit, &Peering)> {
        self.circuits
            .iter()
            .filter_map(|(name, c)| Some((name, c, c.peering.as_ref()?)))
    }

    /// Each circuit's customer edge, for the sites' list: its source, name,
    /// address space and ASN.
    pub(super) fn edge_sites(&self) -> Vec<(String, String, Vec<String>, String)> {
        self.peered()
            .map(|(name, circuit, peering)| {
                let edge = customer_address(&peering.primary).unwrap_or_default();
                (
                    circuit.source.clone(),
                    format!("{name}-edge"),
                    vec![edge],
                    peering.peer_asn.clone(),
                )
            })
            .collect()
    }

    pub(super) fn render_express_route(&self, out: &mut Output) {
        if !self.circuits.is_empty() {
            out.section("express_route_circuits");
            for (name, circuit, peering) in self.peered() {
                out.item(2, &circuit.source, name);
                for (field, value) in &circuit.fields {
                    out.field(4, field, value);
                }
                out.line("    private_peering:");
                out.field(6, "peer_asn", &plain_or_quoted(&peering.peer_asn));
                out.field(6, "primary_peer_address_prefix", &scalar(&peering.primary));
                out.field(
                    6,
                    "secondary_peer_address_prefix",
                    &scalar(&peering.secondary),
                );
                if let Some(vlan) = &peering.vlan_id {
                    out.field(6, "vlan_id", &plain_or_quoted(vlan));
                }
            }
        }
        render_parts(out, "vmware_private_clouds", &self.clouds);
        out.list(
            0,
            "express_route_circuit_connections",
            &self.reach,
            |out, (name, reach)| {
                out.item(2, &reach.source, name);
                out.field(4, "circuit", &scalar(&reach.circuit));
                out.field(4, "peer_circuit", &scalar(&reach.peer_circuit));
                out.field(4, "address_prefix_ipv4", &scalar(&reach.prefix));
            },
        );
    }
}
