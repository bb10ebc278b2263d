//! The hybrid lab several end-to-end files share: a hub with a BGP
//! gateway, a transit spoke, a spoke whose route table turns propagation
//! off, and a branch whose router runs the chosen speaker.

pub const BRANCH_HOST: &str = "192.168.1.10";
pub const LAB_HOST: &str = "172.20.1.10";
pub const VM1: &str = "10.1.1.4";
pub const HUB_VM: &str = "10.0.1.4";

/// A hub with a BGP gateway, a transit spoke, a spoke whose route table
/// turns propagation off, and a branch with two hosts whose router runs
/// `speaker`.
pub fn hybrid_lab(prefix: &str, speaker: &str, active_active: bool) -> String {
    format!(
        "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {{name: default, address_prefixes: [10.0.1.0/24]}}
      - {{name: GatewaySubnet, address_prefixes: [10.0.255.224/27]}}
  - name: spoke1
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {{name: app, address_prefixes: [10.1.1.0/24]}}
  - name: spoke2
    address_space: [10.2.0.0/16]
    location: westeurope
    subnets:
      - {{name: app, address_prefixes: [10.2.1.0/24], route_table: spoke2-rt}}
peerings:
  - {{name: hub-to-spoke1, virtual_network: hub, remote_virtual_network: spoke1, allow_gateway_transit: true}}
  - {{name: spoke1-to-hub, virtual_network: spoke1, remote_virtual_network: hub, use_remote_gateways: true}}
  - {{name: hub-to-spoke2, virtual_network: hub, remote_virtual_network: spoke2, allow_gateway_transit: true}}
  - {{name: spoke2-to-hub, virtual_network: spoke2, remote_virtual_network: hub, use_remote_gateways: true}}
network_interfaces:
  - {{name: hub-vm, subnet: hub/default, private_ip_address: {HUB_VM}, netns: {prefix}-hub-vm}}
  - {{name: vm1, subnet: spoke1/app, private_ip_address: {VM1}, netns: {prefix}-vm1}}
  - {{name: vm2, subnet: spoke2/app, private_ip_address: 10.2.1.4, netns: {prefix}-vm2}}
route_tables:
  - {{name: spoke2-rt, bgp_route_propagation_enabled: false, routes: []}}
on_premises_sites:
  - name: branch1
    address_space: [192.168.0.0/16, 172.20.0.0/16]
    router: {{netns: {prefix}-branch1, asn: 65050, bgp_speaker: {speaker}}}
    hosts:
      - {{name: onprem-vm, private_ip_address: {BRANCH_HOST}, netns: {prefix}-onprem}}
      - {{name: onprem-lab, private_ip_address: {LAB_HOST}, netns: {prefix}-onprem-lab}}
virtual_network_gateways:
  - {{name: {prefix}-gw, virtual_network: hub, type: Vpn, vpn_type: RouteBased, sku: VpnGw1, active_active: {active_active}, bgp_enabled: true}}
local_network_gateways:
  - name: branch1-lng
    site: branch1
    gateway_address: 203.0.113.10
    bgp_settings: {{asn: 65050, bgp_peering_address: 192.168.255.1}}
virtual_network_gateway_connections:
  - {{name: hub-to-branch1, type: IPsec, virtual_network_gateway: {prefix}-gw, local_network_gateway: branch1-lng, bgp_enabled: true, shared_key: lab}}
"
    )
}

/// Rewrites the branch router's BIRD configuration (a lab of
/// [`hybrid_lab`] with `bird`) with `edit` and has BIRD read it again.
pub fn reconfigure_branch(prefix: &str, edit: impl FnOnce(&str) -> String) {
    let run_dir = format!("/run/vnetd-bgp/{prefix}-branch1");
    let path = format!("{run_dir}/bird.conf");
    let config = std::fs::read_to_string(&path).unwrap();
    let edited = edit(&config);
    assert_ne!(config, edited, "the edit changes the configuration");
    std::fs::write(&path, edited).unwrap();
    let reply = std::process::Command::new("birdc")
        .args(["-s", &format!("{run_dir}/bird.ctl"), "configure"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&reply.stdout).contains("Reconfigured"),
        "{reply:?}"
    );
}

/// What the branch's BIRD announces besides its site's ranges, as
/// [`reconfigure_branch`] finds it in the configuration.
pub const BRANCH_ANNOUNCES: &str = "  route 172.20.0.0/16 unreachable;\n";
