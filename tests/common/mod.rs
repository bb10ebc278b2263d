//! Shared helpers of the end-to-end tests: a lab that builds and removes
//! itself, and real traffic from inside namespaces.
#![allow(dead_code)]

pub mod bgp_agreement;
pub mod broken_files;
pub mod browser;
pub mod check_agreement;
pub mod edge;
pub mod golden_cases;
pub mod hosts;
pub mod hybrid;
pub mod import;
pub mod names_agreement;
pub mod packets;
pub mod placement;
pub mod servers;
pub mod traffic;
pub mod virtual_wan;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};
use vnetd::daemon::forwarding::stats::NicStats;
use vnetd::daemon::{Daemon, RunOptions};
use vnetd::host::netns;

/// Panics with the reason unless the tests may build namespaces, which is
/// only as root, so an end-to-end test never passes without having run (CI
/// runs as root; `.ci/run` checks it first).
pub fn require_root() {
    if let Err(reason) = lab_privileges(nix::unistd::geteuid().as_raw()) {
        panic!("{reason}");
    }
}

/// Whether a process with effective uid `euid` may build labs, and if not,
/// the message an end-to-end test fails with.
pub fn lab_privileges(euid: u32) -> Result<(), String> {
    if euid == 0 {
        Ok(())
    } else {
        Err(format!(
            "end-to-end tests need root (euid is {euid}): they build network namespaces and \
             TUN devices; run `cargo test` as root"
        ))
    }
}

