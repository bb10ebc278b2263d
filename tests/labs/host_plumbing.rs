//! Host plumbing on real namespaces and TUN devices (needs root).
//!
//! Every namespace is named `vnetdt-<pid>-<test>` so parallel runs never
//! collide, and is removed by a guard even when an assertion fails.
//! Without root they fail: a skipped test would hide a broken host layer.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::process::Command;
use std::time::{Duration, Instant};

use etherparse::{Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use vnetd::host::{self, netlink, netns, HostLab, NamespaceSpec, TunQueue, VNET_HDR_LEN};

const WAIT: Duration = Duration::from_secs(5);

/// Panics without root: these tests build namespaces and TUN devices, and a
/// test that passes without having run would hide a broken host layer.
fn have_root() -> bool {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the host plumbing tests need root: they build network namespaces and TUN devices"
    );
    true
}

fn unique_name(test: &str) -> String {
    format!("vnetdt-{}-{test}", std::process::id())
}

/// Removes the named namespaces when dropped, whatever happened before.
struct NamespaceGuard(Vec<String>);

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        if let Err(err) = host::cleanup_leftovers(&self.0) {
            eprintln!("cleanup failed: {err:#}");
        }
    }
}

fn spec(name: &str, queues: usize) -> NamespaceSpec {
    let mut spec = NamespaceSpec::new(name);
    spec.addresses = vec![
        "10.99.0.4/24".parse().expect("literal"),
        "fd00:99::4/64".parse().expect("literal"),
    ];
    spec.gateways = spec.first_host_gateways();
    spec.queues = queues;
    spec.nonblocking = true;
    spec
}

