//! Network Watcher's flow logs: `azurerm_network_watcher_flow_log`,
//! written as the topology's `network_watcher_flow_logs`. A flow log
//! whose `target_resource_id` is a virtual network, a subnet or a network
//! interface is a VNet flow log, written with that target (which the
//! input must hold) and `enabled: false` when disabled; its storage
//! account, retention, format and traffic analytics are not written (the
//! lab writes its logs under `vnetd run --flow-log-dir`). A flow log of
//! an NSG (`network_security_group_id`, or a `target_resource_id` that
//! names one) is left out with a note: vnetd writes every NSG's flow log
//! with `--flow-log-dir`, and Azure creates no new NSG flow logs.

use super::attrs::Attrs;
use super::ids::id_names;
use super::model::Model;
use super::output::{scalar, Output};
use crate::ImportError;
use std::collections::BTreeMap;

/// A VNet flow log: where it came from, its target and whether it is on.
#[derive(Debug)]
pub(super) struct FlowLog {
    source: String,
    /// The topology key of its target's kind, and the target as written.
    target: (&'static str, String),
    enabled: bool,
}

/// The VNet flow logs, by name.
pub(super) type FlowLogs = BTreeMap<String, FlowLog>;

/// The note of a flow log left out because it targets an NSG.
const NSG_FLOW_LOG: &str = "an NSG flow log: vnetd writes every NSG's flow log with \
                            `vnetd run --flow-log-dir`, and Azure creates no new NSG flow logs";

impl<'r> Model<'r> {
    pub(super) fn add_flow_log(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.flow_logs, "flow log", |f| &f.source)?;
        let given = |key: &str| a.str(key).filter(|id| !id.is_empty());
        let id = match (
            given("target_resource_id"),
            given("network_security_group_id"),
        ) {
            (Some(id), _) => id,
            (None, Some(_)) => {
                self.ignored.push((a.r, NSG_FLOW_LOG.to_string()));
                return Ok(());
            }
            (None, None) => return Err(a.error("a flow log needs target_resource_id")),
        };
        let names = |kinds: &[&str]| id_names(&id, kinds);
        let target = if names(&["networkSecurityGroups"]).is_some() {
            self.ignored.push((a.r, NSG_FLOW_LOG.to_string()));
            return Ok(());
        } else if let Some(n) = names(&["virtualNetworks", "subnets"]) {
            self.subnet_mut(a, &n[0], &n[1])?;
            ("subnet", format!("{}/{}", n[0], n[1]))
        } else if let Some(n) = names(&["virtualNetworks"]) {
            if !self.vnets.contains_key(&n[0]) {
                return Err(a.not_in_input("target_resource_id", &id));
            }
            ("virtual_network", n[0].clone())
        } else if let Some(n) = names(&["networkInterfaces"]) {
            if !self.nics.iter().any(|nic| nic.name == n[0]) {
                return Err(a.not_in_input("target_resource_id", &id));
            }
            ("network_interface", n[0].clone())
        } else {
            return Err(a.error(format!(
                "target_resource_id `{id}` is neither a virtual network, a subnet nor a network \
                 interface: what a VNet flow log targets"
            )));
        };
        let log = FlowLog {
            source: a.r.source.clone(),
            target,
            enabled: a.bool("enabled") != Some(false),
        };
        self.flow_logs.insert(name, log);
        Ok(())
    }

    pub(super) fn render_flow_logs(&self, out: &mut Output) {
        out.list(
            0,
            "network_watcher_flow_logs",
            &self.flow_logs,
            |out, (name, log)| {
                out.item(2, &log.source, name);
                out.field(4, log.target.0, &scalar(&log.target.1));
                if !log.enabled {
                    out.line("    enabled: false");
                }
            },
        );
    }
}