/// Gives every namespace of the lab of `text` a name of the test's own,
/// so that tests running side by side never clash: the lab's
/// `netns_prefix` is `<prefix>-` (unless the file sets one), which goes
/// before every name vnetd gives (a NIC's, a gateway instance's, a
/// prober's, the fabric's), and each namespace the file names itself
/// (`netns: NAME`, a site's router or host, a NIC's own) becomes
/// `<prefix>-NAME`. [`Lab::ns`] names them alike.
pub fn with_netns_prefix(text: &str, prefix: &str) -> String {
    let mut out = String::new();
    if !text.lines().any(|l| l.starts_with("netns_prefix:")) {
        out.push_str(&format!("netns_prefix: {prefix}-\n"));
    }
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("netns: ") {
            let (before, after) = rest.split_at(at + "netns: ".len());
            out.push_str(before);
            if !after.starts_with(&format!("{prefix}-")) {
                out.push_str(&format!("{prefix}-"));
            }
            rest = after;
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// A running lab, in this process; removed when dropped, also when the
/// test panics (the unwinding drops it).
pub struct Lab {
    prefix: String,
    /// The control socket, when [`Lab::serve_control`] opened one; closed
    /// before the lab is removed.
    control: Option<(vnetd::daemon::control::ControlServer, std::path::PathBuf)>,
    daemon: Option<std::sync::Arc<Daemon>>,
}

impl Lab {
    /// Starts `text` with namespaces prefixed by `prefix` (panics without
    /// root, see [`require_root`]).
    pub fn start(prefix: &str, text: &str) -> Lab {
        Lab::start_exact(prefix, &with_netns_prefix(text, prefix))
    }

    /// Starts `text` as it is; its namespaces must be named
    /// `<prefix>-<nic>` already.
    pub fn start_exact(prefix: &str, text: &str) -> Lab {
        Lab::start_with(prefix, text, RunOptions::default())
    }

    /// Starts `text` as it is (see [`Lab::start_exact`]) with `options`,
    /// on two workers.
    pub fn start_with(prefix: &str, text: &str, options: RunOptions) -> Lab {
        require_root();
        let loaded = vnetd::topology::parse_str(prefix, text).unwrap_or_else(|e| panic!("{e:?}"));
        let daemon = Daemon::start(
            loaded.topology,
            &RunOptions {
                workers: 2,
                ..options
            },
        )
        .unwrap_or_else(|e| panic!("starting lab {prefix}: {e:#}"));
        Lab {
            prefix: prefix.to_string(),
            control: None,
            daemon: Some(std::sync::Arc::new(daemon)),
        }
    }

    /// Serves the lab's control socket, as `vnetd run` does, at a path of
    /// its own (returned), so the binary's online commands reach this lab
    /// and no other. Served once: a second call returns the same path.
    pub fn serve_control(&mut self) -> std::path::PathBuf {
        if let Some((_, path)) = &self.control {
            return path.clone();
        }
        let path =
            std::env::temp_dir().join(format!("vnetd-{}-{}.sock", self.prefix, std::process::id()));
        let daemon = self.daemon.clone().unwrap();
        let server = vnetd::daemon::control::ControlServer::start(&path, daemon)
            .unwrap_or_else(|e| panic!("control socket {}: {e:#}", path.display()));
        self.control = Some((server, path.clone()));
        path
    }

    /// The namespace of a NIC.
    pub fn ns(&self, nic: &str) -> String {
        format!("{}-{nic}", self.prefix)
    }

    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_deref().unwrap()
    }

    /// The daemon, to hand to a server of its own (metrics, say).
    pub fn shared(&self) -> std::sync::Arc<Daemon> {
        self.daemon.clone().unwrap()
    }

    /// The lab's metrics endpoint on a port the kernel picks, and the
    /// request that scrapes it (with the endpoint's token).
    pub fn serve_metrics(&self) -> (vnetd::web::HttpServer, String) {
        let token = vnetd::web::Token::generate().unwrap();
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
            token.as_str()
        );
        let access = vnetd::web::Access::new(token, &[]).unwrap();
        let server = vnetd::web::Listeners::new(access)
            .serve_metrics("127.0.0.1:0".parse().unwrap(), self.shared())
            .unwrap();
        (server, request)
    }

    /// The control server [`Lab::serve_control`] started.
    pub fn control(&self) -> &vnetd::daemon::control::ControlServer {
        &self.control.as_ref().expect("serve_control first").0
    }

    pub fn stats(&self, nic: &str) -> NicStats {
        self.daemon().nic_stats(nic).unwrap()
    }

    /// Every packet of the lab, summed over its ports: sent, received,
    /// and dropped with a reason. In a lab whose only senders are its
    /// NICs, the first is the sum of the other two once nothing is in
    /// flight.
    pub fn accounts(&self) -> (u64, u64, u64) {
        let stats = vnetd::daemon::reporting::report::stats_of(self.daemon());
        stats.nics.values().fold((0, 0, 0), |(s, r, d), n| {
            (
                s + n.packets_sent,
                r + n.packets_received,
                d + n.drops.values().sum::<u64>(),
            )
        })
    }

    /// Waits until [`Lab::accounts`] balance (the last packets of a
    /// transfer may still be on their way, and the kernel's counters are
    /// read every half second), and fails with them if they never do.
    pub fn assert_balanced(&self, what: &str) {
        let balanced = || {
            let (sent, received, dropped) = self.accounts();
            sent == received + dropped
        };
        assert!(
            wait_for(std::time::Duration::from_secs(10), balanced),
            "{what}: sent, received, dropped: {:?}",
            self.accounts()
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.control = None;
        if let Some(d) = self.daemon.take() {
            if let Err(e) = d.shutdown() {
                eprintln!("removing lab {}: {e:#}", self.prefix);
            }
        }
    }
}

/// Runs a command inside a namespace and returns its stdout, whether or
/// not it succeeds (a failed `curl` or `dig` prints nothing).
pub fn stdout_in(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {args:?} in {ns}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command inside a namespace and returns its stdout; panics if it
/// fails.
pub fn in_netns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three pings with the real `ping`; true when all three are answered.
pub fn ping(ns: &str, dst: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", dst,
        ])
        .output()
        .unwrap()
        .status
        .success()
}

/// Like [`ping`], from a given source address.
pub fn ping_from(ns: &str, src: &str, dst: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-I", src,
            dst,
        ])
        .output()
        .unwrap()
        .status
        .success()
}

/// A TCP connection from `client_ns` to a listener at `server` in
/// `server_ns`, with one echo; true when the bytes come back.
pub fn tcp_echo(client_ns: &str, server_ns: &str, server: SocketAddr) -> bool {
    let listener = netns::run_in(server_ns, move || Ok(TcpListener::bind(server)?)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let echo = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(4);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(2)))
                        .unwrap();
                    let mut buf = [0u8; 5];
                    if stream.read_exact(&mut buf).is_ok() {
                        let _ = stream.write_all(&buf);
                    }
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let connected = netns::run_in(client_ns, move || {
        Ok(TcpStream::connect_timeout(
            &server,
            Duration::from_millis(1500),
        )?)
    });
    let ok = match connected {
        Ok(mut stream) => {
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 5];
            stream.write_all(b"hello").is_ok()
                && stream.read_exact(&mut buf).is_ok()
                && &buf == b"hello"
        }
        Err(_) => false,
    };
    let _ = echo.join();
    ok
}

