//! The names a running lab gives its namespaces, as the commands tell
//! them: `vnetd netns` and `scripts/vm` ask the running lab, whose file may
//! name a NIC's namespace otherwise than the built-in lab, and read a file
//! only when no lab runs; two labs of one file run side by side, each
//! behind its own `netns_prefix`. Needs root (see `common::require_root`).

use crate::common;

use common::Lab;
use std::path::Path;
use std::process::{Command, Output};

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// `vnetd netns ARGS` against the lab listening at `socket`.
fn netns(socket: &Path, args: &[&str]) -> Output {
    common::vnetd_command(socket)
        .arg("netns")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn netns_and_scripts_vm_name_the_running_labs_namespace() {
    // vm1 lives in `e2ns-vm1` here, in `vm1` in the built-in lab.
    let mut lab = Lab::start("e2ns", HUB_SPOKE);
    let socket = lab.serve_control();

    let out = netns(&socket, &["--nic", "vm1"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "e2ns-vm1\n");
    assert_eq!(text(&out.stderr), "");

    // A file that puts vm1 elsewhere does not win over the running lab;
    // the difference is noted.
    let builtin = concat!(env!("CARGO_MANIFEST_DIR"), "/config/hub-spoke.yaml");
    let out = netns(&socket, &["--nic", "vm1", "--config", builtin]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "e2ns-vm1\n");
    assert!(
        text(&out.stderr).contains("puts vm1 in namespace vm1; the running lab"),
        "{out:?}"
    );

    let out = netns(&socket, &["--nic", "vm9"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("no NIC named `vm9` in the running lab"),
        "{out:?}"
    );

    // scripts/vm runs its command in that namespace.
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/vm"))
        .env("VNETD", env!("CARGO_BIN_EXE_vnetd"))
        .env("VNETD_SOCKET", &socket)
        .args(["vm1", "ip", "netns", "identify"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "e2ns-vm1\n");
}

#[test]
fn netns_without_a_running_lab_reads_the_file_and_says_so() {
    let socket = std::env::temp_dir().join(format!("vnetd-e2nsnone-{}.sock", std::process::id()));
    let out = netns(&socket, &["--nic", "vm1"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "vm1\n");
    assert!(
        text(&out.stderr).contains("no lab is running") && text(&out.stderr).contains("built-in"),
        "{out:?}"
    );
}

/// Two labs of one file, side by side: the same VNets and NICs, each lab's
/// namespaces behind its own `netns_prefix`, the health probers' too.
#[test]
fn two_labs_of_one_file_run_side_by_side_behind_their_prefixes() {
    let file = include_str!("../../config/ha-nva.yaml");
    let lab_of =
        |prefix: &str| Lab::start_exact(prefix, &format!("netns_prefix: {prefix}-\n{file}"));
    let a = lab_of("e2pfa");
    let b = lab_of("e2pfb");
    for lab in [&a, &b] {
        assert!(
            common::ping(&lab.ns("vm1"), "10.0.1.4"),
            "{}",
            lab.ns("vm1")
        );
        assert!(
            common::namespaces_with(&lab.ns("probe")).contains(&lab.ns("probe-hub")),
            "{:?}",
            common::namespaces_with(&lab.ns("probe"))
        );
    }
    // Every namespace of a lab is behind its prefix: six NICs, the
    // prober, each of the three VNets' Azure DNS, and the fabric (unless
    // the run keeps packets in userspace).
    for (lab, prefix) in [(&a, "e2pfa"), (&b, "e2pfb")] {
        let names = common::namespaces_with(prefix);
        assert_eq!(names.len(), common::with_fabric(7 + 3), "{names:?}");
        if common::with_fabric(0) == 1 {
            assert!(names.contains(&lab.ns("nva1.fabric")), "{names:?}");
        }
    }
    // Each lab probes its own NVAs from its own prober: something listens
    // on nva1's port 22 in lab a only.
    let at: std::net::SocketAddr = "10.0.1.4:22".parse().unwrap();
    let _listener =
        vnetd::host::netns::run_in(&a.ns("nva1"), move || Ok(std::net::TcpListener::bind(at)?))
            .unwrap();
    let nva1 = |lab: &Lab| {
        lab.daemon()
            .lb_backends()
            .into_iter()
            .find(|(t, _)| t.nic == "nva1")
            .map(|(_, s)| (s.consecutive_successes, s.consecutive_failures))
            .unwrap()
    };
    let settled = common::wait_for(std::time::Duration::from_secs(20), || {
        nva1(&a).0 >= 1 && nva1(&b).1 >= 1
    });
    assert!(
        settled,
        "lab a's nva1 {:?}, lab b's {:?}",
        nva1(&a),
        nva1(&b)
    );
}
