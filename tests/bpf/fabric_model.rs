//! The fabric's kernel program against a reference model. Random
//! sequences of packets, plane publishes (the floor raised for every port,
//! as `apply` does, or the generation of some ports only, as learned routes
//! and health changes do), installs (some decided
//! under an older plane and installed late) and removals are run against
//! the real `from_port` (`BPF_PROG_RUN`) and its real maps, through the
//! `Fabric` methods the offload uses (`install`, `remove`,
//! `advance`, `counters_chunk`), and against a reference: a map of entries
//! with their generations, where a packet takes the fast path if and only
//! if it is TCP without SYN, FIN or RST or UDP, not a fragment, and an
//! entry exists for its arrival and 5-tuple whose generation is neither
//! older than the floor nor than the generation of its sending or its
//! receiving port, and whose path carries the packet (each segment of a
//! super-packet) when the entry bounds it (a VPN tunnel's MTU). Every
//! verdict, every packet as it left
//! the program and every counters slot must be what the reference says.
//!
//! The offload's own bookkeeping (which flows it asks for, its slots'
//! reuse, its readings) is not driven here: it needs a published plane
//! and tracked flows, and tests/labs/e2e_offload.rs runs it on a real lab.
//!
//! Needs root: the program arrives on devices of a network namespace the
//! test makes for itself (anonymous, gone with the test's thread).

use super::{forwarded, from_port, load, SkbLayout, SENDER_MAC, TC_ACT_REDIRECT, TC_ACT_SHOT};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;
use vnetd::host::fabric::{FabricPrograms, FastCounters, FastEntry, FastKey, Touched, FABRIC_MAC};
use vnetd::net::{IPPROTO_TCP, IPPROTO_UDP};

/// The MTU every port of the model is given.
const PORT_MTU: u16 = 1500;
/// Ports on the fabric; packets also arrive on one more device, which has
/// no port entry.
const PORTS: usize = 3;
/// Counters slots the installs use.
const SLOTS: u32 = 6;

/// One direction of a flow, as it leaves a sender.
#[derive(Debug, Clone, Copy)]
struct Flow {
    protocol: u8,
    source: IpAddr,
    destination: IpAddr,
    ports: (u16, u16),
}