/// A UDP socket in namespace `ns`, bound to any address and port of
/// `server`'s family, to send to `server`.
pub fn udp_client_for(ns: &str, server: SocketAddr) -> UdpSocket {
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .unwrap();
    netns::run_in(ns, move || Ok(UdpSocket::bind(any)?)).unwrap()
}

/// A UDP socket bound to `address` even while an earlier socket of the
/// same address is not yet gone: a process the daemon spawns at the moment
/// (`ip netns exec`, a routing daemon) holds a copy of every open socket
/// until its exec closes it, so a socket just dropped may still hold the
/// port for an instant (`SO_REUSEADDR` lets the new one share it).
pub fn udp_bind_again(address: SocketAddr) -> anyhow::Result<UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::DGRAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    Ok(socket.into())
}

/// One UDP datagram from `client_ns` to `server` in `server_ns` and its
/// echo; true when the echo arrives.
pub fn udp_echo(client_ns: &str, server_ns: &str, server: SocketAddr) -> bool {
    let server_socket = netns::run_in(server_ns, move || udp_bind_again(server)).unwrap();
    server_socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let client = udp_client_for(client_ns, server);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    if client.send_to(b"datagram", server).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let Ok((n, from)) = server_socket.recv_from(&mut buf) else {
        return false;
    };
    if &buf[..n] != b"datagram" || server_socket.send_to(&buf[..n], from).is_err() {
        return false;
    }
    matches!(client.recv_from(&mut buf), Ok((8, _))) && &buf[..8] == b"datagram"
}

/// A counter of namespace `ns`'s `/proc/net/snmp`: `name` of the line
/// group `group` (`"Ip"`, `"Udp"`, ...).
pub fn snmp_counter(ns: &str, group: &str, name: &str) -> u64 {
    let snmp = in_netns(ns, &["cat", "/proc/net/snmp"]);
    let prefix = format!("{group}:");
    let mut lines = snmp.lines().filter(|l| l.starts_with(&prefix));
    let names: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let values: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let at = names.iter().position(|n| *n == name).unwrap();
    values[at].parse().unwrap()
}

/// A `vnetd` command whose daemon side listens on `socket`, its own
/// control socket, so a test never talks to a lab someone else runs.
pub fn vnetd_command(socket: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vnetd"));
    c.env("VNETD_SOCKET", socket);
    c
}

/// The address and token of the line `vnetd run --ui` prints
/// (`live page: http://127.0.0.1:PORT/?token=TOKEN`).
pub fn live_page_address(line: &str) -> (String, String) {
    let url = line.trim().trim_start_matches("live page: ");
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http address: {line}"));
    let (addr, token) = rest
        .split_once("/?token=")
        .unwrap_or_else(|| panic!("no token in the address: {line}"));
    assert!(!token.is_empty(), "{line}");
    (addr.to_string(), token.to_string())
}

/// A `vnetd run` child process that takes its lab down when dropped, also
/// when the test panics: a child still running is stopped as a user stops
/// it (SIGTERM, so it removes its own lab), and one that does not exit in
/// time is killed and its leftovers (namespaces, routing daemons) removed
/// with `vnetd down`. A test that stops the child itself leaves nothing for
/// the guard to do.
pub struct LabProcess {
    child: std::process::Child,
    /// `vnetd down` for this lab: the run command's program, environment
    /// and topology file.
    down: Command,
}

impl std::ops::Deref for LabProcess {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.child
    }
}

impl std::ops::DerefMut for LabProcess {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.child
    }
}

