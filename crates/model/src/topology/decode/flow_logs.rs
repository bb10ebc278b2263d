//! The decoder of `network_watcher_flow_logs`: Network Watcher's VNet
//! flow logs (`azurerm_network_watcher_flow_log`), each naming the one
//! resource it targets by the key of its kind.

use super::reader::{Decoder, Fields, Head, NameRef, Record};

/// A flow log as written: its target still a name, under the key that
/// says its kind (at most one is given; none is refused when resolved).
#[derive(Debug)]
pub struct RawFlowLog {
    pub name: String,
    pub key: String,
    pub virtual_network: Option<NameRef>,
    pub subnet: Option<NameRef>,
    pub network_interface: Option<NameRef>,
    pub enabled: bool,
    pub line: usize,
}

record!(FLOW_LOG_KEYS: RawFlowLog { name, key, line } "a flow log" {
    virtual_network: "virtual_network" => optional_ref,
    subnet: "subnet" => optional_ref,
    network_interface: "network_interface" => optional_ref,
    enabled: "enabled" => flag(true),
});
