//! The fabric's kernel program per packet: `from_port` run by the kernel
//! on one packet many times over (`BPF_PROG_RUN` with a repeat count),
//! through the maps the daemon fills, timed by the kernel itself. It
//! measures the program alone (the lookups, the counting, the headers it
//! reads), not the devices around it: `scripts/bench-throughput.sh` does.
//!
//! Needs root (it loads BPF programs) and a build that compiled them; it
//! says so and measures nothing otherwise.

use aya::programs::TestRunOptions;
use criterion::{criterion_group, criterion_main, Criterion};
use etherparse::PacketBuilder;
use std::time::Duration;
use vnetd::host::fabric::{
    Fabric, FabricPrograms, FastEntry, FastKey, FastRewrite, Touched, FABRIC_MAC,
};

/// The loopback device: the one device a test run arrives on, the port's
/// host end, and the egress of its flow's entry (a device that exists).
const HOST_END: u32 = 1;
const SENDER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const EGRESS_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

fn datagram(payload: usize, source_port: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, FABRIC_MAC)
        .ipv4([10, 0, 1, 4], [10, 0, 2, 4], 64)
        .udp(source_port, 5201)
        .write(&mut out, &vec![0x5a; payload])
        .expect("a datagram");
    out
}

fn datagram6(payload: usize, source_port: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, FABRIC_MAC)
        .ipv6(PRIVATE6, INTERNET6, 64)
        .udp(source_port, 5201)
        .write(&mut out, &vec![0x5a; payload])
        .expect("a datagram");
    out
}

const PRIVATE6: [u8; 16] = [0xfd, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4];
const PUBLIC6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];
const INTERNET6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Entries that translate `private`'s source to `public`'s and back: a
/// run repeats on the packet as the last one left it, so the translated
/// source has an entry that translates it back.
fn install_translated(
    programs: &FabricPrograms,
    entry: FastEntry,
    private: FastKey,
    public: FastKey,
) {
    for (from, to) in [(private, public), (public, private)] {
        let rewrite = FastRewrite::Source {
            address: to.source,
            port: to.source_port,
        };
        let translated = FastEntry {
            rewrite: Some(rewrite),
            slot: 8,
            ..entry
        };
        programs
            .fabric()
            .install(&from, translated)
            .expect("an entry");
    }
}

/// The programs with one port and entries for the datagrams from port
/// 40000 and, translated, from port 40002 (IPv4 and IPv6), at the current
/// generation.
fn programs() -> Option<FabricPrograms> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("benches/fabric: needs root (it loads BPF programs); nothing measured");
        return None;
    }
    if let Some(reason) = vnetd::host::bpf::unbuilt() {
        eprintln!("benches/fabric: no kernel fast path in this build ({reason}); nothing measured");
        return None;
    }
    let programs = Fabric::load_for_test(1024).expect("loading the fabric's programs");
    let port = programs
        .add_port(HOST_END, 1001, SENDER_MAC, 1500)
        .expect("a port");
    programs.fabric().advance(3, Touched::All).unwrap();
    let key = FastKey {
        ingress: HOST_END,
        protocol: 17,
        source: [10, 0, 1, 4].into(),
        destination: [10, 0, 2, 4].into(),
        source_port: 40000,
        destination_port: 5201,
    };
    let entry = FastEntry {
        egress: HOST_END,
        egress_port: port,
        mac: EGRESS_MAC,
        generation: 3,
        slot: 7,
        rewrite: None,
        path_mtu: None,
    };
    programs.fabric().install(&key, entry).expect("an entry");
    // The datagrams from port 40002 are translated, their source to
    // 198.51.100.10 (IPv4, the port kept) or to 2001:db8:100::10 port 1025
    // (IPv6).
    let private = FastKey {
        source_port: 40002,
        ..key
    };
    let public = FastKey {
        source: [198, 51, 100, 10].into(),
        ..private
    };
    install_translated(&programs, entry, private, public);
    let private6 = FastKey {
        source: PRIVATE6.into(),
        destination: INTERNET6.into(),
        ..private
    };
    let public6 = FastKey {
        source: PUBLIC6.into(),
        source_port: 1025,
        ..private6
    };
    install_translated(&programs, entry, private6, public6);
    Some(programs)
}

/// The kernel's time for `runs` runs of `from_port` on `frame`.
fn run(programs: &FabricPrograms, frame: &[u8], runs: u64) -> Duration {
    let mut out = vec![0u8; frame.len() + 512];
    let mut left = runs;
    let mut total = Duration::ZERO;
    while left > 0 {
        let repeat = left.min(u64::from(u32::MAX)) as u32;
        let result = programs
            .run(
                "from_port",
                TestRunOptions {
                    data_in: Some(frame),
                    data_out: Some(&mut out),
                    repeat,
                    ..TestRunOptions::default()
                },
            )
            .expect("BPF_PROG_RUN");
        // The kernel gives the average time of one run.
        total += result.duration * repeat;
        left -= u64::from(repeat);
    }
    total
}

fn from_port(c: &mut Criterion) {
    let Some(programs) = programs() else { return };
    let mut group = c.benchmark_group("from_port");
    for (name, frame) in [
        ("fast path, 1400-byte datagram", datagram(1372, 40000)),
        ("fast path, 64-byte datagram", datagram(18, 40000)),
        (
            "fast path, translated 1400-byte datagram",
            datagram(1372, 40002),
        ),
        (
            "fast path, translated 1400-byte IPv6 datagram",
            datagram6(1352, 40002),
        ),
        ("slow path, no entry", datagram(1372, 40001)),
    ] {
        group.bench_function(name, |b| b.iter_custom(|n| run(&programs, &frame, n)));
    }
    group.finish();
}

criterion_group!(benches, from_port);
criterion_main!(benches);
