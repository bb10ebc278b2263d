//! What the lab's BGP speakers say, in Azure's words: each gateway
//! instance's sessions (`Get-AzVirtualNetworkGatewayBgpPeerStatus`), what
//! it advertises to a peer (`Get-AzVirtualNetworkGatewayAdvertisedRoute`,
//! from gobgpd's adj-RIB-out), what each Route Server instance advertises
//! to a peer (`Get-AzRouteServerPeerAdvertisedRoute`, the same way) and
//! the routing daemons behind them. The
//! offline answers to the same questions come from
//! [`crate::policy::bgp::BgpModel`]; a test holds the two equal. They
//! ask the routing daemons as last published, each under its own lock,
//! and never wait for an `apply` in progress.

use super::hybrid::RoutingDaemon;
use super::service::Changing;
use crate::daemon::forwarding::service::Forwarding;

impl Changing {
    /// The BGP sessions of every instance of `gateway`, as Azure lists
    /// them; a refusal when the lab has no such gateway.
    pub fn bgp_peer_status(
        &self,
        forwarding: &Forwarding,
        gateway: &str,
    ) -> Result<crate::diagnostics::gateway::BgpPeerStatusList, crate::diagnostics::QueryError>
    {
        use crate::diagnostics::gateway::{azure_peer_state, duration_text, BgpPeerStatus};
        let snap = forwarding.snapshot();
        let g = crate::diagnostics::gateway::find_gateway(&snap, gateway)?;
        let instances = &snap.topology.gateways[g].instances;
        let Some(routing) = self.routing() else {
            return Err(crate::diagnostics::QueryError::refused(
                "the lab is shutting down",
            ));
        };
        let mut value = Vec::new();
        // Each instance on its own: one whose speaker is down or does not
        // answer shows its sessions with the reason, next to the others.
        for (instance, sessions) in routing.peer_status(gateway) {
            let local = instances
                .get(instance)
                .map_or_else(String::new, |a| a.to_string());
            for session in sessions {
                let s = session.status.as_ref();
                value.push(BgpPeerStatus {
                    asn: session.asn,
                    connected_duration: s
                        .and_then(|s| s.uptime_secs)
                        .map(duration_text)
                        .unwrap_or_default(),
                    local_address: local.clone(),
                    messages_received: s.map_or(0, |s| s.messages_received),
                    messages_sent: s.map_or(0, |s| s.messages_sent),
                    neighbor: session.address.to_string(),
                    routes_received: s.map_or(0, |s| s.routes_received),
                    state: s
                        .map_or("Unknown", |s| azure_peer_state(&s.state, &s.admin_state))
                        .to_string(),
                    reason: session.reason,
                });
            }
        }
        Ok(crate::diagnostics::gateway::BgpPeerStatusList { value })
    }

    /// What `gateway` advertises to `peer`, from its speakers: each
    /// instance's gobgpd adj-RIB-out towards that neighbour.
    pub fn advertised_routes(
        &self,
        forwarding: &Forwarding,
        gateway: &str,
        peer: &str,
    ) -> Result<crate::diagnostics::gateway::GatewayRouteList, crate::diagnostics::QueryError> {
        use crate::diagnostics::gateway::{advertised_row, bgp_peer, find_gateway};
        use crate::diagnostics::QueryError;
        let snap = forwarding.snapshot();
        let g = find_gateway(&snap, gateway)?;
        let peer_ip = bgp_peer(&snap, g, peer)?;
        let std::net::IpAddr::V4(peer_v4) = peer_ip else {
            return Ok(crate::diagnostics::gateway::GatewayRouteList { value: Vec::new() });
        };
        let instances = &snap.topology.gateways[g].instances;
        let Some(routing) = self.routing() else {
            return Err(QueryError::refused("the lab is shutting down"));
        };
        let mut value = Vec::new();
        for (instance, paths) in routing.advertised(gateway, peer_v4) {
            let paths = paths.map_err(|e| {
                QueryError::refused(format!(
                    "gateway `{gateway}` instance {instance}: its speaker did not answer: {e:#}"
                ))
            })?;
            let Some(local) = instances.get(instance).copied() else {
                continue;
            };
            for path in paths {
                value.push(advertised_row(
                    local,
                    ipnet::IpNet::V4(path.prefix),
                    std::net::IpAddr::V4(path.next_hop),
                    &path.as_path,
                ));
            }
        }
        Ok(crate::diagnostics::gateway::GatewayRouteList { value })
    }

    /// What `route_server` advertises to `peer`, from its speakers (each
    /// instance's gobgpd, registered under the Route Server's name like a
    /// gateway's): its adj-RIB-out towards that neighbour.
    pub fn route_server_advertised_routes(
        &self,
        forwarding: &Forwarding,
        route_server: &str,
        peer: &str,
    ) -> Result<
        crate::diagnostics::route_server::RouteServerRouteList,
        crate::diagnostics::QueryError,
    > {
        use crate::diagnostics::route_server::{
            advertised_row, bgp_peer, find_route_server, route_list,
        };
        use crate::diagnostics::QueryError;
        let snap = forwarding.snapshot();
        let r = find_route_server(&snap, route_server)?;
        let peer_ip = bgp_peer(&snap, r, peer)?;
        let instances = &snap.topology.route_servers[r].instances;
        let mut roles = vec![Vec::new(); instances.len()];
        let std::net::IpAddr::V4(peer_v4) = peer_ip else {
            return Ok(route_list(roles));
        };
        let Some(routing) = self.routing() else {
            return Err(QueryError::refused("the lab is shutting down"));
        };
        for (instance, paths) in routing.advertised(route_server, peer_v4) {
            let paths = paths.map_err(|e| {
                QueryError::refused(format!(
                    "Route Server `{route_server}` instance {instance}: its speaker did not \
                     answer: {e:#}"
                ))
            })?;
            let (Some(local), Some(rows)) = (instances.get(instance), roles.get_mut(instance))
            else {
                continue;
            };
            rows.extend(paths.into_iter().map(|path| {
                advertised_row(
                    *local,
                    ipnet::IpNet::V4(path.prefix),
                    std::net::IpAddr::V4(path.next_hop),
                    &path.as_path,
                )
            }));
        }
        Ok(route_list(roles))
    }

    /// The routing daemons of the lab's gateways and sites: state, pid,
    /// restarts and how each last ended.
    pub fn routing_daemons(&self) -> Vec<RoutingDaemon> {
        self.routing()
            .map(|routing| routing.routing_daemons())
            .unwrap_or_default()
    }
}
