//! The tests of vnetd's BPF object (`bpf/`), beside one another as the
//! object's sources are: the fabric's programs run packet by packet
//! (`BPF_PROG_RUN`: `fabric_program.rs`, `tunnel.rs`) and against a
//! reference model (`fabric_model.rs`), and every map's layout read from
//! the object's BTF (`layouts.rs`, with the reader in `btf.rs`). The labs'
//! binary runs them (they need root to load programs); the underlay's
//! programs are run on real frames by `tests/labs/underlay.rs`.
//!
//! What they share: the object loaded with no namespace
//! ([`FabricPrograms`]), `from_port` run on one packet at a time with the
//! context a run may be given (the device it arrives on, GSO), and the
//! packets it is given.
#![allow(dead_code)]

pub mod btf;
mod fabric_model;
mod fabric_program;
mod fabric_rewrite;
mod layouts;
mod tunnel;

use aya::programs::TestRunOptions;
use etherparse::PacketBuilder;
use vnetd::host::fabric::{Fabric, FabricPrograms, FastCounters, FastKey, Touched, FABRIC_MAC};

/// `TC_ACT_SHOT`: the packet is dropped.
pub const TC_ACT_SHOT: u32 = 2;
/// `TC_ACT_REDIRECT`: the packet leaves by the device `bpf_redirect` named
/// (which a test run does not report).
pub const TC_ACT_REDIRECT: u32 = 7;

/// The MAC address of the sending `eth0` in the packets made here.
pub const SENDER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

/// Panics, saying why, unless the programs can be loaded and run: as root
/// (CI runs as root), from a build that compiled them. A test that passed
/// without running them would hide a broken fast path.
pub fn require_bpf() {
    let euid = nix::unistd::geteuid();
    assert!(
        euid.is_root(),
        "the fabric program tests need root (euid is {euid}): they load BPF programs and maps \
         and run them on packets (BPF_PROG_RUN); run `cargo test` as root"
    );
    if let Some(reason) = vnetd::host::bpf::unbuilt() {
        panic!("this build has no kernel fast path, so its programs cannot be tested: {reason}");
    }
}

/// The programs loaded afresh, with room for `capacity` flow entries.
pub fn load(capacity: u32) -> FabricPrograms {
    require_bpf();
    Fabric::load_for_test(capacity)
        .unwrap_or_else(|err| panic!("loading the fabric's programs: {err:#}"))
}

/// The loopback device, the one device a test run may arrive on without a
/// namespace of its own: the host end of the port under test.
pub const HOST_END: u32 = 1;
/// The port's TUN device (a number only: a test run redirects nowhere).
pub const TUN: u32 = 1001;

/// The programs with one port ([`HOST_END`], its `eth0` at [`SENDER_MAC`]
/// with MTU 1500), at generation 3.
pub fn one_port() -> FabricPrograms {
    let programs = load(16);
    programs
        .add_port(HOST_END, TUN, SENDER_MAC, 1500)
        .expect("adding the port");
    programs.fabric().advance(3, Touched::All).unwrap();
    programs
}

/// One direction of a flow of `protocol` from `source` to `destination`
/// (IPv4, with `ports`) as it arrives at [`HOST_END`].
pub fn flow_key(protocol: u8, source: [u8; 4], destination: [u8; 4], ports: (u16, u16)) -> FastKey {
    FastKey {
        ingress: HOST_END,
        protocol,
        source: source.into(),
        destination: destination.into(),
        source_port: ports.0,
        destination_port: ports.1,
    }
}

/// Where `struct __sk_buff` holds what a test run's context may set, as
/// the object's BTF says (the kernel's ABI, as the object was compiled
/// against it).
#[derive(Debug, Clone, Copy)]
pub struct SkbLayout {
    size: usize,
    ifindex: usize,
    gso_segs: usize,
    gso_size: usize,
}