fn build_lab(name: &str, queues: usize) -> (NamespaceGuard, HostLab) {
    let guard = NamespaceGuard(vec![name.to_owned()]);
    let lab = HostLab::build(&[spec(name, queues)]).expect("building the lab");
    (guard, lab)
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command.output().expect("running a command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn ip(args: &[&str]) -> String {
    let (ok, text) = run(Command::new("ip").args(args));
    assert!(ok, "ip {args:?} failed: {text}");
    text
}

/// Reads packets from any of `queues` until `select` accepts one (given the
/// IP packet without its virtio-net header), or fails after [`WAIT`].
fn receive<T>(queues: &[TunQueue], mut select: impl FnMut(&[u8]) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    let mut buf = vec![0u8; VNET_HDR_LEN + 65535];
    while Instant::now() < deadline {
        let mut fds: Vec<PollFd> = queues
            .iter()
            .map(|q| PollFd::new(q.as_fd(), PollFlags::POLLIN))
            .collect();
        if let Err(e) = poll(&mut fds, PollTimeout::from(100u16)) {
            assert_eq!(e, nix::errno::Errno::EINTR, "poll: {e}");
        }
        for queue in queues {
            loop {
                match queue.recv(&mut buf) {
                    Ok(n) => {
                        assert!(n > VNET_HDR_LEN, "short read of {n} bytes");
                        if let Some(found) = select(&buf[VNET_HDR_LEN..n]) {
                            return found;
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) => panic!("reading the TUN queue: {err}"),
                }
            }
        }
    }
    panic!("no matching packet on the TUN within {WAIT:?}");
}

/// Writes an IP packet into the TUN behind a zeroed virtio-net header (an
/// ordinary, fully checksummed packet).
fn inject(queue: &TunQueue, ip_packet: &[u8]) {
    let mut frame = vec![0u8; VNET_HDR_LEN];
    frame.extend_from_slice(ip_packet);
    let written = queue.send(&frame).expect("writing to the TUN");
    assert_eq!(written, frame.len());
}

fn addresses(net: &NetSlice<'_>) -> Option<(IpAddr, IpAddr)> {
    match net {
        NetSlice::Ipv4(ip) => Some((
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        )),
        NetSlice::Ipv6(ip) => Some((
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        )),
        _ => None,
    }
}

/// Sends a datagram from `local` inside the namespace to `remote`, reads it
/// from the TUN, answers it through the TUN, and checks the socket gets the
/// answer.
fn udp_round_trip(lab: &HostLab, name: &str, local: IpAddr, remote: SocketAddr) {
    let queues = lab.namespace(name).expect("namespace in lab").queues();
    let request = b"ping from the namespace".to_vec();
    let reply = b"pong from the daemon side".to_vec();
    std::thread::scope(|scope| {
        let inside = scope.spawn(|| {
            netns::run_in(name, || {
                let socket = UdpSocket::bind(SocketAddr::new(local, 0))?;
                socket.set_read_timeout(Some(WAIT))?;
                socket.send_to(&request, remote)?;
                let mut buf = [0u8; 2048];
                let (n, from) = socket.recv_from(&mut buf)?;
                Ok((buf[..n].to_vec(), from))
            })
        });

        let local_port = receive(queues, |packet| {
            let sliced = SlicedPacket::from_ip(packet).ok()?;
            let (source, destination) = addresses(sliced.net.as_ref()?)?;
            let Some(TransportSlice::Udp(udp)) = sliced.transport else {
                return None;
            };
            if destination != remote.ip() || udp.destination_port() != remote.port() {
                return None;
            }
            assert_eq!(source, local);
            assert_eq!(udp.payload(), request.as_slice());
            Some(udp.source_port())
        });

        let builder = match (remote.ip(), local) {
            (IpAddr::V4(from), IpAddr::V4(to)) => {
                PacketBuilder::ipv4(from.octets(), to.octets(), 64)
            }
            (IpAddr::V6(from), IpAddr::V6(to)) => {
                PacketBuilder::ipv6(from.octets(), to.octets(), 64)
            }
            _ => panic!("mixed address families"),
        };
        let builder = builder.udp(remote.port(), local_port);
        let mut packet = Vec::with_capacity(builder.size(reply.len()));
        builder
            .write(&mut packet, &reply)
            .expect("building the reply");
        inject(&queues[0], &packet);

        let (received, from) = inside
            .join()
            .expect("namespace thread")
            .expect("UDP exchange inside the namespace");
        assert_eq!(received, reply);
        assert_eq!(from, remote);
    });
}

#[test]
fn udp_over_ipv4_and_ipv6_crosses_the_tun_both_ways() {
    if !have_root() {
        return;
    }
    let name = unique_name("udp");
    let (_guard, lab) = build_lab(&name, 2);
    udp_round_trip(
        &lab,
        &name,
        IpAddr::V4(Ipv4Addr::new(10, 99, 0, 4)),
        "10.99.0.1:9999".parse().expect("literal"),
    );
    udp_round_trip(
        &lab,
        &name,
        IpAddr::V6("fd00:99::4".parse::<Ipv6Addr>().expect("literal")),
        "[fd00:99::1]:9999".parse().expect("literal"),
    );
    lab.teardown().expect("teardown");
}

#[test]
fn real_ping_is_answered_from_the_tun() {
    if !have_root() {
        return;
    }
    let name = unique_name("ping");
    let (_guard, lab) = build_lab(&name, 1);
    let queues = lab.namespace(&name).expect("namespace in lab").queues();
    let ping = Command::new("ip")
        .args(["netns", "exec", &name, "ping", "-c1", "-W2", "10.99.0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting ping (install iputils-ping and iproute2)");

    let reply = receive(queues, |packet| {
        let sliced = SlicedPacket::from_ip(packet).ok()?;
        let (source, destination) = addresses(sliced.net.as_ref()?)?;
        let Some(TransportSlice::Icmpv4(icmp)) = sliced.transport else {
            return None;
        };
        let Icmpv4Type::EchoRequest(echo) = icmp.icmp_type() else {
            return None;
        };
        assert_eq!(source, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 4)));
        assert_eq!(destination, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)));
        let builder = PacketBuilder::ipv4([10, 99, 0, 1], [10, 99, 0, 4], 64)
            .icmpv4_echo_reply(echo.id, echo.seq);
        let mut reply = Vec::with_capacity(builder.size(icmp.payload().len()));
        builder
            .write(&mut reply, icmp.payload())
            .expect("building the echo reply");
        Some(reply)
    });
    inject(&queues[0], &reply);

    let output = ping.wait_with_output().expect("waiting for ping");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ping failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("1 received"),
        "unexpected ping output: {text}"
    );
    lab.teardown().expect("teardown");
}

