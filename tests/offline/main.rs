//! The tests that need no root: the compiled tables against simple
//! references, the golden Azure outputs, the command line offline, the
//! importers, the layering and the docs. One binary, so that the crate is
//! linked once for all of them.

#[path = "../common/mod.rs"]
mod common;
#[path = "../flow_table_shared/mod.rs"]
mod flow_table_shared;

mod admin_drop_direction;
mod application_rules;
mod broken_edge_topologies;
mod broken_expressroute_topologies;
mod broken_hybrid_topologies;
mod broken_lb_topologies;
mod broken_realism_topologies;
mod broken_topologies;
mod changed_ports;
mod check_expectations;
mod ci_report;
mod daemon_rooms;
mod decide_traces;
mod decision_agreement;
mod diagnostics_cli;
mod docs;
mod firewall;
mod firewall_edge;
mod flow_table_props;
mod forwarding_loops;
mod fuzz_seeds;
mod gateway_traces;
mod golden_expressroute;
mod golden_gateway_routes;
mod golden_routes;
mod graph_snapshots;
mod import_edge;
mod import_express_route;
mod import_firewall_fqdns;
mod import_flow_logs;
mod import_graph;
mod import_names;
mod import_network_manager;
mod import_network_manager_refusals;
mod import_public_lb;
mod import_route_server;
mod import_state;
mod import_terraform;
mod import_terraform_bounds;
mod import_virtual_wan;
mod internet_everywhere;
mod known_hops;
mod lab_size;
mod layering;
mod lb_distribution;
mod lb_nat;
mod lb_traces;
mod lpm_props;
mod manual;
mod name_expectations;
mod names_as_paths;
mod nat_gateway;
mod network_manager;
mod nsg_classifier_props;
mod placement;
mod plan;
mod private_clouds;
mod private_endpoints;
mod public_load_balancer;
mod resolve_cli;
mod route_server;
mod route_server_commands;
mod service_endpoints;
mod snapshot_reuse;
mod topology_files;
mod trace_agreement;
mod trace_golden;
mod virtual_wan;
mod virtual_wan_appliances;
mod virtual_wan_branches;
mod virtual_wan_express_route;
mod vm_names;
mod vnet_flow_logs;
