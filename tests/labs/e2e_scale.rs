//! A lab of thousands of NICs with the kernel fast path on: it comes up,
//! forwards, and goes away again. Needs root (see `common::require_root`).
//!
//! The lab is 4,096 NICs, more than the fabric's `ports` map once held
//! (4,096 entries, two per NIC), so it also shows the map is sized from
//! vnetd's limit. SLOW: in a debug build on two cores, about 27 s with
//! offload and 18 s without, up to 50 s on a busy machine (most of it the
//! kernel building 4,096 namespaces).

use crate::common;

use common::{ping, Lab};
use vnetd::daemon::options::offload_off_by_environment;

/// One VNet, 250 NICs per /24 subnet, NIC `nI` in namespace `PREFIX-nI`.
fn lab_of(prefix: &str, nics: usize) -> String {
    let mut text = String::from(
        "vnets:\n  - name: scale\n    address_space: [10.0.0.0/16]\n    location: westeurope\n    subnets:\n",
    );
    for s in 0..nics.div_ceil(250) {
        text += &format!("      - {{name: s{s}, address_prefixes: [10.0.{s}.0/24]}}\n");
    }
    text += "network_interfaces:\n";
    for i in 0..nics {
        let (s, h) = (i / 250, i % 250 + 4);
        text += &format!(
            "  - {{name: n{i}, subnet: scale/s{s}, private_ip_address: 10.0.{s}.{h}, netns: {prefix}-n{i}}}\n"
        );
    }
    text
}

#[test]
fn a_lab_of_4096_nics_comes_up_on_the_fabric_and_its_first_and_last_nic_ping() {
    const NICS: usize = 4096;
    // Dropped on any panic: the lab's namespaces and its fabric go.
    let lab = Lab::start_exact("e2sc", &lab_of("e2sc", NICS));
    assert_eq!(
        lab.daemon().offload().is_some(),
        !offload_off_by_environment(),
        "the lab's offload does not match VNETD_NO_OFFLOAD"
    );
    let last = format!("10.0.{}.{}", (NICS - 1) / 250, (NICS - 1) % 250 + 4);
    assert!(ping(&lab.ns("n0"), &last), "n0 -> {last}");
    assert!(ping(&lab.ns(&format!("n{}", NICS - 1)), "10.0.0.4"));
    let stats = lab.stats("n0");
    assert!(stats.packets_sent >= 3, "{stats:?}");
}
