//! The topology decoder and validator: any file `vnetd` is pointed at goes
//! through `parse_str`, which must never panic; a topology it accepts must
//! compile into a snapshot without panicking.
//!
//! Every diagnostic of text that was read must name a real line (>= 1):
//! line 0 is kept for files that could not be read at all.
//!
//! On an accepted topology, a UDP packet from each NIC address to each NIC
//! address (a few of each) goes through `decide`, so that routes, peerings
//! and NSGs of arbitrary shapes are looked up too; verdicts must name
//! valid NICs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use vnetd::dataplane::{decide, Stateless, Verdict};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, Diagnostic};

/// At most this many NICs, and addresses of each, are tried as senders
/// and as destinations.
const SAMPLE: usize = 6;

/// A UDP packet with 4 bytes of payload; checksums are left at zero (the
/// fabric reads headers only).
fn udp(src: IpAddr, dst: IpAddr) -> Option<Vec<u8>> {
    let transport = [0x9c, 0x40, 0x00, 0x35, 0x00, 0x0c, 0, 0, 1, 2, 3, 4];
    let mut p = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h
        }
        _ => return None,
    };
    p.extend_from_slice(&transport);
    Some(p)
}

fn check_lines(diags: &[Diagnostic]) {
    for d in diags {
        assert!(d.line >= 1, "diagnostic without a line: {d}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_str("fuzz.yaml", &text) {
        Ok(loaded) => {
            check_lines(&loaded.warnings);
            let snap = Snapshot::compile(loaded.topology, 1);
            let nics = &snap.topology.nics;
            assert_eq!(snap.nics.len(), nics.len());
            let addresses: Vec<IpAddr> = nics
                .iter()
                .take(SAMPLE)
                .flat_map(|n| n.ip_configurations.iter().take(SAMPLE).map(|c| c.address))
                .collect();
            for (ingress, nic) in nics.iter().enumerate().take(SAMPLE) {
                for src in nic.ip_configurations.iter().take(SAMPLE).map(|c| c.address) {
                    for &dst in &addresses {
                        let Some(packet) = udp(src, dst) else {
                            continue;
                        };
                        match decide(&snap, &Stateless, ingress, &packet, 0) {
                            Verdict::Deliver(to) => assert!(to < nics.len()),
                            Verdict::Drop { at, .. } => assert!(at < nics.len()),
                        }
                    }
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            check_lines(&errors);
        }
    }
});