impl LabProcess {
    /// Wraps a spawned `run` command's child.
    fn new(run: &Command, child: std::process::Child) -> LabProcess {
        // A run through a wrapper (setpriv, prlimit) names vnetd among
        // its arguments; `down` needs no wrapper.
        let vnetd = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_vnetd"));
        let program = match run.get_args().any(|a| a == vnetd) {
            true => vnetd,
            false => run.get_program(),
        };
        let mut down = Command::new(program);
        for (key, value) in run.get_envs() {
            match value {
                Some(value) => down.env(key, value),
                None => down.env_remove(key),
            };
        }
        down.arg("down");
        // The topology file, if the lab was started from one (the options
        // that take a value are never a `.yaml` file).
        if let Some(file) = run
            .get_args()
            .find(|a| a.to_str().is_some_and(|a| a.ends_with(".yaml")))
        {
            down.arg(file);
        }
        down.stdout(std::process::Stdio::null());
        down.stderr(std::process::Stdio::null());
        LabProcess { child, down }
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Err(e) = self.down.status() {
            eprintln!("vnetd down after a test: {e}");
        }
    }
}

/// Spawns `vnetd run ...` (built with [`vnetd_command`]) with its stdout
/// and stderr piped, and returns at once, guarded (see [`LabProcess`]):
/// what a CI script does before `vnetd verify --wait`.
pub fn spawn_lab_unwaited(mut run: Command) -> LabProcess {
    let child = run
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    LabProcess::new(&run, child)
}

/// Spawns `vnetd run ...` (built with [`vnetd_command`]) and waits until it
/// prints "lab up" and then a line starting with `then` (empty: nothing
/// more). Returns the process, guarded (see [`LabProcess`]), and the rest
/// of that line.
pub fn spawn_lab(mut run: Command, then: &str) -> (LabProcess, String) {
    use std::io::BufRead;
    let child = run
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = LabProcess::new(&run, child);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let then = then.to_string();
    std::thread::spawn(move || {
        let mut up = false;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            up |= line.contains("lab up");
            if let (true, Some(rest)) = (up, line.strip_prefix(then.as_str())) {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(rest) => (child, rest),
        Err(_) => {
            // The guard stops the child and removes what the half-built
            // lab left; its stderr is read once it has exited.
            let err = child.stderr.take();
            drop(child);
            let mut stderr = String::new();
            if let Some(mut err) = err {
                let _ = err.read_to_string(&mut stderr);
            }
            panic!("vnetd run did not come up: {stderr}");
        }
    }
}

/// Sends a signal to a child process the test owns.
pub fn signal(child: &std::process::Child, sig: i32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let signal = Signal::try_from(sig).expect("a signal number");
    kill(Pid::from_raw(child.id() as i32), signal).expect("signalling the child");
}

/// Waits (20 s at most) for a child to exit.
pub fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "vnetd did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a `vnetd run` the way a user does, and asserts a clean exit.
pub fn stop_lab(child: &mut std::process::Child) {
    signal(child, libc::SIGTERM);
    let status = wait_exit(child);
    assert!(status.success(), "vnetd run exited with {status}");
}

/// The namespaces whose name starts with `<prefix>-`.
/// `iperf3 -c DST -n BYTES -J` from namespace `ns` (a server must
/// listen): its JSON report. Panics when iperf3 fails.
pub fn iperf3_transfer(ns: &str, dst: &str, bytes: &str) -> serde_json::Value {
    iperf3_transfer_to(ns, dst, IPERF3_PORT, bytes)
}

/// [`iperf3_transfer`] to a server on `port`.
pub fn iperf3_transfer_to(ns: &str, dst: &str, port: u16, bytes: &str) -> serde_json::Value {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "iperf3", "-c", dst])
        .args(["-p", &port.to_string(), "-n", bytes, "-J"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iperf3 -c: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// iperf3's own port.
const IPERF3_PORT: u16 = 5201;

/// The namespaces a running lab whose plan lists `namespaces` has: one
/// more, its fabric's, unless the run keeps every packet in userspace
/// (`VNETD_NO_OFFLOAD`).
pub fn with_fabric(namespaces: usize) -> usize {
    namespaces + usize::from(!vnetd::daemon::options::offload_off_by_environment())
}

pub fn namespaces_with(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(String::from)
        .collect()
}

/// A child process killed when dropped, also when the test panics.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a one-off iperf3 server at `address` in `ns` and waits (10 s at
/// most) until it listens, as it says on stdout; the rest of its output is
/// read and dropped, so it never writes to a closed pipe.
pub fn iperf3_server(ns: &str, address: &str) -> Killed {
    iperf3_server_on(ns, address, IPERF3_PORT)
}

/// [`iperf3_server`] on `port` (a fresh namespace has every port free).
pub fn iperf3_server_on(ns: &str, address: &str, port: u16) -> Killed {
    use std::io::BufRead;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "iperf3", "-s", "-1", "-B", address])
        .args(["-p", &port.to_string()])
        .args(["--forceflush"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("iperf3 is installed (.ci/run installs it)");
    let stdout = child.stdout.take().unwrap();
    let server = Killed(child);
    let (listening, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Server listening") {
                let _ = listening.send(());
            }
        }
    });
    assert!(
        heard.recv_timeout(Duration::from_secs(10)).is_ok(),
        "iperf3 -s never listened at {address} in {ns}"
    );
    server
}

