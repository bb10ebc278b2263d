//! Traffic the end-to-end tests watch: a numbered UDP stream with its
//! receiver's count, and a tcpdump capture counted when it stops. Both are
//! stopped when dropped, also when a test panics.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

/// A UDP stream of numbered datagrams from a socket to `to`, one every
/// millisecond, until dropped; and what the receiver counted.
pub struct Stream {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Stream {
    pub fn start(client: UdpSocket, server: UdpSocket, to: SocketAddr) -> Stream {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let sender = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let _ = client.send_to(&n.to_be_bytes(), to);
                    n += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let receiver = {
            let (stop, received) = (stop.clone(), received.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    if server.recv_from(&mut buf).is_ok() {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        Stream {
            stop,
            received,
            threads: vec![sender, receiver],
        }
    }

    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `more` datagrams beyond those received now arrive.
    pub fn wait_for_more(&self, more: u64) {
        let target = self.received() + more;
        assert!(
            super::wait_for(Duration::from_secs(30), || self.received() >= target),
            "the stream stalled at {} datagrams (waiting for {target})",
            self.received()
        );
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A tcpdump in `ns` on `eth0` for `filter`, capturing from the moment it
/// returns; [`Capture::count`] stops it and counts what it saw.
pub struct Capture(Option<std::process::Child>);

impl Capture {
    /// Each packet on one line, tersely (`-q`).
    pub fn start(ns: &str, filter: &str) -> Capture {
        Capture::start_with(ns, &["-q"], filter)
    }

    /// Each packet with its flags and options (a SYN's MSS), handed over
    /// as it comes (`--immediate-mode`).
    pub fn start_detailed(ns: &str, filter: &str) -> Capture {
        Capture::start_with(ns, &["--immediate-mode"], filter)
    }

    fn start_with(ns: &str, options: &[&str], filter: &str) -> Capture {
        use std::io::BufRead;
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "tcpdump", "-i", "eth0", "-nn", "-l"])
            .args(options)
            .args(filter.split_whitespace())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("tcpdump");
        // tcpdump says "listening on" once its capture is open.
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("listening on") => break,
                Some(Ok(_)) => continue,
                _ => panic!("tcpdump in {ns} ended before it listened"),
            }
        }
        Capture(Some(child))
    }

    /// Stops the capture; the packets it printed.
    pub fn count(mut self) -> Vec<String> {
        let child = self.0.take().unwrap();
        super::signal(&child, libc::SIGINT);
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.contains(" IP "))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One UDP datagram carrying `payload` from namespace `ns` to `to`
/// (nothing needs to listen): a marker a capture can be read up to.
pub fn udp_marker(ns: &str, to: std::net::SocketAddr, payload: &[u8]) {
    let socket = super::udp_client_for(ns, to);
    socket.send_to(payload, to).unwrap();
}

/// A TCP listener at `address` in namespace `ns` that echoes what its
/// first connection sends until the client closes it.
pub fn echo_once(ns: &str, address: std::net::SocketAddr) -> std::thread::JoinHandle<()> {
    use std::io::{Read, Write};
    let listener =
        vnetd::host::netns::run_in(ns, move || Ok(std::net::TcpListener::bind(address)?)).unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => stream.write_all(&buf[..n]).unwrap(),
            }
        }
    })
}

/// The round trips of `count` pings from `ns` to `dst`, `interval`
/// seconds apart, in milliseconds (lost ones left out).
pub fn round_trips(ns: &str, dst: &str, count: u32, interval: &str) -> Vec<f64> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-n", "-c", &count.to_string()])
        .args(["-i", interval, "-W", "2", dst])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split("time=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "no answers");
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A server for the accepted connection `accepted`: it reads everything
/// until the client shuts its side, then writes how many bytes it read (8
/// bytes, big-endian) and returns that count.
pub fn count_to_the_end(mut accepted: std::net::TcpStream) -> std::thread::JoinHandle<u64> {
    use std::io::{Read, Write};
    accepted
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::thread::spawn(move || {
        let (mut total, mut buf) = (0u64, vec![0u8; 65536]);
        loop {
            match accepted.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) => panic!("the server's read: {e}"),
            }
        }
        accepted.write_all(&total.to_be_bytes()).unwrap();
        total
    })
}