#[test]
fn lab_builds_the_namespace_and_teardown_removes_it() {
    if !have_root() {
        return;
    }
    let name = unique_name("lifecycle");
    let (_guard, mut lab) = build_lab(&name, 4);
    let plumbed = lab.namespace(&name).expect("namespace in lab");
    let created = (
        plumbed.tun().created_index(),
        plumbed.tun().created_name().to_owned(),
    );
    let offloads = plumbed.offloads();
    eprintln!("offloads accepted: {offloads:?}");
    assert!(offloads.csum && offloads.tso4 && offloads.tso6);

    // iproute2 sees the namespace and what is inside it.
    assert!(ip(&["netns", "list"])
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name.as_str())));
    assert!(netns::exists(&name));
    assert!(netns::list().expect("list").contains(&name));
    let mut links = netlink::link_names(&name).expect("links");
    links.sort();
    assert_eq!(links, ["eth0", "lo"]);
    let eth0 = ip(&["-n", &name, "-o", "link", "show", "eth0"]);
    assert!(eth0.contains("mtu 1500"), "{eth0}");
    assert!(eth0.contains(",UP") || eth0.contains("<UP"), "{eth0}");
    let lo = ip(&["-n", &name, "-o", "link", "show", "lo"]);
    assert!(lo.contains("UP"), "{lo}");
    let addrs = ip(&["-n", &name, "-o", "addr", "show", "dev", "eth0"]);
    assert!(addrs.contains("inet 10.99.0.4/24"), "{addrs}");
    assert!(addrs.contains("inet6 fd00:99::4/64"), "{addrs}");
    assert!(!addrs.contains("tentative"), "{addrs}");
    let v4_routes = ip(&["-n", &name, "route", "show", "default"]);
    assert!(
        v4_routes.contains("default via 10.99.0.1 dev eth0"),
        "{v4_routes}"
    );
    assert!(v4_routes.contains("onlink"), "{v4_routes}");
    let v6_routes = ip(&["-n", &name, "-6", "route", "show", "default"]);
    assert!(
        v6_routes.contains("default via fd00:99::1 dev eth0"),
        "{v6_routes}"
    );

    // Four queues, four fds, non-blocking as asked.
    let queues = lab.take_queues(&name).expect("queues");
    assert_eq!(queues.len(), 4);
    let mut fds: Vec<_> = queues.iter().map(|q| q.as_raw_fd()).collect();
    fds.dedup();
    assert_eq!(fds.len(), 4);
    let mut buf = vec![0u8; VNET_HDR_LEN + 65535];
    // Drain whatever the kernel sent on link up (e.g. MLD reports), then
    // an empty non-blocking queue must say WouldBlock.
    for queue in &queues {
        let err = loop {
            match queue.recv(&mut buf) {
                Ok(_) => continue,
                Err(err) => break err,
            }
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
    }

    // Unmounted at once, kept alive until the answer goes.
    let unmounted = lab.teardown().expect("teardown");
    assert_eq!(unmounted.len(), 1);
    assert!(!netns::exists(&name));
    drop(queues);
    drop(unmounted);
    assert!(!netns::exists(&name));
    assert!(!ip(&["netns", "list"]).contains(&name));
    let (ok, _) = run(Command::new("ip").args(["-n", &name, "link"]));
    assert!(!ok, "the namespace is still reachable");
    let still_there = format!("{}: {}:", created.0, created.1);
    assert!(!ip(&["-o", "link"]).contains(&still_there));
}

#[test]
fn an_existing_namespace_is_never_taken_over() {
    if !have_root() {
        return;
    }
    let name = unique_name("exists");
    let _guard = NamespaceGuard(vec![name.clone()]);
    netns::create(&name).expect("creating the namespace");
    let again = netns::create(&name).expect_err("a second create must fail");
    assert!(format!("{again:#}").contains("already exists"), "{again:#}");

    let err = HostLab::build(&[spec(&name, 1)]).expect_err("building over an existing namespace");
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
    // The failed build left the existing namespace alone, still empty.
    assert!(netns::exists(&name));
    assert_eq!(netlink::link_names(&name).expect("links"), ["lo"]);

    netns::delete(&name).expect("delete");
    assert!(!netns::exists(&name));
    assert!(netns::delete(&name).is_err());
}

#[test]
fn cleanup_leftovers_removes_what_a_crashed_run_left() {
    if !have_root() {
        return;
    }
    let names = [unique_name("crash-a"), unique_name("crash-b")];
    let _guard = NamespaceGuard(names.to_vec());
    let specs: Vec<_> = names.iter().map(|n| spec(n, 1)).collect();
    let lab = HostLab::build(&specs).expect("building the lab");
    // A crash: nothing of the lab's cleanup runs.
    std::mem::forget(lab);
    assert!(names.iter().all(|n| netns::exists(n)));

    // A namespace of a listed name that was not created here survives.
    let foreign = unique_name("crash-f");
    let _foreign_guard = ForeignGuard(foreign.clone());
    assert!(Command::new("ip")
        .args(["netns", "add", &foreign])
        .status()
        .unwrap()
        .success());
    let mut all = names.to_vec();
    all.push(foreign.clone());
    let mut done = host::cleanup_leftovers(&all).expect("cleanup");
    done.removed.sort();
    assert_eq!(done.removed, names);
    assert_eq!(done.foreign, std::slice::from_ref(&foreign));
    assert!(netns::exists(&foreign));
    assert_eq!(netns::owner(&foreign), netns::Owner::Foreign);
    assert!(names.iter().all(|n| !netns::exists(n)));
    let listed = ip(&["netns", "list"]);
    assert!(
        names.iter().all(|n| !listed.contains(n.as_str())),
        "{listed}"
    );
    assert_eq!(
        host::cleanup_leftovers(&names).expect("second cleanup"),
        host::Leftovers::default()
    );
}

