//! A load balancer's IPv6 frontend on the kernel fast path: in a
//! dual-stack lab (each NIC in both families, an IPv4 and an IPv6
//! frontend over the same backends), a UDP echo through the IPv6 frontend
//! leaves userspace once the workers have pinned it, translated both ways
//! as the workers translate it, every datagram counted once; as
//! `e2e_lb_offload`'s tests, in both modes. Needs root.

use crate::common;

use super::e2e_lb_offload::{assert_mode, datagrams_through_at, UdpEchoes, LAB};
use common::Lab;
use std::net::SocketAddr;

/// The backends' IPv6 addresses, in [`dual_stack`].
const BACKENDS6: [(&str, &str); 2] = [("web1", "fd00:40:0:2::4"), ("web2", "fd00:40:0:2::5")];
const FRONTEND6: &str = "fd00:40:0:2::100";

/// [`LAB`] dual-stack: each NIC with an IPv6 address too, and an IPv6
/// frontend whose rule translates UDP to 7000 to the backends' 7100.
fn dual_stack() -> String {
    let mut text = LAB
        .replace(
            "address_space: [10.40.0.0/16]",
            "address_space: [10.40.0.0/16, 'fd00:40::/48']",
        )
        .replace(
            "address_prefixes: [10.40.2.0/24]",
            "address_prefixes: [10.40.2.0/24, 'fd00:40:0:2::/64']",
        )
        .replace(
            "address_prefixes: [10.40.1.0/24]",
            "address_prefixes: [10.40.1.0/24, 'fd00:40:0:1::/64']",
        )
        .replace(
            "      - {name: fe, subnet: lbo/web, private_ip_address: 10.40.2.100}\n",
            &format!(
                "      - {{name: fe, subnet: lbo/web, private_ip_address: 10.40.2.100}}\n      - \
                 {{name: fe6, subnet: lbo/web, private_ip_address: '{FRONTEND6}'}}\n"
            ),
        )
        .replace(
            "    rules:\n",
            "    rules:\n      - {name: datagrams6, frontend_ip_configuration: fe6, \
             backend_address_pool: webs, protocol: Udp, frontend_port: 7000, backend_port: 7100}\n",
        );
    for (name, subnet, v4, v6) in [
        ("web1", "web", "10.40.2.4", "fd00:40:0:2::4"),
        ("web2", "web", "10.40.2.5", "fd00:40:0:2::5"),
        ("client", "app", "10.40.1.4", "fd00:40:0:1::4"),
    ] {
        let one = format!("  - {{name: {name}, subnet: lbo/{subnet}, private_ip_address: {v4}}}\n");
        let both = format!(
            "  - name: {name}\n    subnet: lbo/{subnet}\n    ip_configurations:\n      - \
             {{name: v4, private_ip_address: {v4}}}\n      - {{name: v6, private_ip_address: '{v6}'}}\n"
        );
        assert!(text.contains(&one), "{one}");
        text = text.replace(&one, &both);
    }
    for added in ["fe6", "datagrams6", "'fd00:40:0:1::/64'"] {
        assert!(text.contains(added), "{added}");
    }
    text
}

/// The same through an IPv6 frontend: the kernel carries the flow both
/// ways once placed, its addresses and ports rewritten as the workers
/// rewrite them, every datagram counted once.
#[test]
fn every_datagram_through_an_ipv6_frontend_is_carried_by_the_kernel_and_counted_once() {
    let lab = Lab::start("lbo6", &dual_stack());
    assert_mode(&lab);
    let to = SocketAddr::new(FRONTEND6.parse().unwrap(), 7000);
    let client = common::udp_client_for(&lab.ns("client"), to);
    let echoes = UdpEchoes::start_at(&lab, &BACKENDS6);
    datagrams_through_at(&lab, "client", &client, (to, &BACKENDS6), echoes);
}
