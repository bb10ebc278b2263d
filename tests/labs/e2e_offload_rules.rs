//! Offloaded flows as the rules change under them: a route a gateway
//! learns moves the flows it changes out of the kernel at their next packet
//! and leaves the others there, and a generation the kernel cannot be given
//! takes the flows it concerns out all the same; a Virtual Network
//! Manager commit moves the flows of the VNets it reaches and leaves the
//! others in the kernel. Runs in both modes, as `e2e_offload` does. Needs root (see `common::require_root`).

use super::e2e_offload::{
    assert_denied_from_now, assert_mode, bound_in, denying_udp, flow, offloading, receive,
    wait_offloaded, HUB_SPOKE,
};
use crate::common;

use common::traffic::{Capture, Stream};
use common::Lab;
use std::net::SocketAddr;
use std::time::Duration;

/// Waits until the gateway has learned exactly `prefixes` and every worker
/// forwards with that plane.
fn wait_learned(lab: &Lab, gateway: &str, prefixes: &[&str]) {
    let want: std::collections::BTreeSet<String> = prefixes.iter().map(|p| p.to_string()).collect();
    let learned = || -> std::collections::BTreeSet<String> {
        lab.daemon()
            .snapshot()
            .learned
            .of(gateway, 0)
            .iter()
            .map(|r| r.prefix.to_string())
            .collect()
    };
    assert!(
        common::wait_for(Duration::from_secs(60), || learned() == want),
        "learned {:?}, waiting for {want:?}",
        learned()
    );
    let generation = lab.daemon().snapshot().generation;
    assert!(
        common::wait_for(Duration::from_secs(5), || {
            lab.daemon().oldest_worker_generation() >= generation
        }),
        "the workers did not take plane {generation}"
    );
}

#[test]
fn a_bgp_announcement_and_its_withdrawal_move_an_offloaded_flow_at_its_next_packet() {
    use common::hybrid::{hybrid_lab, reconfigure_branch, BRANCH_ANNOUNCES, BRANCH_HOST};
    let prefix = "offbgp";
    let gateway = format!("{prefix}-gw");
    // spoke1 sends the branch's 192.168.0.0/16 to an appliance in the hub
    // (a user route beats the same prefix learned over BGP); the appliance
    // hands it to the gateway.
    let text = hybrid_lab(prefix, "bird", false)
        .replace(
            "      - {name: app, address_prefixes: [10.1.1.0/24]}",
            "      - {name: app, address_prefixes: [10.1.1.0/24], route_table: spoke1-rt}",
        )
        .replace(
            "route_tables:\n",
            &format!(
                "  - {{name: nva, subnet: hub/default, private_ip_address: 10.0.1.5, ip_forwarding_enabled: true, netns: {prefix}-nva}}\nroute_tables:\n  - {{name: spoke1-rt, routes: [{{name: branch-via-nva, address_prefix: 192.168.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.5}}]}}\n"
            ),
        );
    let lab = Lab::start_exact(prefix, &text);
    assert_mode(&lab);
    wait_learned(&lab, &gateway, &["172.20.0.0/16", "192.168.0.0/16"]);
    let to: SocketAddr = format!("{BRANCH_HOST}:5301").parse().unwrap();
    let server = bound_in(&format!("{prefix}-onprem"), to);
    let client = common::udp_client_for(&lab.ns("vm1"), to);
    let stream = Stream::start(client, server, to);
    stream.wait_for_more(50);
    // The leg to the appliance leaves userspace.
    wait_offloaded(&lab, "vm1", "Udp", &to.to_string());
    let filter = format!("udp and host {BRANCH_HOST} and port 5301");
    let through_nva = Capture::start(&lab.ns("nva"), &filter);
    stream.wait_for_more(50);
    assert!(
        !through_nva.count().is_empty(),
        "the stream passes the appliance"
    );

    // The branch announces 192.168.1.0/24: longer than the user route, so
    // spoke1 now sends the stream straight to the gateway.
    let more_specific = "  route 192.168.1.0/24 unreachable;\n";
    reconfigure_branch(prefix, |c| {
        c.replace(
            BRANCH_ANNOUNCES,
            &format!("{BRANCH_ANNOUNCES}{more_specific}"),
        )
    });
    wait_learned(
        &lab,
        &gateway,
        &["172.20.0.0/16", "192.168.0.0/16", "192.168.1.0/24"],
    );
    let after_announcement = Capture::start(&lab.ns("nva"), &filter);
    stream.wait_for_more(300);
    let seen = after_announcement.count();
    assert!(
        seen.is_empty(),
        "the appliance saw {} packets of the stream after the announcement: {:?}",
        seen.len(),
        &seen[..seen.len().min(5)]
    );
    let flow_now = flow(&lab, "vm1", "Udp", &to.to_string()).expect("the stream's flow");
    assert_eq!(
        flow_now.next_hop_type.as_deref(),
        Some("VirtualNetworkGateway"),
        "{flow_now:?}"
    );
    assert!(!flow_now.offloaded, "{flow_now:?}");

    // Withdrawn again: back through the appliance, and offloaded again.
    reconfigure_branch(prefix, |c| c.replace(more_specific, ""));
    wait_learned(&lab, &gateway, &["172.20.0.0/16", "192.168.0.0/16"]);
    let after_withdrawal = Capture::start(&lab.ns("nva"), &filter);
    stream.wait_for_more(100);
    assert!(
        !after_withdrawal.count().is_empty(),
        "the stream passes the appliance again after the withdrawal"
    );
    wait_offloaded(&lab, "vm1", "Udp", &to.to_string());
    drop(stream);
}

