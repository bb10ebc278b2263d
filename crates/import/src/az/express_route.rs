//! ExpressRoute circuits (`az network express-route list`: each circuit
//! with its peerings, each peering with its Global Reach connections) and
//! Azure VMware Solution private clouds (`az vmware private-cloud list`),
//! as the azurerm resources Terraform would hold for them:
//! `azurerm_express_route_circuit`, one
//! `azurerm_express_route_circuit_peering` per peering,
//! `azurerm_express_route_circuit_connection` per Global Reach connection,
//! and `azurerm_vmware_private_cloud`.
//!
//! A private cloud's circuit lives in Microsoft's subscription under a
//! name of Azure's; vnetd names it like the cloud, so a Global Reach
//! connection whose peer is a private cloud's private peering
//! (`circuit.expressRoutePrivatePeeringId`) is written to the cloud's.

use super::attributes::{
    given, identity, put_sku_name, put_str, put_text, put_texts, resource, resource_attributes,
};
use super::list::List;
use super::model::{Circuit, CircuitPeering, PrivateCloud};
use crate::json_file::Place;
use crate::{ImportError, Resource};
use serde_json::json;

/// The ID vnetd gives a private cloud's private peering: its circuit's,
/// named like the cloud, in the cloud's resource group.
fn cloud_peering_id(group: &str, cloud: &str) -> String {
    format!(
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{group}/providers/\
         Microsoft.Network/expressRouteCircuits/{cloud}/peerings/AzurePrivatePeering"
    )
}

/// The private clouds' resources, and each cloud's private peering ID as
/// Azure prints it, to the ID vnetd gives it.
pub(super) fn private_clouds(
    clouds: &List<'_, PrivateCloud>,
    out: &mut Vec<Resource>,
) -> Result<Vec<(String, String)>, ImportError> {
    let mut peerings = Vec::new();
    for (at, cloud) in clouds.each() {
        let (name, id, group) = identity(&at, cloud)?;
        let mut attributes = resource_attributes(&id, &name, &group, cloud.location.as_deref());
        put_sku_name(&mut attributes, "sku_name", &cloud.sku);
        let block = given(cloud.network_block.as_deref()).ok_or_else(|| {
            at.error(format!(
                "private cloud `{name}` has no `networkBlock` (its /22)"
            ))
        })?;
        put_str(&mut attributes, "network_subnet_cidr", Some(block));
        out.push(resource(
            "azurerm_vmware_private_cloud",
            &name,
            attributes,
            &id,
        ));
        let azure = cloud
            .circuit
            .as_ref()
            .and_then(|c| given(c.express_route_private_peering_id.as_deref()));
        if let Some(azure) = azure {
            peerings.push((azure.to_ascii_lowercase(), cloud_peering_id(&group, &name)));
        }
    }
    Ok(peerings)
}

/// The circuits' resources: each circuit, its peerings and their Global
/// Reach connections (a peer peering of a private cloud written as the
/// cloud's, by `clouds`).
pub(super) fn circuits(
    circuits: &List<'_, Circuit>,
    clouds: &[(String, String)],
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let as_written = |id: &str| {
        clouds
            .iter()
            .find(|(azure, _)| *azure == id.to_ascii_lowercase())
            .map_or_else(|| id.to_string(), |(_, ours)| ours.clone())
    };
    for (at, circuit) in circuits.each() {
        let (name, id, group) = identity(&at, circuit)?;
        let mut attributes = resource_attributes(&id, &name, &group, circuit.location.as_deref());
        if let Some(p) = &circuit.service_provider_properties {
            put_texts(
                &mut attributes,
                [
                    ("service_provider_name", p.service_provider_name.as_deref()),
                    ("peering_location", p.peering_location.as_deref()),
                ],
            );
            if let Some(mbps) = p.bandwidth_in_mbps {
                attributes.insert("bandwidth_in_mbps".into(), json!(mbps));
            }
        }
        out.push(resource(
            "azurerm_express_route_circuit",
            &name,
            attributes,
            &id,
        ));
        for (index, peering) in circuit.peerings.iter().enumerate() {
            let at = at.key("peerings").index(index);
            peering_resources(&at, peering, &name, &group, &as_written, out)?;
        }
    }
    Ok(())
}

fn peering_resources(
    at: &Place<'_>,
    peering: &CircuitPeering,
    circuit: &str,
    group: &str,
    as_written: &dyn Fn(&str) -> String,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let mut attributes = serde_json::Map::new();
    attributes.insert("id".into(), json!(peering.id));
    attributes.insert("resource_group_name".into(), json!(group));
    attributes.insert("express_route_circuit_name".into(), json!(circuit));
    let kind = given(peering.peering_type.as_deref()).unwrap_or_else(|| peering.name.clone());
    attributes.insert("peering_type".into(), json!(kind));
    if let Some(asn) = peering.peer_asn {
        attributes.insert("peer_asn".into(), json!(asn));
    }
    let primary = peering.primary_peer_address_prefix.as_deref();
    put_text(&mut attributes, "primary_peer_address_prefix", primary);
    let secondary = peering.secondary_peer_address_prefix.as_deref();
    put_text(&mut attributes, "secondary_peer_address_prefix", secondary);
    if let Some(vlan) = peering.vlan_id {
        attributes.insert("vlan_id".into(), json!(vlan));
    }
    out.push(resource(
        "azurerm_express_route_circuit_peering",
        &peering.name,
        attributes,
        &peering.id,
    ));
    for (index, connection) in peering.connections.iter().enumerate() {
        let at = at.key("connections").index(index);
        let ends = [
            (
                "expressRouteCircuitPeering",
                &connection.express_route_circuit_peering,
            ),
            (
                "peerExpressRouteCircuitPeering",
                &connection.peer_express_route_circuit_peering,
            ),
        ];
        let mut ids = Vec::new();
        for (key, reference) in ends {
            let id = reference
                .as_ref()
                .map(|r| as_written(&r.id))
                .ok_or_else(|| {
                    at.error(format!(
                        "Global Reach connection `{}` has no `{key}`",
                        connection.name
                    ))
                })?;
            ids.push(id);
        }
        let prefix = given(connection.address_prefix.as_deref()).ok_or_else(|| {
            at.error(format!(
                "Global Reach connection `{}` has no `addressPrefix` (its /29)",
                connection.name
            ))
        })?;
        let mut attributes = serde_json::Map::new();
        attributes.insert("id".into(), json!(connection.id));
        attributes.insert("name".into(), json!(connection.name));
        attributes.insert("peering_id".into(), json!(ids[0]));
        attributes.insert("peer_peering_id".into(), json!(ids[1]));
        attributes.insert("address_prefix_ipv4".into(), json!(prefix));
        out.push(resource(
            "azurerm_express_route_circuit_connection",
            &connection.name,
            attributes,
            &connection.id,
        ));
    }
    Ok(())
}
