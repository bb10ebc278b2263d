//! A StandardV2 NAT gateway in a dual-stack subnet, live: `curl` to the
//! Internet's IPv4 and IPv6 echo servers shows the gateway's address of
//! each family, and `ping` through it is answered (StandardV2 translates
//! ICMP echo). Needs root.

use crate::common;

use common::Lab;

const LAB: &str = include_str!("../fixtures/nat-v2-dual-stack.yaml");

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
