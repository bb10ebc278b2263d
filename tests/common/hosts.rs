//! Several hosts on one machine: each a network namespace with an address
//! on an underlay bridge (in a namespace of its own, away from the
//! machine's firewall), each running `vnetd run FILE --host NAME` from
//! inside it, as a user runs it on each of their machines. The cluster
//! takes everything down when dropped, also when the test panics: each
//! daemon is stopped (SIGTERM, then SIGKILL and `vnetd down --host`), then
//! the hosts' namespaces and the bridge go.
//!
//! The lab's own namespaces carry the cluster's tag (`netns_prefix`), so
//! clusters of different tests run side by side; each daemon has its own
//! control socket.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One spread lab on this machine.
pub struct Cluster {
    tag: String,
    file: PathBuf,
    hosts: Vec<(String, String)>,
    daemons: Vec<Option<Child>>,
    /// What each host's daemon said on stderr, read as it comes (all its
    /// runs).
    stderr: Vec<Arc<Mutex<String>>>,
    offload: bool,
}

impl Cluster {
    /// Builds the hosts of `hosts` (name, underlay address on
    /// 192.0.2.0/24), writes `text` (a placed topology) behind the tag's
    /// `netns_prefix`, and starts a daemon on every host, returning once
    /// each says its lab is up and trusts every other host (they carry
    /// each other's packets).
    pub fn start(tag: &str, text: &str, hosts: &[(&str, &str)], offload: bool) -> Cluster {
        let names: Vec<&str> = hosts.iter().map(|(name, _)| *name).collect();
        let cluster = Cluster::start_on(tag, text, hosts, &names, offload);
        cluster.wait_trusted(&names);
        cluster
    }

    /// [`Cluster::start`] with daemons on the hosts `running` only (the
    /// others' namespaces are there, empty), returning once each says its
    /// lab is up.
    pub fn start_on(
        tag: &str,
        text: &str,
        hosts: &[(&str, &str)],
        running: &[&str],
        offload: bool,
    ) -> Cluster {
        super::require_root();
        let file = std::env::temp_dir().join(format!("vnetd-{tag}-{}.yaml", std::process::id()));
        std::fs::write(&file, format!("netns_prefix: {tag}-\n{text}")).unwrap();
        let mut cluster = Cluster {
            tag: tag.to_string(),
            file,
            hosts: hosts
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect(),
            daemons: hosts.iter().map(|_| None).collect(),
            stderr: hosts.iter().map(|_| Arc::default()).collect(),
            offload,
        };
        cluster.build_underlay();
        for name in running {
            cluster.start_host(name);
        }
        cluster
    }

    /// What host `host`'s daemon says of the others: each one's name and
    /// trust (`trusted`, `unheard`, ...), from `stats --json`.
    pub fn trust_on(&self, host: &str) -> Vec<(String, String)> {
        let out = self.ask(host, &["stats", "--json"]);
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (stats["underlay"]["hosts"].as_array().into_iter().flatten())
            .map(|h| {
                let field = |k: &str| h[k].as_str().unwrap_or_default().to_string();
                (field("host"), field("trust"))
            })
            .collect()
    }

    /// Waits (30 s at most) until every host of `hosts` trusts every other
    /// host of the cluster.
    pub fn wait_trusted(&self, hosts: &[&str]) {
        for host in hosts {
            let mut last = Vec::new();
            let trusted = super::wait_for(Duration::from_secs(30), || {
                last = self.trust_on(host);
                !last.is_empty() && last.iter().all(|(_, trust)| trust == "trusted")
            });
            assert!(trusted, "{host} does not trust every other host: {last:?}");
        }
    }

    fn bridge_ns(&self) -> String {
        format!("{}-underlay", self.tag)
    }

    /// The namespace that stands for host `host`.
    pub fn host_ns(&self, host: &str) -> String {
        format!("{}-host-{host}", self.tag)
    }