fn flows() -> Vec<Flow> {
    let flow = |protocol, source: &str, destination: &str, ports| Flow {
        protocol,
        source: source.parse().unwrap(),
        destination: destination.parse().unwrap(),
        ports,
    };
    vec![
        flow(IPPROTO_UDP, "10.0.1.4", "10.0.2.4", (40000, 5201)),
        // The same addresses and ports over TCP: another key.
        flow(IPPROTO_TCP, "10.0.1.4", "10.0.2.4", (40000, 5201)),
        // The reply direction of the first.
        flow(IPPROTO_UDP, "10.0.2.4", "10.0.1.4", (5201, 40000)),
        flow(IPPROTO_TCP, "10.0.1.5", "10.0.2.4", (40001, 5201)),
        flow(IPPROTO_TCP, "fd00:1::4", "fd00:2::4", (40000, 443)),
        flow(IPPROTO_UDP, "fd00:1::4", "fd00:2::4", (53, 53)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    None,
    Syn,
    Fin,
    Rst,
}

#[derive(Debug, Clone)]
enum Step {
    /// A packet of `flow` arriving at port `port` (`PORTS`: the device
    /// with no port entry).
    Packet {
        port: usize,
        flow: usize,
        control: Control,
        /// An IPv4 first fragment (IPv6 packets are sent whole).
        fragment: bool,
        payload: usize,
        /// A GSO super-packet of this segment size.
        gso_size: Option<u32>,
    },
    /// A plane is published: the generation goes up by one, and the floor
    /// with it.
    Publish,
    /// A plane is published that changes the ports `touched` (a bit each):
    /// the generation goes up by one, and theirs with it.
    PublishPorts {
        touched: u8,
    },
    /// An entry for `flow` arriving at `port`, to `egress`, decided `age`
    /// generations ago, over a path that carries at most `path_mtu`.
    Install {
        port: usize,
        flow: usize,
        egress: usize,
        age: u64,
        slot: u32,
        path_mtu: Option<u16>,
    },
    Remove {
        port: usize,
        flow: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let flow = 0..flows().len();
    let control = prop_oneof![
        6 => Just(Control::None),
        1 => Just(Control::Syn),
        1 => Just(Control::Fin),
        1 => Just(Control::Rst),
    ];
    let age = prop_oneof![3 => Just(0u64), 1 => 1..3u64];
    prop_oneof![
        8 => (
            0..=PORTS,
            flow.clone(),
            control,
            prop::bool::weighted(0.1),
            0..2000usize,
            prop::option::weighted(0.3, 500..1500u32),
        )
            .prop_map(|(port, flow, control, fragment, payload, gso_size)| Step::Packet {
                port,
                flow,
                control,
                fragment,
                payload,
                gso_size,
            }),
        1 => Just(Step::Publish),
        2 => (1u8..(1 << PORTS)).prop_map(|touched| Step::PublishPorts { touched }),
        4 => (
            (0..PORTS, flow.clone(), 0..PORTS),
            age,
            0..SLOTS,
            prop::option::weighted(0.3, 600..1500u16),
        )
            .prop_map(
                |((port, flow, egress), age, slot, path_mtu)| Step::Install {
                    port,
                    flow,
                    egress,
                    age,
                    slot,
                    path_mtu,
                }
            ),
        1 => (0..PORTS, flow).prop_map(|(port, flow)| Step::Remove { port, flow }),
    ]
}

/// The devices packets arrive on, in a namespace of the test's own, and
/// the programs with a port on each but the last.
struct Bench {
    programs: FabricPrograms,
    /// The host ends' ifindexes, then the device with no port entry.
    devices: Vec<u32>,
    /// Each port's index in `port_generations`.
    indexes: Vec<u32>,
    skb: SkbLayout,
    flows: Vec<Flow>,
}

fn mac_of(port: usize) -> [u8; 6] {
    [0x02, 0, 0, 0, 1, port as u8]
}

impl Bench {
    /// Must run on a thread of its own: it moves the thread to a new
    /// network namespace.
    fn new() -> Bench {
        let programs = load(64);
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("a network namespace for the test's devices");
        let mut devices = Vec::new();
        for pair in 0..(PORTS + 2) / 2 {
            let (a, b) = (format!("fm{}", 2 * pair), format!("fm{}", 2 * pair + 1));
            let output = Command::new("ip")
                .args(["link", "add", &a, "type", "veth", "peer", "name", &b])
                .output()
                .expect("running ip");
            assert!(output.status.success(), "ip link add: {output:?}");
            for name in [a, b] {
                devices.push(nix::net::if_::if_nametoindex(name.as_str()).expect("the veth"));
            }
        }
        devices.truncate(PORTS + 1);
        let mut indexes = Vec::new();
        for (port, host_end) in devices[..PORTS].iter().enumerate() {
            indexes.push(
                programs
                    .add_port(*host_end, 5000 + port as u32, mac_of(port), PORT_MTU)
                    .expect("adding a port"),
            );
        }
        Bench {
            programs,
            devices,
            indexes,
            skb: SkbLayout::of_object(),
            flows: flows(),
        }
    }

    fn key(&self, port: usize, flow: usize) -> FastKey {
        let f = self.flows[flow];
        FastKey {
            ingress: self.devices[port],
            protocol: f.protocol,
            source: f.source,
            destination: f.destination,
            source_port: f.ports.0,
            destination_port: f.ports.1,
        }
    }

    fn slots(&self) -> Vec<FastCounters> {
        let mut chunk = self.programs.fabric().counters_chunk(0).expect("reading");
        chunk.truncate(SLOTS as usize);
        chunk
    }
}

/// The frame of a packet, and its IP length and header length (IP and
/// TCP or UDP) as the fast path counts them.
fn frame(flow: &Flow, control: Control, fragment: bool, payload: usize) -> (Vec<u8>, u64, u64) {
    use etherparse::PacketBuilder;
    let ethernet = PacketBuilder::ethernet2(SENDER_MAC, FABRIC_MAC);
    let (ip, ip_header) = match (flow.source, flow.destination) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (ethernet.ipv4(s.octets(), d.octets(), 64), 20),
        (IpAddr::V6(s), IpAddr::V6(d)) => (ethernet.ipv6(s.octets(), d.octets(), 64), 40),
        _ => unreachable!("flows are of one family"),
    };
    let body = vec![0x5a; payload];
    let mut out = Vec::new();
    let l4_header = if flow.protocol == IPPROTO_TCP {
        let tcp = ip.tcp(flow.ports.0, flow.ports.1, 1000, 65535);
        let tcp = match control {
            Control::None => tcp.ack(1),
            Control::Syn => tcp.syn(),
            Control::Fin => tcp.ack(1).fin(),
            Control::Rst => tcp.rst(),
        };
        tcp.write(&mut out, &body).unwrap();
        20
    } else {
        ip.udp(flow.ports.0, flow.ports.1)
            .write(&mut out, &body)
            .unwrap();
        8
    };
    if fragment && ip_header == 20 {
        out[20] |= 0x20; // more fragments
        out[24..26].copy_from_slice(&[0, 0]);
        let header = etherparse::Ipv4HeaderSlice::from_slice(&out[14..])
            .unwrap()
            .to_header();
        out[24..26].copy_from_slice(&header.calc_header_checksum().to_be_bytes());
    }
    let ip_len = (out.len() - 14) as u64;
    (out, ip_len, ip_header + l4_header)
}

/// What a packet counts for on the wire: a GSO super-packet is its
/// segments, each with its own copy of the headers.
fn wire(ip_len: u64, headers: u64, gso_size: Option<u32>) -> (u64, u64) {
    match gso_size {
        Some(size) if ip_len > headers => {
            let payload = ip_len - headers;
            let segments = payload.div_ceil(u64::from(size)).max(1);
            (segments, payload + segments * headers)
        }
        _ => (1, ip_len),
    }
}

/// The reference: which entries exist, of which generation, and what
/// each slot has counted since the case began.
#[derive(Debug, Default)]
struct Model {
    /// The latest plane's generation.
    current: u64,
    floor: u64,
    ports: [u64; PORTS],
    /// Each entry, with its egress port.
    entries: BTreeMap<(usize, usize), (FastEntry, usize)>,
    counted: BTreeMap<u32, (u64, u64)>,
}

fn check(bench: &Bench, steps: &[Step]) {
    let fabric = bench.programs.fabric();
    // What earlier cases left: no entry, and slots read as they are now.
    for (key, _) in fabric.entries() {
        fabric.remove(&key);
    }
    let baseline = bench.slots();
    let ports: [u64; PORTS] = std::array::from_fn(|p| fabric.port_generation(bench.indexes[p]));
    let floor = fabric.generation();
    let mut model = Model {
        current: floor.max(ports.iter().copied().max().unwrap_or(0)),
        floor,
        ports,
        ..Model::default()
    };
    let mut before = baseline.clone();
    for (index, step) in steps.iter().enumerate() {
        let mut fast_slot = None;
        match *step {
            Step::Publish => {
                model.current += 1;
                model.floor = model.current;
                fabric.advance(model.current, Touched::All).unwrap();
            }
            Step::PublishPorts { touched } => {
                model.current += 1;
                let ports: Vec<usize> = (0..PORTS).filter(|p| touched & (1 << p) != 0).collect();
                for &p in &ports {
                    model.ports[p] = model.current;
                }
                let indexes: Vec<u32> = ports.iter().map(|&p| bench.indexes[p]).collect();
                fabric
                    .advance(model.current, Touched::Ports(&indexes))
                    .unwrap();
            }
            Step::Install {
                port,
                flow,
                egress,
                age,
                slot,
                path_mtu,
            } => {
                let entry = FastEntry {
                    egress: bench.devices[egress],
                    egress_port: bench.indexes[egress],
                    mac: mac_of(egress),
                    generation: model.current.saturating_sub(age),
                    slot,
                    rewrite: None,
                    path_mtu,
                };
                fabric
                    .install(&bench.key(port, flow), entry)
                    .expect("installing");
                model.entries.insert((port, flow), (entry, egress));
            }
            Step::Remove { port, flow } => {
                let removed = fabric.remove(&bench.key(port, flow));
                let expected = model.entries.remove(&(port, flow)).is_some();
                assert_eq!(removed, expected, "step {index}: removing {step:?}");
            }
            Step::Packet {
                port,
                flow,
                control,
                fragment,
                payload,
                gso_size,
            } => {
                let f = &bench.flows[flow];
                let (frame, ip_len, headers) = frame(f, control, fragment, payload);
                let context = bench.skb.context(
                    bench.devices[port],
                    gso_size.map(|size| (size, wire(ip_len, headers, Some(size)).0 as u32)),
                );
                let outcome = from_port(&bench.programs, &frame, Some(&context));
                if port == PORTS {
                    assert_eq!(outcome.verdict, TC_ACT_SHOT, "step {index}: {step:?}");
                } else {
                    let v4 = f.source.is_ipv4();
                    let control = f.protocol == IPPROTO_TCP && control != Control::None;
                    // What a packet is on the sender's wire (one segment of
                    // a super-packet) must fit the MTU its port was given.
                    let on_wire = match gso_size {
                        Some(size) => headers + u64::from(size),
                        None => ip_len,
                    };
                    let fits = on_wire <= u64::from(PORT_MTU);
                    let entry = (model.entries.get(&(port, flow)))
                        .filter(|(e, egress)| {
                            e.generation >= model.floor
                                && e.generation >= model.ports[port]
                                && e.generation >= model.ports[*egress]
                                && !control
                                && !(v4 && fragment)
                                && fits
                                && e.path_mtu.is_none_or(|mtu| on_wire <= u64::from(mtu))
                        })
                        .map(|(e, _)| e);
                    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "step {index}: {step:?}");
                    match entry {
                        Some(entry) => {
                            assert_eq!(
                                outcome.packet,
                                forwarded(&frame, entry.mac),
                                "step {index}: {step:?} takes the fast path"
                            );
                            let (packets, bytes) = wire(ip_len, headers, gso_size);
                            let counted = model.counted.entry(entry.slot).or_default();
                            counted.0 += packets;
                            counted.1 += bytes;
                            fast_slot = Some(entry.slot);
                        }
                        None => assert_eq!(
                            outcome.packet, frame,
                            "step {index}: {step:?} takes the slow path"
                        ),
                    }
                }
            }
        }
        let now = bench.slots();
        for slot in 0..SLOTS {
            let i = slot as usize;
            let (packets, bytes) = model.counted.get(&slot).copied().unwrap_or_default();
            assert_eq!(
                (
                    now[i].packets - baseline[i].packets,
                    now[i].bytes - baseline[i].bytes
                ),
                (packets, bytes),
                "step {index} ({step:?}): slot {slot}"
            );
            if fast_slot == Some(slot) {
                assert!(now[i].last_used_ns >= before[i].last_used_ns && now[i].last_used_ns > 0);
            } else {
                assert_eq!(now[i].last_used_ns, before[i].last_used_ns, "slot {slot}");
            }
        }
        before = now;
    }
    let installed: BTreeSet<_> = fabric
        .entries()
        .into_iter()
        .map(|(key, entry)| (key, entry.to_bytes()))
        .collect();
    let expected: BTreeSet<_> = model
        .entries
        .iter()
        .map(|(&(port, flow), (entry, _))| (bench.key(port, flow), entry.to_bytes()))
        .collect();
    assert_eq!(installed, expected, "the entries left in the map");
}

#[test]
fn every_verdict_and_every_counter_agree_with_the_reference() {
    // A thread of its own: the namespace it moves to goes with it.
    std::thread::spawn(|| {
        let bench = Bench::new();
        let mut runner = TestRunner::new(Config {
            cases: 256,
            source_file: Some(file!()),
            ..Config::default()
        });
        let outcome = runner.run(&prop::collection::vec(step(), 1..40), |steps| {
            check(&bench, &steps);
            Ok(())
        });
        if let Err(err) = outcome {
            panic!("{err}");
        }
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}
