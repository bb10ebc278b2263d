//! A diagnostic question as it travels: from the command line, or as JSON
//! over the control socket to a running lab, where the daemon answers it
//! from its own snapshot.

use super::lookup::QueryError;
use crate::engine::classifier::PacketKey;
use crate::topology::{Direction, IPPROTO_TCP, IPPROTO_UDP};
use serde::Serialize;
use std::net::SocketAddr;

/// A `flow-verify` question: direction, protocol and the two ends.
#[derive(Debug, Clone, Copy)]
pub struct FlowQuery {
    pub direction: Direction,
    pub protocol: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl FlowQuery {
    pub fn parse(
        direction: &str,
        protocol: &str,
        local: &str,
        remote: &str,
    ) -> Result<Self, QueryError> {
        let direction = match direction.to_ascii_lowercase().as_str() {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            _ => {
                return Err(QueryError::usage(format!(
                    "--direction `{direction}`: expected Inbound or Outbound"
                )))
            }
        };
        let protocol = match protocol.to_ascii_lowercase().as_str() {
            "tcp" => IPPROTO_TCP,
            "udp" => IPPROTO_UDP,
            _ => {
                return Err(QueryError::usage(format!(
                    "--protocol `{protocol}`: expected TCP or UDP (IP flow verify tests TCP and UDP only, as in Azure)"
                )))
            }
        };
        let endpoint = |flag: &str, text: &str| {
            text.parse::<SocketAddr>().map_err(|_| {
                QueryError::usage(format!(
                    "{flag} `{text}`: expected IP:PORT (IPv6 as [ADDR]:PORT)"
                ))
            })
        };
        let local = endpoint("--local", local)?;
        let remote = endpoint("--remote", remote)?;
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(QueryError::usage(
                "--local and --remote must be of the same IP version",
            ));
        }
        Ok(FlowQuery {
            direction,
            protocol,
            local,
            remote,
        })
    }

    /// The first packet of the flow, as the NIC's NSGs see it.
    pub fn packet(&self) -> PacketKey {
        let (src, dst) = match self.direction {
            Direction::Inbound => (self.remote, self.local),
            Direction::Outbound => (self.local, self.remote),
        };
        PacketKey {
            proto: self.protocol,
            src: src.ip(),
            dst: dst.ip(),
            src_port: Some(src.port()),
            dst_port: Some(dst.port()),
        }
    }
}

/// A question the diagnostic commands answer, from a file or from the
/// running daemon's snapshot alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "query", rename_all = "kebab-case")]
pub enum Query {
    /// Of a NIC's subnet, or of a subnet named `vnet/subnet`.
    Routes {
        #[serde(default)]
        nic: Option<String>,
        #[serde(default)]
        subnet: Option<String>,
    },
    /// A virtual hub route table's effective routes (`defaultRouteTable`
    /// unless `table` names another).
    HubRoutes {
        hub: String,
        #[serde(default)]
        table: Option<String>,
    },
    NextHop {
        nic: String,
        dst: String,
    },
    FlowVerify {
        nic: String,
        direction: String,
        protocol: String,
        local: String,
        remote: String,
    },
    Rules {
        nic: String,
    },
    GatewayLearnedRoutes {
        gateway: String,
    },
    GatewayAdvertisedRoutes {
        gateway: String,
        peer: String,
    },
    /// A gateway's BGP sessions (a running lab answers with
    /// `vnetd::api::Request::BgpPeerStatus`'s rows).
    GatewayBgpPeerStatus {
        gateway: String,
    },
    /// What a Route Server's instances learned from its peers (from one
    /// peer only, when given).
    RouteServerLearnedRoutes {
        route_server: String,
        #[serde(default)]
        peer: Option<String>,
    },
    /// What a Route Server's instances advertise to one peer (a running
    /// lab answers from its speakers).
    RouteServerAdvertisedRoutes {
        route_server: String,
        peer: String,
    },
    /// An ExpressRoute circuit's route table on one link (`primary`, the
    /// default, or `secondary`).
    CircuitRoutes {
        circuit: String,
        #[serde(default)]
        path: Option<String>,
    },
    /// What a NIC's name server answers for a name (a running lab asks
    /// it for real, from the NIC's namespace).
    Resolve {
        nic: String,
        name: String,
        /// A record type as `dig` writes it (`A`, `AAAA`, `MX`, ...).
        record_type: String,
    },
    /// The whole path of a packet from a NIC or on-premises host.
    Trace {
        from: String,
        to: String,
        #[serde(default)]
        protocol: Option<String>,
        #[serde(default)]
        port: Option<u16>,
    },
}