/// Removes, with `ip`, a namespace a test made with `ip`.
struct ForeignGuard(String);

impl Drop for ForeignGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

#[test]
fn run_in_never_moves_the_calling_thread() {
    if !have_root() {
        return;
    }
    let name = unique_name("runin");
    let _guard = NamespaceGuard(vec![name.clone()]);
    netns::create(&name).expect("creating the namespace");
    let own = || std::fs::read_link("/proc/thread-self/ns/net").expect("own namespace");
    let before = own();
    let inside = netns::run_in(&name, || Ok(own())).expect("run_in");
    assert_ne!(inside, before);
    assert_eq!(own(), before);
    let err = netns::run_in(&name, || -> anyhow::Result<()> { panic!("boom") })
        .expect_err("a panic is an error");
    assert!(format!("{err:#}").contains("panicked"));
    netns::delete(&name).expect("delete");
}

#[test]
fn bad_specs_are_refused_before_anything_is_created() {
    if !have_root() {
        return;
    }
    let name = unique_name("badspec");
    let _guard = NamespaceGuard(vec![name.clone()]);
    let twice = HostLab::build(&[spec(&name, 1), spec(&name, 1)]).expect_err("duplicate");
    assert!(format!("{twice:#}").contains("listed twice"));
    assert!(!netns::exists(&name));

    let mut no_v6 = spec(&name, 1);
    no_v6.addresses.retain(|a| a.addr().is_ipv4());
    let err = HostLab::build(&[no_v6]).expect_err("IPv6 gateway without an IPv6 address");
    assert!(
        format!("{err:#}").contains("no address of its family"),
        "{err:#}"
    );
    // The namespace created before the bad config was found is gone again.
    assert!(!netns::exists(&name));
}

/// The value of `/proc/sys/net/<setting>` as namespace `name` sees it.
fn sysctl_in(name: &str, setting: &str) -> String {
    let file = format!("/proc/sys/net/{setting}");
    let (ok, text) = run(Command::new("ip").args(["netns", "exec", name, "cat", &file]));
    assert!(ok, "reading {file} in {name}: {text}");
    text.trim().to_owned()
}

#[test]
fn a_nic_is_set_up_to_forward_or_not_and_never_to_redirect() {
    if !have_root() {
        return;
    }
    let vm = unique_name("vm");
    let nva = unique_name("nva");
    let _guard = NamespaceGuard(vec![vm.clone(), nva.clone()]);
    let ipv4_only = |name: &str, forwarding: bool| {
        let mut spec = spec(name, 1);
        spec.addresses.retain(|a| a.addr().is_ipv4());
        spec.gateways = spec.first_host_gateways();
        spec.forwarding = forwarding;
        spec
    };
    let _lab = HostLab::build(&[ipv4_only(&vm, false), ipv4_only(&nva, true)]).expect("lab");

    // A VM's eth0 (set through netlink alone): it forwards nothing,
    // neither sends nor takes redirects, and has no IPv6 address at all,
    // not even a link-local one, so it sends no IPv6 packet unasked.
    for setting in ["forwarding", "send_redirects", "accept_redirects"] {
        assert_eq!(sysctl_in(&vm, &format!("ipv4/conf/eth0/{setting}")), "0");
    }
    let v6 = ip(&["-n", &vm, "-6", "-o", "addr", "show", "dev", "eth0"]);
    assert_eq!(v6.trim(), "", "{v6}");
    let v4 = ip(&["-n", &vm, "-o", "addr", "show", "dev", "eth0"]);
    assert!(v4.contains("inet 10.99.0.4/24"), "{v4}");

    // An NVA's namespace forwards and never redirects, on eth0 and for
    // the whole namespace.
    assert_eq!(sysctl_in(&nva, "ipv4/ip_forward"), "1");
    assert_eq!(sysctl_in(&nva, "ipv4/conf/eth0/forwarding"), "1");
    for scope in ["all", "eth0"] {
        assert_eq!(
            sysctl_in(&nva, &format!("ipv4/conf/{scope}/send_redirects")),
            "0"
        );
    }
}