/// Run options writing flow logs (and the firewalls' logs) under `dir`
/// every `interval`, so a test reads what a lab logged soon after.
pub fn with_flow_logs(dir: &std::path::Path, interval: Duration) -> RunOptions {
    RunOptions {
        flow_log: Some(vnetd::daemon::options::FlowLogOptions {
            dir: dir.to_path_buf(),
            interval,
        }),
        ..RunOptions::default()
    }
}

/// Polls `done` every 50 ms until it holds (true) or `limit` passes
/// (false).
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An answer of the control API as the command line prints it: exit code,
/// stdout and the message on stderr.
#[derive(Debug)]
pub struct Printed {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

/// `response` printed as the command line prints it (`json`: as with
/// `--json`).
pub fn printed(response: &vnetd::api::Response, json: bool) -> Printed {
    match vnetd::cli::render::printed(response, json) {
        Ok(stdout) => Printed {
            code: 0,
            stdout,
            stderr: String::new(),
        },
        Err(f) => Printed {
            code: f.code,
            stdout: String::new(),
            stderr: f.message,
        },
    }
}

/// The host's own operations, except that the next build of a chosen
/// namespace fails once the namespace exists (a refusal of the host
/// half-way through a build, otherwise hard to bring about on purpose).
#[derive(Debug, Default)]
pub struct FailingHost {
    next: std::sync::Mutex<Vec<String>>,
}

impl FailingHost {
    /// Makes the next build of namespace `name` fail.
    pub fn fail_next_build_of(&self, name: &str) {
        self.next.lock().unwrap().push(name.to_owned());
    }

    fn take(&self, name: &str) -> bool {
        let mut next = self.next.lock().unwrap();
        let at = next.iter().position(|n| n == name);
        at.map(|at| next.remove(at)).is_some()
    }
}

impl vnetd::host::HostOps for FailingHost {
    fn create_namespace(
        &self,
        name: &str,
        inside: &mut (dyn FnMut() -> anyhow::Result<vnetd::host::TunDevice> + Send),
    ) -> anyhow::Result<vnetd::host::TunDevice> {
        let host = vnetd::host::LinuxHost;
        if self.take(name) {
            return host.create_namespace(name, &mut || {
                anyhow::bail!("building network namespace {name}: injected failure")
            });
        }
        host.create_namespace(name, inside)
    }

    fn delete_namespace(&self, name: &str) -> anyhow::Result<()> {
        vnetd::host::LinuxHost.delete_namespace(name)
    }

    fn create_tun(
        &self,
        options: vnetd::host::TunOptions,
    ) -> anyhow::Result<vnetd::host::TunDevice> {
        vnetd::host::LinuxHost.create_tun(options)
    }

    fn configure_link_here(
        &self,
        index: u32,
        interface: &str,
        config: &vnetd::host::InterfaceConfig,
    ) -> anyhow::Result<()> {
        vnetd::host::LinuxHost.configure_link_here(index, interface, config)
    }

    fn move_link_into_namespace(
        &self,
        index: u32,
        namespace: &str,
        new_name: &str,
    ) -> anyhow::Result<()> {
        vnetd::host::LinuxHost.move_link_into_namespace(index, namespace, new_name)
    }

    fn configure_interface(
        &self,
        namespace: &str,
        interface: &str,
        config: &vnetd::host::InterfaceConfig,
    ) -> anyhow::Result<()> {
        vnetd::host::LinuxHost.configure_interface(namespace, interface, config)
    }
}

/// Processes whose command line mentions `needle` (routing daemons name
/// their run directory, which names their namespace).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}
