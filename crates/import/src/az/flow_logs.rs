//! Network Watcher's flow logs of a dump (`flow-logs.json`: `az network
//! watcher flow-log list --location REGION -o json`, one per region,
//! joined), as `azurerm_network_watcher_flow_log`s: the name, the target
//! (`targetResourceId`: a virtual network, a subnet, a network interface,
//! or an NSG, which the writer leaves out with a note) and `enabled`.

use super::attributes::{resource, top_level};
use super::list::List;
use super::model::Object;
use crate::{ImportError, Resource};
use serde::Deserialize;
use serde_json::json;

/// `az network watcher flow-log list`: one flow log.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowLog {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub target_resource_id: Option<String>,
    pub enabled: Option<bool>,
}

impl Object for FlowLog {
    fn name(&self) -> &str {
        &self.name
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn resource_group(&self) -> Option<&str> {
        self.resource_group.as_deref()
    }
}

/// The azurerm resources of the dump's flow logs.
pub(super) fn resources(
    logs: &List<'_, FlowLog>,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    for (at, log) in logs.each() {
        let (name, id, mut attributes) = top_level(&at, log, log.location.as_deref())?;
        let Some(target) = &log.target_resource_id else {
            return Err(at.error("a flow log without `targetResourceId`"));
        };
        attributes.insert("target_resource_id".into(), json!(target));
        attributes.insert("enabled".into(), json!(log.enabled.unwrap_or(true)));
        out.push(resource(
            "azurerm_network_watcher_flow_log",
            &name,
            attributes,
            &id,
        ));
    }
    Ok(())
}
