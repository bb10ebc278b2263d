//! A VNet's peerings as the Azure CLI lists them (its
//! `virtualNetworkPeerings`), turned into `azurerm_virtual_network_peering`s.
//!
//! A peering Azure reports `Disconnected` (its remote side was deleted)
//! carries no traffic and is left out. A peering Virtual Network Manager
//! made for a connectivity configuration (Azure names them `ANM_…`) is
//! listed as ignored when the dump commits a connectivity configuration
//! (`managed`): the file's network manager makes it again, so the lab
//! has it once, as Azure does; without such a commit it is an ordinary
//! peering.

use super::attributes::{given, identity};
use super::known::Known;
use super::model::Vnet;
use crate::json_file::Place;
use crate::{ImportError, Resource};
use serde_json::{json, Value};

/// The peerings of `vnet` (named `name`), at `at`.
pub(super) fn resources(
    at: &Place<'_>,
    vnet: &Vnet,
    name: &str,
    managed: bool,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    for (index, peering) in vnet.virtual_network_peerings.iter().enumerate() {
        let at = at.key("virtualNetworkPeerings").index(index);
        let (peering_name, peering_id, peering_group) = identity(&at, peering)?;
        let state = given(peering.peering_state.as_deref());
        if state.is_some_and(|s| s.eq_ignore_ascii_case("Disconnected")) {
            continue;
        }
        let made_by_manager = peering_name
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("ANM_"));
        if managed && made_by_manager {
            out.push(Resource {
                kind: "azurerm_virtual_network_peering".into(),
                name: format!(
                    "{peering_name} (made by Virtual Network Manager: the network manager of the \
                     file makes it)"
                ),
                attributes: Value::Null,
                source: peering_id,
            });
            continue;
        }
        let remote = peering.remote_virtual_network.as_ref();
        let what = format_args!("peering `{peering_name}`");
        let remote = known.required("vnet", &at, "remoteVirtualNetwork", remote, what)?;
        let attributes = json!({
            "id": peering_id,
            "name": peering_name,
            "resource_group_name": peering_group,
            "virtual_network_name": name,
            "remote_virtual_network_id": remote,
            "allow_virtual_network_access": peering.allow_virtual_network_access.unwrap_or(true),
            "allow_forwarded_traffic": peering.allow_forwarded_traffic.unwrap_or(false),
            "allow_gateway_transit": peering.allow_gateway_transit.unwrap_or(false),
            "use_remote_gateways": peering.use_remote_gateways.unwrap_or(false),
        });
        out.push(Resource {
            kind: "azurerm_virtual_network_peering".into(),
            name: peering_name,
            attributes,
            source: peering_id,
        });
    }
    Ok(())
}
