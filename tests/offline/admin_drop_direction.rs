//! One direction for a drop, whoever reports it: an appliance forwarding
//! a packet that its own VNet's security admin rule denies on the way out
//! is dropped at the appliance by its outbound stages, and the decision's
//! drop names it so; the flow logs and the live page take the direction
//! from the same [`DropReason::direction`], so they cannot disagree (the
//! live page once inferred it from the packet's source, which the
//! appliance does not own, and said inbound).

use etherparse::PacketBuilder;
use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, Direction};

const LAB: &str = r#"
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: nva, address_prefixes: [10.0.1.0/24]}
  - name: spoke1
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24], route_table: via-nva}
  - name: spoke2
    address_space: [10.2.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.2.1.0/24], route_table: via-nva}
peerings:
  - {name: hub-to-spoke1, virtual_network: hub, remote_virtual_network: spoke1, allow_forwarded_traffic: true}
  - {name: spoke1-to-hub, virtual_network: spoke1, remote_virtual_network: hub, allow_forwarded_traffic: true}
  - {name: hub-to-spoke2, virtual_network: hub, remote_virtual_network: spoke2, allow_forwarded_traffic: true}
  - {name: spoke2-to-hub, virtual_network: spoke2, remote_virtual_network: hub, allow_forwarded_traffic: true}
route_tables:
  - name: via-nva
    routes:
      - {name: spokes, address_prefix: 10.0.0.0/8, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.4}
network_interfaces:
  - {name: nva, subnet: hub/nva, private_ip_address: 10.0.1.4, ip_forwarding_enabled: true}
  - {name: vm1, subnet: spoke1/app, private_ip_address: 10.1.1.4}
  - {name: vm2, subnet: spoke2/app, private_ip_address: 10.2.1.4}
network_managers:
  - name: avnm
    network_groups:
      - {name: hubs, static_members: [hub]}
    security_admin_configurations:
      - name: guardrails
        rule_collections:
          - name: no-ssh-out-of-the-hub
            network_groups: [hubs]
            rules:
              - {name: deny-ssh-out, priority: 100, direction: Outbound, action: Deny, protocol: Tcp, destinations: [10.2.0.0/16], destination_port_ranges: ["22"]}
    deployments:
      - {location: westeurope, scope_access: SecurityAdmin, configurations: [guardrails]}
"#;

fn ssh(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let builder = PacketBuilder::ipv4(src, dst, 64).tcp(40000, 22, 1, 65535);
    let mut out = Vec::with_capacity(builder.size(0));
    builder.write(&mut out, &[]).unwrap();
    out
}

#[test]
fn an_appliances_admin_rule_drop_is_outbound_at_the_appliance_for_every_reader() {
    let topology = parse_str("admin.yaml", LAB)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topology;
    let snap = Snapshot::compile(topology, 1);
    let port = |name: &str| {
        (snap.plan.ports.iter_enumerated())
            .find(|(_, p)| p.name == name)
            .map(|(i, _)| i)
            .unwrap()
    };
    let (vm1, nva) = (port("vm1"), port("nva"));
    let packet = ssh([10, 1, 1, 4], [10, 2, 1, 4]);
    // vm1 hands it to the appliance, whose inbound side lets it in.
    assert_eq!(
        decide(&snap, &Stateless, vm1, &packet, 0),
        Verdict::Deliver(nva)
    );
    // The appliance forwards it: its VNet's admin rule denies it on the
    // way out, at the appliance, which sent it.
    let Verdict::Drop { reason, at, .. } = decide(&snap, &Stateless, nva, &packet, 0) else {
        panic!("the appliance's forward was not dropped");
    };
    assert_eq!((reason, at), (DropReason::AdminDenied, nva));
    assert_eq!(reason.direction(at == nva), Direction::Outbound);
    assert!(reason.by_rule(), "the flow logs record it as a deny");
    // The same rule judging a packet that arrives is inbound.
    assert_eq!(reason.direction(false), Direction::Inbound);
    assert_eq!(
        DropReason::NsgOutbound.direction(false),
        Direction::Outbound
    );
    assert_eq!(DropReason::NsgInbound.direction(true), Direction::Inbound);
    // Another port is not denied by the hub's rule.
    let other = {
        let builder =
            PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64).tcp(40000, 80, 1, 65535);
        let mut out = Vec::new();
        builder.write(&mut out, &[]).unwrap();
        out
    };
    assert_eq!(
        decide(&snap, &Stateless, nva, &other, 0),
        Verdict::Deliver(port("vm2"))
    );
}