/// What `nic` sent that the workers forwarded (not the kernel).
fn sent_by_the_workers(lab: &Lab, nic: &str) -> u64 {
    let stats = lab.stats(nic);
    stats.packets_sent - stats.offloaded_packets_sent
}

#[test]
fn a_bgp_update_leaves_the_offloaded_flows_of_ports_it_does_not_change_in_the_kernel() {
    use common::hybrid::{hybrid_lab, reconfigure_branch, BRANCH_ANNOUNCES};
    let prefix = "offkeep";
    let gateway = format!("{prefix}-gw");
    // vm3 beside vm2 in spoke2, whose route table does not propagate what
    // the gateway learns: their flows are decided alike before and after.
    let text = hybrid_lab(prefix, "bird", false).replace(
        "route_tables:\n",
        &format!("  - {{name: vm3, subnet: spoke2/app, private_ip_address: 10.2.1.5, netns: {prefix}-vm3}}\nroute_tables:\n"),
    );
    let lab = Lab::start_exact(prefix, &text);
    assert_mode(&lab);
    wait_learned(&lab, &gateway, &["172.20.0.0/16", "192.168.0.0/16"]);
    let to: SocketAddr = "10.2.1.5:5302".parse().unwrap();
    let server = bound_in(&lab.ns("vm3"), to);
    let client = common::udp_client_for(&lab.ns("vm2"), to);
    let stream = Stream::start(client, server, to);
    stream.wait_for_more(50);
    wait_offloaded(&lab, "vm2", "Udp", &to.to_string());
    // Settled: what reached the workers before the entry took over.
    stream.wait_for_more(50);
    let by_workers = sent_by_the_workers(&lab, "vm2");
    let generation = lab.daemon().snapshot().generation;

    // The branch announces 192.168.1.0/24: hub-vm and vm1 learn it, the
    // gateway's ports forward it; vm2 and vm3 do not.
    reconfigure_branch(prefix, |c| {
        c.replace(
            BRANCH_ANNOUNCES,
            &format!("{BRANCH_ANNOUNCES}  route 192.168.1.0/24 unreachable;\n"),
        )
    });
    wait_learned(
        &lab,
        &gateway,
        &["172.20.0.0/16", "192.168.0.0/16", "192.168.1.0/24"],
    );
    assert!(lab.daemon().snapshot().generation > generation);
    let offloaded_before = lab.stats("vm2").offloaded_packets_sent;
    stream.wait_for_more(300);
    let after = lab.stats("vm2");
    if offloading() {
        // Every datagram since the update passed the kernel: none came back
        // to the workers to be decided again.
        assert_eq!(
            sent_by_the_workers(&lab, "vm2"),
            by_workers,
            "the workers saw datagrams of vm2's stream after the update"
        );
        assert!(
            after.offloaded_packets_sent >= offloaded_before + 300,
            "{} then {}",
            offloaded_before,
            after.offloaded_packets_sent
        );
        assert!(flow(&lab, "vm2", "Udp", &to.to_string()).is_some_and(|f| f.offloaded));
    } else {
        assert_eq!(after.offloaded_packets_sent, 0);
    }
    drop(stream);
}

