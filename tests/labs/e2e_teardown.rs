//! A test that fails or panics inside a lab still takes the lab down: the
//! daemon, its namespaces and its routing daemons. Each test here panics
//! on purpose inside a lab and then checks that nothing is left. Needs
//! root (see `common::require_root`).

use crate::common;

use common::{namespaces_with, spawn_lab, vnetd_command, Lab};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// The built-in lab's namespaces: its four VMs' and its three VNets'
/// Azure DNS.
const HUB_SPOKE_NAMESPACES: usize = 4 + 3;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// Runs `body`, which must panic, and returns what it recorded before.
fn panicking<T: Default>(body: impl FnOnce(&mut T)) -> T {
    let mut seen = T::default();
    let result = catch_unwind(AssertUnwindSafe(|| {
        body(&mut seen);
        panic!("a test failing inside its lab, on purpose");
    }));
    assert!(result.is_err(), "the body was meant to panic");
    seen
}

/// Whether a process with this pid exists (a zombie counts: it was not
/// reaped).
fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn write_config(prefix: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("vnetd-{prefix}-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_panic_inside_an_in_process_lab_removes_it() {
    let prefix = "tdin";
    let namespaces: usize = panicking(|seen| {
        let lab = Lab::start(prefix, HUB_SPOKE);
        assert!(common::ping(&lab.ns("vm1"), "10.0.2.4"));
        *seen = namespaces_with(prefix).len();
    });
    assert_eq!(
        namespaces,
        common::with_fabric(HUB_SPOKE_NAMESPACES),
        "the lab was up"
    );
    assert_eq!(namespaces_with(prefix), Vec::<String>::new());
}

#[test]
fn a_panic_beside_a_vnetd_run_child_stops_it_and_removes_its_lab() {
    common::require_root();
    let prefix = "tdrun";
    let config = write_config(prefix, &common::with_netns_prefix(HUB_SPOKE, prefix));
    let socket = std::env::temp_dir().join(format!("vnetd-{prefix}-{}.sock", std::process::id()));
    let pid: u32 = panicking(|seen| {
        let mut run = vnetd_command(&socket);
        run.arg("run").arg(&config);
        let (child, _) = spawn_lab(run, "");
        *seen = child.id();
        assert_eq!(
            namespaces_with(prefix).len(),
            common::with_fabric(HUB_SPOKE_NAMESPACES)
        );
    });
    assert!(pid > 0);
    assert!(!process_exists(pid), "vnetd run {pid} is still there");
    assert_eq!(namespaces_with(prefix), Vec::<String>::new());
    let _ = std::fs::remove_file(config);
}

#[test]
fn a_panic_beside_a_stuck_hybrid_lab_kills_it_and_removes_its_routing_daemons() {
    common::require_root();
    let prefix = "tdbgp";
    let config = write_config(prefix, &common::hybrid::hybrid_lab(prefix, "bird", false));
    let socket = std::env::temp_dir().join(format!("vnetd-{prefix}-{}.sock", std::process::id()));
    let (pid, daemons) = panicking(|seen: &mut (u32, usize)| {
        let mut run = vnetd_command(&socket);
        run.arg("run").arg(&config);
        let (child, _) = spawn_lab(run, "");
        seen.0 = child.id();
        seen.1 = common::processes_mentioning(&format!("vnetd-bgp/{prefix}-")).len();
        // A daemon that no longer answers SIGTERM: the guard must kill it
        // and remove what it leaves with `vnetd down`.
        common::signal(&child, libc::SIGSTOP);
    });
    assert!(daemons >= 2, "gobgpd and BIRD were running ({daemons})");
    assert!(!process_exists(pid), "vnetd run {pid} is still there");
    assert_eq!(
        common::processes_mentioning(&format!("vnetd-bgp/{prefix}-")),
        Vec::<String>::new(),
        "routing daemons left behind"
    );
    assert_eq!(namespaces_with(prefix), Vec::<String>::new());
    let run_dirs: Vec<String> = std::fs::read_dir("/run/vnetd-bgp")
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&format!("{prefix}-")))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(run_dirs, Vec::<String>::new(), "run directories left");
    let _ = std::fs::remove_file(config);
}

#[test]
fn a_udp_server_binds_again_while_a_copy_of_the_last_socket_lingers() {
    // What a process spawned at the wrong instant does: it holds a copy
    // of the socket (here a dup) after the test dropped its own.
    let first = common::udp_bind_again("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = first.local_addr().unwrap();
    let copy = nix::unistd::dup(&first).unwrap();
    drop(first);
    assert_eq!(
        std::net::UdpSocket::bind(address).unwrap_err().kind(),
        std::io::ErrorKind::AddrInUse,
        "the copy holds the port"
    );
    let again = common::udp_bind_again(address).expect("bound beside the copy");
    assert_eq!(again.local_addr().unwrap(), address);
    drop(copy);
}