impl SkbLayout {
    pub fn of_object() -> SkbLayout {
        let btf = btf::Btf::of_object(vnetd::host::bpf::object()).expect("the object's BTF");
        let id = btf
            .struct_id("__sk_buff")
            .expect("the object's BTF has struct __sk_buff (its programs' context)");
        let at = |name: &str| {
            btf.members(id)
                .iter()
                .find(|m| m.name == name)
                .map(|m| m.bit_offset as usize / 8)
                .unwrap_or_else(|| panic!("struct __sk_buff has no member {name}"))
        };
        SkbLayout {
            size: btf.size_of(id) as usize,
            ifindex: at("ifindex"),
            gso_segs: at("gso_segs"),
            gso_size: at("gso_size"),
        }
    }

    /// The context of a packet arriving on device `ifindex` (1, the
    /// loopback device, or one of the test's own namespace), a GSO
    /// super-packet of `(gso_size, gso_segs)` if given.
    pub fn context(&self, ifindex: u32, gso: Option<(u32, u32)>) -> Vec<u8> {
        let mut ctx = vec![0u8; self.size];
        ctx[self.ifindex..self.ifindex + 4].copy_from_slice(&ifindex.to_ne_bytes());
        if let Some((size, segs)) = gso {
            ctx[self.gso_size..self.gso_size + 4].copy_from_slice(&size.to_ne_bytes());
            ctx[self.gso_segs..self.gso_segs + 4].copy_from_slice(&segs.to_ne_bytes());
        }
        ctx
    }
}

/// What `from_port` did with one packet: its verdict and the packet as it
/// left the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: u32,
    pub packet: Vec<u8>,
}

/// Runs `from_port` on `frame` (an Ethernet frame) arriving as `context`
/// says (none: on the loopback device, ifindex 1, not GSO).
pub fn from_port(programs: &FabricPrograms, frame: &[u8], context: Option<&[u8]>) -> Outcome {
    let mut out = vec![0u8; frame.len() + 512];
    let result = programs
        .run(
            "from_port",
            TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ctx_in: context,
                ..TestRunOptions::default()
            },
        )
        .unwrap_or_else(|err| panic!("{err:#}"));
    out.truncate(result.data_size_out as usize);
    Outcome {
        verdict: result.return_value,
        packet: out,
    }
}

/// Slot `slot`'s counters now.
pub fn slot(programs: &FabricPrograms, slot: u32) -> FastCounters {
    let chunk = programs
        .fabric()
        .counters_chunk(slot / vnetd::host::fabric::SLOTS_PER_CHUNK)
        .expect("reading a counters chunk");
    chunk[(slot % vnetd::host::fabric::SLOTS_PER_CHUNK) as usize]
}

/// A UDP datagram of `payload` bytes from `src` to `dst`, sent by
/// [`SENDER_MAC`] to the fabric.
pub fn udp4(src: [u8; 4], dst: [u8; 4], ports: (u16, u16), payload: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, FABRIC_MAC)
        .ipv4(src, dst, 64)
        .udp(ports.0, ports.1)
        .write(&mut out, &vec![0x5a; payload])
        .expect("building a UDP datagram");
    out
}

/// A TCP segment of `payload` bytes with the flags `flags` sets (on top of
/// ACK), sent by [`SENDER_MAC`] to the fabric.
pub fn tcp4(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    flags: fn(
        etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    ) -> etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    payload: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    let builder = PacketBuilder::ethernet2(SENDER_MAC, FABRIC_MAC)
        .ipv4(src, dst, 64)
        .tcp(ports.0, ports.1, 1000, 65535);
    flags(builder.ack(1))
        .write(&mut out, &vec![0x5a; payload])
        .expect("building a TCP segment");
    out
}

/// The frame `frame` as the fast path sends it on: to the egress `eth0`'s
/// MAC, from the fabric's, the rest untouched.
pub fn forwarded(frame: &[u8], egress_mac: [u8; 6]) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[0..6].copy_from_slice(&egress_mac);
    out[6..12].copy_from_slice(&FABRIC_MAC);
    out
}