#[test]
fn a_generation_the_kernel_cannot_be_given_stops_an_offloaded_flow_all_the_same() {
    let prefix = "offgen";
    let lab = Lab::start(prefix, HUB_SPOKE);
    assert_mode(&lab);
    let to: SocketAddr = "10.2.1.4:7510".parse().unwrap();
    let server = bound_in(&lab.ns("vm2"), to);
    let client = common::udp_client_for(&lab.ns("vm1"), to);
    for _ in 0..3 {
        client.send_to(b"before", to).unwrap();
    }
    receive(&server, 3, 6);
    wait_offloaded(&lab, "vm1", "Udp", "10.2.1.4:7510");
    // The kernel refuses the next generation: the entries it concerns must
    // leave the kernel instead, so that the deny below holds at once.
    if let Some(offload) = lab.daemon().offload() {
        offload.fabric().fail_next_generation_write();
    }
    let denied_before = lab
        .stats("vm2")
        .drops_for(vnetd::dataplane::DropReason::NsgInbound);
    let summary = lab
        .daemon()
        .apply(
            "deny.yaml",
            &common::with_netns_prefix(&denying_udp(7510), prefix),
        )
        .unwrap_or_else(|e| panic!("apply refused: {e:?}"));
    if offloading() {
        assert!(
            summary
                .warnings
                .iter()
                .any(|w| w.contains("generation failed")),
            "the apply's answer says the fast path could not follow: {:?}",
            summary.warnings
        );
    }
    assert_denied_from_now(&lab, (&client, &server), to, denied_before);
}

const NETWORK_MANAGER: &str = include_str!("../../config/network-manager.yaml");

#[test]
fn a_security_admin_commit_leaves_the_offloaded_flows_of_the_ports_it_does_not_change_in_the_kernel(
) {
    let prefix = "offavnm";
    let lab = Lab::start(prefix, NETWORK_MANAGER);
    assert_mode(&lab);
    // In West Europe (a path between regions is shaped, and stays in
    // userspace): mon1 to hub1, both in the hub; hub1 to spoke1's vm1.
    let kept: SocketAddr = "10.0.1.4:7520".parse().unwrap();
    let kept_stream = Stream::start(
        common::udp_client_for(&lab.ns("mon1"), kept),
        bound_in(&lab.ns("hub1"), kept),
        kept,
    );
    let moved: SocketAddr = "10.1.1.4:7521".parse().unwrap();
    let moved_stream = Stream::start(
        common::udp_client_for(&lab.ns("hub1"), moved),
        bound_in(&lab.ns("vm1"), moved),
        moved,
    );
    kept_stream.wait_for_more(50);
    moved_stream.wait_for_more(50);
    wait_offloaded(&lab, "mon1", "Udp", &kept.to_string());
    wait_offloaded(&lab, "hub1", "Udp", &moved.to_string());
    // Settled: what reached the workers before the entries took over.
    kept_stream.wait_for_more(50);
    moved_stream.wait_for_more(50);
    let (kept_by_workers, moved_by_workers) = (
        sent_by_the_workers(&lab, "mon1"),
        sent_by_the_workers(&lab, "hub1"),
    );

    // The guardrails are no longer committed to West Europe: the stages
    // of the spokes' VMs there change, the hub's do not.
    let commit = NETWORK_MANAGER.replace(
        "      - {location: westeurope, scope_access: SecurityAdmin, configurations: [guardrails]}\n",
        "",
    );
    assert_ne!(commit, NETWORK_MANAGER);
    lab.daemon()
        .apply("commit.yaml", &common::with_netns_prefix(&commit, prefix))
        .unwrap_or_else(|e| panic!("apply refused: {e:?}"));
    kept_stream.wait_for_more(300);
    moved_stream.wait_for_more(300);
    if offloading() {
        // Not one datagram of mon1's stream came back to the workers, and
        // `flows` says the kernel carries it.
        assert_eq!(
            sent_by_the_workers(&lab, "mon1"),
            kept_by_workers,
            "the workers saw datagrams of mon1's stream after the commit"
        );
        assert!(flow(&lab, "mon1", "Udp", &kept.to_string()).is_some_and(|f| f.offloaded));
        // vm1's port changed: the next datagram to it was decided again by
        // the workers, and its flow offloaded again.
        assert!(
            sent_by_the_workers(&lab, "hub1") > moved_by_workers,
            "hub1's stream to vm1 was not decided again"
        );
        wait_offloaded(&lab, "hub1", "Udp", &moved.to_string());
    } else {
        assert_eq!(lab.stats("mon1").offloaded_packets_sent, 0);
        assert_eq!(lab.stats("hub1").offloaded_packets_sent, 0);
    }
    drop((kept_stream, moved_stream));
}
