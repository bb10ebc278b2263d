//! The labs: every test that builds namespaces, TUN devices, tc programs or
//! routing daemons, or loads BPF programs (`bpf`, the tests of the object
//! in `tests/bpf/`), and so needs root (`common::require_root` fails them
//! loudly otherwise). One binary, so that the crate is linked once for all
//! of them; each lab names its namespaces after a prefix of its own, so
//! that tests of different modules run side by side.

#[path = "../bpf/mod.rs"]
mod bpf;
#[path = "../common/mod.rs"]
mod common;

mod api_client;
mod config_writers;
mod e2e_application_rules;
mod e2e_apply;
mod e2e_apply_held;
mod e2e_bgp_watch;
mod e2e_capture;
mod e2e_ci;
mod e2e_ci_killed;
mod e2e_counting;
mod e2e_dns;
mod e2e_dns_bounds;
mod e2e_dns_servers;
mod e2e_dns_tcp;
mod e2e_down;
mod e2e_dual_device;
mod e2e_edge_counting;
mod e2e_examples;
mod e2e_expressroute;
mod e2e_firewall;
mod e2e_firewall_edge;
mod e2e_flow_log;
mod e2e_gateway_offload;
mod e2e_global_reach;
mod e2e_hybrid;
mod e2e_internet_edge;
mod e2e_internet_everywhere;
mod e2e_lab;
mod e2e_lb;
mod e2e_lb_offload;
mod e2e_lb_offload_ipv6;
mod e2e_lb_probe;
mod e2e_live_page;
mod e2e_live_state;
mod e2e_log;
mod e2e_metrics;
mod e2e_names;
mod e2e_nat_v2;
mod e2e_network_manager;
mod e2e_offload;
mod e2e_offload_rules;
mod e2e_panics;
mod e2e_private_endpoints;
mod e2e_process;
mod e2e_public_lb;
mod e2e_route_server;
mod e2e_routing_supervision;
mod e2e_scale;
mod e2e_service_endpoints;
mod e2e_shaping;
mod e2e_snat_exhaustion;
mod e2e_teardown;
mod e2e_tls;
mod e2e_translation_replay;
mod e2e_verify;
mod e2e_virtual_wan;
mod e2e_virtual_wan_appliances;
mod e2e_virtual_wan_branch;
mod e2e_virtual_wan_express_route;
mod e2e_vnet_flow_log;
mod e2e_web_bounds;
mod host_dns_server;
mod host_plumbing;
mod host_probe;
mod host_routing;
mod missing_routing_daemons;
mod several_hosts;
mod several_hosts_trust;
mod underlay;
