//! A StandardV2 NAT gateway in a dual-stack subnet, live: `curl` to the
//! Internet's IPv4 and IPv6 echo servers shows the gateway's address of
//! each family, and `ping` through it is answered (StandardV2 translates
//! ICMP echo). Needs root.

use crate::common;

use common::Lab;

const LAB: &str = "internet:
  servers:
    - {name: echo, address: 203.0.113.10, ports: [80]}
    - {name: echo6, address: '2001:db8:ffff::10', ports: [80]}
public_ip_addresses:
  - {name: nat-pip, ip_address: 198.51.100.10}
  - {name: nat-pip6, ip_address: '2001:db8:100::10'}
nat_gateways:
  - {name: nat, sku_name: StandardV2, public_ip_addresses: [nat-pip, nat-pip6], subnets: [vn/app]}
vnets:
  - name: vn
    address_space: [10.1.0.0/16, 'fd00:1::/48']
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24, 'fd00:1:0:1::/64']}
network_interfaces:
  - name: vm1
    subnet: vn/app
    ip_configurations:
      - {name: v4, private_ip_address: 10.1.1.4}
      - {name: v6, private_ip_address: 'fd00:1:0:1::4'}
";

#[test]
fn a_standard_v2_nat_gateway_carries_both_families_and_ping() {
    let lab = Lab::start("natv2", LAB);
    let vm1 = lab.ns("vm1");
    assert_eq!(common::servers::echo_seen(&vm1), "198.51.100.10");
    let seen6 = common::stdout_in(
        &vm1,
        &["curl", "-s", "-m", "5", "http://[2001:db8:ffff::10]/"],
    );
    assert_eq!(
        seen6.lines().next().unwrap_or_default().trim(),
        "2001:db8:100::10"
    );
    assert!(
        common::ping(&vm1, "203.0.113.10"),
        "StandardV2 translates ICMP echo"
    );
}
