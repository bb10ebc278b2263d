//! What a trace hop shows of a Virtual WAN hub's route: the hub route
//! table's row a connected VNet's effective route stands for, by name,
//! in the shape of `az network vhub get-effective-routes`.

/// The hub route a connected VNet's row stands for, by name.
pub(super) fn hub_route_used(
    t: &crate::topology::Topology,
    row: &crate::policy::routes::HubRow,
) -> super::answer::HubRouteUsed {
    use crate::policy::virtual_wan::HubHop;
    let hub = &t.virtual_hubs[row.hub];
    let next_hop = match row.route.hop {
        HubHop::Connection { hub, connection } => {
            t.virtual_hubs[hub].connections[connection].name.clone()
        }
        HubHop::RemoteHub { hub, .. }
        | HubHop::RemoteBranch { hub, .. }
        | HubHop::RemoteCircuit { hub, .. }
        | HubHop::RemoteBgp { hub, .. } => t.virtual_hubs[hub].name.clone(),
        HubHop::BgpConnection { hub, connection } => {
            t.virtual_hubs[hub].bgp_connections[connection].name.clone()
        }
        HubHop::ExpressRouteGateway { hub, connection } => t.virtual_hubs[hub]
            .express_route_connections[connection]
            .name
            .clone(),
        HubHop::Firewall { hub } => {
            (t.virtual_hubs[hub].firewall).map_or_else(String::new, |f| t.firewalls[f].name.clone())
        }
        HubHop::VpnGateway { hub, connection } => {
            t.virtual_hubs[hub].vpn_connections[connection].name.clone()
        }
    };
    super::answer::HubRouteUsed {
        hub: hub.name.clone(),
        route_table: match row.table {
            Some(t) => hub.route_tables[t].name.clone(),
            // The hub's own network: its firewall's routes, which its
            // router's speakers follow too.
            None => match hub.firewall {
                Some(f) => format!("firewall {}", t.firewalls[f].name),
                None => "hub router".to_string(),
            },
        },
        address_prefix: row.route.prefix.to_string(),
        next_hop_type: row.route.hop_type().as_str(),
        next_hop,
        route_name: row.route.name.clone(),
        as_path: row.route.as_path_text(),
    }
}
