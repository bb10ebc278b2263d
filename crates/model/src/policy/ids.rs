//! Azure resource IDs for the objects of a topology.
//!
//! A lab has no subscription and no resource group, so every ID uses the
//! same placeholders: the all-zero subscription and the resource group
//! `VNETD`. Diagnostics print them in ARM's spelling
//! (`/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/...`),
//! NSG flow logs in the upper case their blob paths and records use, so the
//! output of both diffs cleanly against what `az` and Azure write.

/// The placeholder subscription of every resource ID.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
/// The placeholder resource group of every resource ID.
pub const RESOURCE_GROUP: &str = "VNETD";

fn network_id(kind: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Network/{kind}/{name}"
    )
}

/// `.../routeTables/<name>`
pub fn route_table_id(name: &str) -> String {
    network_id("routeTables", name)
}

/// `.../networkSecurityGroups/<name>`
pub fn nsg_id(name: &str) -> String {
    network_id("networkSecurityGroups", name)
}

/// `.../networkManagers/<manager>/securityAdminConfigurations/<configuration>`
pub fn security_admin_configuration_id(manager: &str, configuration: &str) -> String {
    format!(
        "{}/securityAdminConfigurations/{configuration}",
        network_id("networkManagers", manager)
    )
}

/// `.../virtualNetworks/<vnet>/subnets/<subnet>`
pub fn subnet_id(vnet: &str, subnet: &str) -> String {
    format!("{}/subnets/{subnet}", network_id("virtualNetworks", vnet))
}

/// `.../networkInterfaces/<name>`
pub fn nic_id(name: &str) -> String {
    network_id("networkInterfaces", name)
}

/// `.../virtualHubs/<hub>`
pub fn virtual_hub_id(hub: &str) -> String {
    network_id("virtualHubs", hub)
}

/// `.../virtualHubs/<hub>/hubRouteTables/<table>`
pub fn hub_route_table_id(hub: &str, table: &str) -> String {
    format!("{}/hubRouteTables/{table}", virtual_hub_id(hub))
}

/// `.../virtualHubs/<hub>/hubVirtualNetworkConnections/<connection>`
pub fn hub_connection_id(hub: &str, connection: &str) -> String {
    format!(
        "{}/hubVirtualNetworkConnections/{connection}",
        virtual_hub_id(hub)
    )
}

/// `.../virtualHubs/<hub>/bgpConnections/<name>`: a hub's BGP connection
/// to an appliance.
pub fn hub_bgp_connection_id(hub: &str, connection: &str) -> String {
    format!("{}/bgpConnections/{connection}", virtual_hub_id(hub))
}

/// `.../vpnGateways/<name>`: a hub's VPN gateway.
pub fn vpn_gateway_id(name: &str) -> String {
    network_id("vpnGateways", name)
}

/// `.../vpnGateways/<gateway>/vpnConnections/<connection>`
pub fn vpn_connection_id(gateway: &str, connection: &str) -> String {
    format!("{}/vpnConnections/{connection}", vpn_gateway_id(gateway))
}

/// `.../expressRouteGateways/<name>`: a hub's ExpressRoute gateway, which
/// Azure names as both next hop and origin of a circuit's routes.
pub fn express_route_gateway_id(name: &str) -> String {
    network_id("expressRouteGateways", name)
}

/// `.../azureFirewalls/<name>`
pub fn firewall_id(name: &str) -> String {
    network_id("azureFirewalls", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_arm_shape() {
        assert_eq!(
            route_table_id("spoke1-rt"),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network/routeTables/spoke1-rt"
        );
        assert_eq!(
            nsg_id("nsg1"),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network/networkSecurityGroups/nsg1"
        );
        assert_eq!(
            subnet_id("hub", "nva"),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network/virtualNetworks/hub/subnets/nva"
        );
        assert_eq!(
            nic_id("vm1"),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network/networkInterfaces/vm1"
        );
    }
}