    /// The namespace of NIC or site host `name`.
    pub fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.tag)
    }

    /// The placed file every host runs.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    fn socket(&self, host: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "vnetd-{}-{host}-{}.sock",
            self.tag,
            std::process::id()
        ))
    }

    fn build_underlay(&self) {
        let bridge = self.bridge_ns();
        ip(&["netns", "add", &bridge]);
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &bridge, "link", "set", "br0", "up"]);
        for (i, (name, address)) in self.hosts.iter().enumerate() {
            let host = self.host_ns(name);
            let port = format!("p{i}");
            ip(&["netns", "add", &host]);
            ip(&[
                "-n", &bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &host,
            ]);
            ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
            // Room for VXLAN's 50 bytes around Azure's 1500.
            ip(&["-n", &bridge, "link", "set", &port, "mtu", "1550"]);
            ip(&["-n", &host, "link", "set", "eth0", "mtu", "1550"]);
            ip(&[
                "-n",
                &host,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &host, "link", "set", "eth0", "up"]);
            ip(&["-n", &host, "link", "set", "lo", "up"]);
        }
    }

    /// A `vnetd` command that talks to host `host`'s daemon, run inside
    /// the host's namespace.
    pub fn vnetd(&self, host: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.host_ns(host)))
            .arg(env!("CARGO_BIN_EXE_vnetd"))
            .env("VNETD_SOCKET", self.socket(host));
        c
    }

    /// Starts host `host`'s daemon (again) and waits until its lab is up.
    pub fn start_host(&mut self, host: &str) {
        let at = self.index(host);
        let mut run = self.vnetd(host);
        run.arg("run")
            .arg(&self.file)
            .args(["--host", host, "--workers", "1"]);
        if !self.offload {
            run.arg("--no-offload");
        }
        let mut child = run
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let said = self.stderr[at].clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut said = said.lock().unwrap_or_else(|p| p.into_inner());
                said.push_str(&line);
                said.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("lab up") {
                    let _ = tx.send(());
                }
            }
        });
        let up = rx.recv_timeout(Duration::from_secs(60)).is_ok();
        if !up {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.daemons[at] = Some(child);
        assert!(
            up,
            "host {host}'s vnetd did not come up: {}",
            self.stderr_of(host)
        );
    }

    /// What host `host`'s daemon has said on stderr so far.
    pub fn stderr_of(&self, host: &str) -> String {
        let said = self.stderr[self.index(host)].lock();
        said.unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn index(&self, host: &str) -> usize {
        self.hosts
            .iter()
            .position(|(n, _)| n == host)
            .unwrap_or_else(|| panic!("no host {host}"))
    }

    /// Kills host `host`'s daemon with SIGKILL, as a crash does, and waits
    /// for it to be gone.
    pub fn kill9(&mut self, host: &str) {
        let at = self.index(host);
        if let Some(mut child) = self.daemons[at].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `vnetd down FILE --host HOST`, on that host.
    pub fn down(&self, host: &str) -> Output {
        self.vnetd(host)
            .arg("down")
            .arg(&self.file)
            .args(["--host", host])
            .output()
            .unwrap()
    }

    /// `vnetd ARGS` against host `host`'s daemon.
    pub fn ask(&self, host: &str, args: &[&str]) -> Output {
        self.vnetd(host).args(args).output().unwrap()
    }

    /// Stops host `host`'s daemon as a user does (SIGTERM), or kills it and
    /// runs `vnetd down` when it does not stop in time.
    fn stop(&mut self, at: usize) {
        let Some(mut child) = self.daemons[at].take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for at in 0..self.daemons.len() {
            self.stop(at);
        }
        for (host, _) in self.hosts.clone() {
            let _ = self.down(&host);
            let _ = Command::new("ip")
                .args(["netns", "del", &self.host_ns(&host)])
                .output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.bridge_ns()])
            .output();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
