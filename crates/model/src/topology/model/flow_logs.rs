//! Network Watcher's VNet flow logs (`azurerm_network_watcher_flow_log`
//! with a `target_resource_id`): which NICs' traffic each logs. Azure
//! lets one flow log target a virtual network, a subnet or a network
//! interface, each resource at most one flow log, and the most specific
//! target decides a NIC's logging ("Virtual network flow logs": a flow
//! log on a NIC or a subnet takes precedence over one on its VNet). What
//! a flow log writes is the daemon's (see the book's flow-logs chapter).

use super::indices::{NicIdx, SubnetRef, VnetIdx};

/// What a flow log covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowLogTarget {
    VirtualNetwork(VnetIdx),
    Subnet(SubnetRef),
    NetworkInterface(NicIdx),
}

/// One VNet flow log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLog {
    pub name: String,
    pub target: FlowLogTarget,
    /// A disabled flow log logs nothing, and still takes precedence over
    /// its target's parents, as in Azure.
    pub enabled: bool,
    pub line: usize,
}

impl FlowLogTarget {
    /// How specific the target is: a NIC over a subnet over a VNet.
    pub(super) fn rank(self) -> u8 {
        match self {
            FlowLogTarget::NetworkInterface(_) => 2,
            FlowLogTarget::Subnet(_) => 1,
            FlowLogTarget::VirtualNetwork(_) => 0,
        }
    }

    /// Whether the target holds a NIC `nic` (if any) placed in `subnet`.
    pub(super) fn holds(self, subnet: SubnetRef, nic: Option<NicIdx>) -> bool {
        match self {
            FlowLogTarget::NetworkInterface(n) => nic == Some(n),
            FlowLogTarget::Subnet(s) => s == subnet,
            FlowLogTarget::VirtualNetwork(v) => v == subnet.vnet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::model::Topology;
    use crate::topology::SubnetIdx;

    fn subnet(v: usize, s: usize) -> SubnetRef {
        SubnetRef {
            vnet: VnetIdx::new(v),
            subnet: SubnetIdx::new(s),
        }
    }

    fn log(name: &str, target: FlowLogTarget, enabled: bool) -> FlowLog {
        FlowLog {
            name: name.into(),
            target,
            enabled,
            line: 1,
        }
    }

    #[test]
    fn the_most_specific_target_decides() {
        let topology = Topology {
            flow_logs: vec![
                log("vnet", FlowLogTarget::VirtualNetwork(VnetIdx::new(0)), true),
                log("app", FlowLogTarget::Subnet(subnet(0, 1)), true),
                log(
                    "off",
                    FlowLogTarget::NetworkInterface(NicIdx::new(7)),
                    false,
                ),
            ],
            ..Topology::default()
        };
        let name = |s: SubnetRef, nic: Option<usize>| {
            topology
                .vnet_flow_log_of(s, nic.map(NicIdx::new))
                .map(|f| f.name.as_str())
        };
        assert_eq!(name(subnet(0, 0), Some(1)), Some("vnet"));
        assert_eq!(name(subnet(0, 1), Some(1)), Some("app"));
        assert_eq!(name(subnet(0, 1), None), Some("app"));
        assert_eq!(name(subnet(0, 1), Some(7)), None, "disabled on the NIC");
        assert_eq!(name(subnet(1, 0), Some(2)), None, "another VNet");
    }
}
