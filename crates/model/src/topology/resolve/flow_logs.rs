//! Network Watcher's VNet flow logs, checked as Azure checks them: a
//! name of 1 to 80 characters, unique; exactly one target, a virtual
//! network, a subnet (`vnet/subnet`) or a network interface of the file;
//! at most one flow log per target ("a resource can have only one flow
//! log").

use super::super::decode::RawFlowLog;
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::{FlowLog, FlowLogTarget};

pub const FLOW_LOG_NAME: NameRule = NameRule::new("flow log", 1, 80);

impl Resolver<'_> {
    pub(super) fn flow_logs(&mut self, logs: Vec<RawFlowLog>) {
        let mut seen = Names::new(FLOW_LOG_NAME);
        for log in logs {
            self.check_name(&mut seen, &log.name, log.line, &log.key);
            let given = [&log.virtual_network, &log.subnet, &log.network_interface];
            let target = match given {
                [Some(vnet), None, None] => self.vnet_ref(vnet).map(FlowLogTarget::VirtualNetwork),
                [None, Some(subnet), None] => self.subnet_ref(subnet).map(FlowLogTarget::Subnet),
                [None, None, Some(nic)] => {
                    let found = self.topo.nic_by_name(&nic.name);
                    self.lookup(nic, "network interface", found)
                        .map(FlowLogTarget::NetworkInterface)
                }
                _ => {
                    let why = "a flow log targets one resource: give one of `virtual_network`, \
                               `subnet` (vnet/subnet) or `network_interface`";
                    self.diags.error(log.line, &log.key, why);
                    None
                }
            };
            let Some(target) = target else {
                continue;
            };
            if let Some(first) = self.topo.flow_logs.iter().find(|f| f.target == target) {
                let why = format!(
                    "its target already has the flow log `{}`: Azure allows one flow log per \
                     resource",
                    first.name
                );
                self.diags.error(log.line, &log.key, why);
                continue;
            }
            self.topo.flow_logs.push(FlowLog {
                name: log.name,
                target,
                enabled: log.enabled,
                line: log.line,
            });
        }
    }
}
