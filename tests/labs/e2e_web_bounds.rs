//! `vnetd run --ui` answers only whom it must and bounds what each client
//! holds, over real TCP against a running lab:
//!
//! - a request for another host (DNS rebinding) or from another site's
//!   page is refused on every path, the lab's data, events, captures and
//!   metrics are refused without the token, and the address `vnetd run`
//!   printed works; a flows answer holds at most the 1000 most recent;
//! - 64 clients that ask for a capture while TCP crosses the NIC and never
//!   read: four get one, the others are told at once, the page and the
//!   metrics still answer within 2 s, every capture has ended by 10 s
//!   after it was asked for 5 s, the clients are cut and counted, and the
//!   daemon's memory comes back to within 10 % of what it was; a reader
//!   that reads, but slowly, has its 5 s capture ended by 10 s too;
//! - no filter compiler outlives its request by more than 2 s.
//!
//! Needs root (see `common::require_root`).

use crate::common;

use common::{Killed, LabProcess};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vnetd::host::netns;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// The lab's live page: its address and token.
struct Page {
    addr: SocketAddr,
    token: String,
}

/// An answer: its status, its head (lower-cased) and its body.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.head, self.text())
    }
}

impl Page {
    fn start(prefix: &str, dir: &std::path::Path) -> (LabProcess, Page) {
        let config = dir.join("hub-spoke.yaml");
        std::fs::write(&config, common::with_netns_prefix(HUB_SPOKE, prefix)).unwrap();
        let mut run = common::vnetd_command(&dir.join("vnetd.sock"));
        run.arg("run").arg(&config).args(["--ui", "127.0.0.1:0"]);
        let (lab, line) = common::spawn_lab(run, "live page: ");
        let (addr, token) = common::live_page_address(&line);
        let page = Page {
            addr: addr.parse().unwrap(),
            token,
        };
        (lab, page)
    }

    /// `GET path` with `headers` (each ending in CRLF), the whole answer.
    fn get(&self, path: &str, headers: &str) -> Answer {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!("GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no answer to {path}: {answer:?}"));
        let head = String::from_utf8_lossy(&answer[..split]).to_lowercase();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Answer {
            status,
            head,
            body: answer[split + 4..].to_vec(),
        }
    }

    fn host(&self) -> String {
        format!("Host: {}\r\n", self.addr)
    }

    fn bearer(&self) -> String {
        format!("{}Authorization: Bearer {}\r\n", self.host(), self.token)
    }

    /// The metrics, as a scrape with the token reads them; None while the
    /// server is too busy to take the scrape.
    fn metrics(&self) -> Option<String> {
        let answer = self.get("/metrics", &self.bearer());
        (answer.status == 200).then(|| answer.text())
    }

    /// One sample of the metrics, by its name and labels as written.
    fn metric(&self, series: &str) -> Option<f64> {
        let text = self.metrics()?;
        let line = text
            .lines()
            .find(|l| l.strip_prefix(series).is_some_and(|v| v.starts_with(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"));
        line[series.len()..].trim().parse().ok()
    }

    /// Waits until `series` is `value`, for at most `patience`.
    fn wait_metric(&self, series: &str, value: f64, patience: Duration) {
        let mut last = None;
        let held = common::wait_for(patience, || {
            last = self.metric(series);
            last == Some(value)
        });
        assert!(held, "{series} stayed {last:?}, not {value}");
    }
}

/// The daemon's resident memory, in KiB: all of it (`VmRSS`), and what is
/// not the program's own files (`RssAnon`: what the daemon allocated).
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// The daemon's threads for the page's long work (a scrape, the picture,
/// opening a capture) alive now; idle, they end within seconds, and with
/// them the stack they touched.
fn work_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("vnetd-web-work"))
        })
        .count()
}

/// The daemon's memory once it is idle: no request in flight, its
/// threads for long work ended.
fn idle_rss_kib(pid: u32) -> (u64, u64) {
    assert!(
        common::wait_for(Duration::from_secs(10), || work_threads(pid) == 0),
        "the page's work threads never went idle"
    );
    rss_kib(pid)
}

/// The filter compilers (`tcpdump`) the daemon runs now.
fn compilers_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid = rest.split(' ').nth(1).and_then(|p| p.parse::<u32>().ok());
        let compiler = ["(tcpdump", "(prlimit", "(nice"]
            .iter()
            .any(|c| comm.ends_with(c));
        if ppid == Some(pid) && compiler {
            found.push(child);
        }
    }
    found
}

/// A TCP transfer from vm1 to shared1 for the rest of the test.
fn transfer(prefix: &str) -> (Killed, Killed) {
    let server = common::iperf3_server(&format!("{prefix}-shared1"), "10.0.2.4");
    let client = Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}-vm1")])
        .args(["iperf3", "-c", "10.0.2.4", "-t", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (server, Killed(client))
}

#[test]
fn the_page_answers_only_its_token_holders_on_its_own_host() {
    common::require_root();
    let prefix = "wbndh";
    let dir = tempfile::tempdir().unwrap();
    let (mut lab, page) = Page::start(prefix, dir.path());
    let token = page.token.clone();

    // The printed address works.
    let index = page.get(&format!("/?token={token}"), &page.host());
    assert_eq!(index.status, 200, "{index:?}");
    assert!(index.head.contains("content-type: text/html"), "{index:?}");
    let graph = page.get("/api/graph", &page.bearer());
    assert_eq!(graph.status, 200, "{graph:?}");
    assert!(graph.text().contains("\"elements\""), "{graph:?}");

    // A name of someone else's that resolves here, on every path.
    let paths = [
        "/api/graph",
        "/api/flows",
        "/api/trace?from=vm1&to=10.2.1.4",
        "/events",
        "/capture/vm1.pcapng?seconds=1",
        "/metrics",
    ];
    let rebound = format!("Host: rebind.example:{}\r\n", page.addr.port());
    for path in paths.iter().chain(&["/", "/app.js", "/nope"]) {
        let with_token = format!(
            "{path}{}token={token}",
            if path.contains('?') { '&' } else { '?' }
        );
        let answer = page.get(&with_token, &rebound);
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        let answer = page.get(path, &format!("{rebound}Authorization: Bearer {token}\r\n"));
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
    }
    // Without the token, or with another: nothing of the lab. The page's
    // files hold nothing of it.
    for path in paths {
        let answer = page.get(path, &page.host());
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert!(
            answer.head.contains("www-authenticate: bearer"),
            "{answer:?}"
        );
        let wrong = format!(
            "{}Authorization: Bearer {}\r\n",
            page.host(),
            "0".repeat(64)
        );
        assert_eq!(page.get(path, &wrong).status, 401, "{path}");
    }
    assert_eq!(page.get("/", &page.host()).status, 200);
    assert_eq!(page.get("/app.js", &page.host()).status, 200);
    // Another site's page (a cross-site <img>, a fetch from elsewhere),
    // even one that knew the token.
    let capture = format!("/capture/vm1.pcapng?seconds=1&token={token}");
    for foreign in [
        "Sec-Fetch-Site: cross-site\r\n".to_string(),
        "Origin: http://rebind.example\r\n".to_string(),
        format!("Origin: http://127.0.0.1:{}\r\n", page.addr.port() ^ 1),
    ] {
        let answer = page.get(&capture, &format!("{}{foreign}", page.host()));
        assert_eq!(answer.status, 403, "{foreign}: {answer:?}");
    }
    // Read-only.
    let mut post = TcpStream::connect(page.addr).unwrap();
    post.write_all(
        format!(
            "POST /api/graph HTTP/1.1\r\n{}Content-Length: 0\r\nConnection: close\r\n\r\n",
            page.bearer()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    post.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");

    // A flows answer holds the most recent 1000, and says how many there are.
    // A burst of 1100 datagrams may overflow the NIC's queue (a drop the
    // daemon counts), so each round sends every flow again: the same five
    // tuples, so a flow already tracked is not counted twice.
    let vm1 = format!("{prefix}-vm1");
    let flows: u16 = 1100;
    let send_every_flow = || {
        netns::run_in(&vm1, move || {
            for port in 20_000..20_000 + flows {
                let socket = UdpSocket::bind(("10.1.1.4", port))?;
                socket.send_to(b"flow", "10.0.2.4:9")?;
            }
            Ok(())
        })
        .unwrap()
    };
    let mut answer = page.get("/api/flows?nic=vm1", &page.bearer());
    let all_listed = (0..5).any(|_| {
        send_every_flow();
        common::wait_for(Duration::from_secs(5), || {
            answer = page.get("/api/flows?nic=vm1", &page.bearer());
            total_count(&answer) >= usize::from(flows)
        })
    });
    assert!(all_listed, "{:?}", answer.head);
    let listed: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), vnetd::web::MAX_FLOWS);
    common::stop_lab(&mut lab);
}

fn total_count(answer: &Answer) -> usize {
    answer
        .head
        .lines()
        .find_map(|l| l.strip_prefix("x-total-count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A client that asks for `path` and reads nothing, with a small receive
/// buffer so that what it is sent fills it at once.
fn never_reads(addr: SocketAddr, path: &str, host: &str) -> socket2::Socket {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\n{host}\r\n");
    (&socket).write_all(request.as_bytes()).unwrap();
    socket
}

#[test]
fn clients_that_never_read_hold_nothing_for_long() {
    common::require_root();
    let prefix = "wbndr";
    let dir = tempfile::tempdir().unwrap();
    let (mut lab, page) = Page::start(prefix, dir.path());
    let pid = lab.id();
    let _transfer = transfer(prefix);
    let capture =
        |seconds: u64| format!("/capture/vm1.pcapng?seconds={seconds}&token={}", page.token);

    // The page as its viewers use it before memory is measured: as many
    // captures as it runs at once, each read whole, the picture and flows.
    std::thread::scope(|scope| {
        let downloads: Vec<_> = (0..vnetd::web::MAX_CAPTURES)
            .map(|_| scope.spawn(|| page.get(&format!("{}&count=200", capture(1)), &page.host())))
            .collect();
        for download in downloads {
            let warm = download.join().unwrap();
            assert_eq!(warm.status, 200, "{:?}", warm.head);
            assert!(
                warm.body.len() > 10_000,
                "the transfer left no packets on vm1"
            );
        }
    });
    assert_eq!(page.get("/api/graph", &page.bearer()).status, 200);
    assert_eq!(page.get("/api/flows?nic=vm1", &page.bearer()).status, 200);
    // And turns away those it must, as it does below.
    assert_eq!(
        page.get(&capture(1).replace("token=", "x="), &page.host())
            .status,
        401
    );
    assert_eq!(page.get("/", "Host: rebind.example\r\n").status, 403);
    page.wait_metric("vnetd_http_captures_running", 0.0, Duration::from_secs(10));
    let before = idle_rss_kib(pid);

    // 64 clients ask for a 5 s capture and read nothing.
    let asked = Instant::now();
    let clients: Vec<socket2::Socket> = (0..64)
        .map(|_| never_reads(page.addr, &capture(5), &page.host()))
        .collect();
    let running = vnetd::web::MAX_CAPTURES as f64;
    page.wait_metric(
        "vnetd_http_captures_running",
        running,
        Duration::from_secs(5),
    );
    page.wait_metric(
        "vnetd_http_refused_total{reason=\"captures\"}",
        64.0 - running,
        Duration::from_secs(5),
    );
    // Meanwhile the page and the metrics answer, each within 2 s.
    for (path, headers) in [
        ("/", page.host()),
        ("/api/graph", page.bearer()),
        ("/metrics", page.bearer()),
    ] {
        let started = Instant::now();
        let answer = page.get(path, &headers);
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(page.metric("vnetd_http_captures_running"), Some(running));
    // Every capture has ended by 10 s, its client cut and counted.
    page.wait_metric(
        "vnetd_http_captures_running",
        0.0,
        Duration::from_secs(10).saturating_sub(asked.elapsed()),
    );
    eprintln!(
        "64 never-reading captures all ended {:?} after they were asked",
        asked.elapsed()
    );
    assert_eq!(page.metric("vnetd_http_clients_cut_total"), Some(running));
    drop(clients);
    let after = idle_rss_kib(pid);
    let back = after.0 * 10 <= before.0 * 11 && after.1 * 10 <= before.1 * 11;
    eprintln!(
        "daemon RSS (all, allocated): {before:?} KiB before the 64 clients, {after:?} KiB after"
    );
    assert!(
        back,
        "RSS (all, allocated) {before:?} KiB before, {after:?} KiB after the clients left"
    );

    // A reader that reads, but far more slowly than what is captured: its
    // 5 s capture ends by 10 s all the same.
    let mut slow = TcpStream::connect(page.addr).unwrap();
    slow.write_all(format!("GET {} HTTP/1.1\r\n{}\r\n", capture(5), page.host()).as_bytes())
        .unwrap();
    let asked = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 << 10];
            // 1.6 MB/s, far less than a TCP transfer's capture, until the
            // test has seen what it waits for.
            while !done.load(std::sync::atomic::Ordering::Relaxed)
                && matches!(slow.read(&mut buf), Ok(1..))
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    page.wait_metric("vnetd_http_captures_running", 1.0, Duration::from_secs(5));
    page.wait_metric(
        "vnetd_http_captures_running",
        0.0,
        Duration::from_secs(10).saturating_sub(asked.elapsed()),
    );
    eprintln!(
        "the slow reader's capture ended {:?} after it was asked",
        asked.elapsed()
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    reading.join().unwrap();

    // A filter that keeps the compiler busy, its request gone at once: no
    // compiler is left 2 s later. One beyond the length limit is refused.
    let busy: Vec<String> = (0..60)
        .map(|i| format!("portrange {}-{}", i + 1, i + 2))
        .collect();
    let busy = busy.join("||").replace('|', "%7C").replace(' ', "%20");
    for _ in 0..3 {
        let gone = never_reads(
            page.addr,
            &format!("{}&filter={busy}", capture(5)),
            &page.host(),
        );
        drop(gone);
    }
    let left = Instant::now();
    assert!(
        common::wait_for(Duration::from_secs(2), || compilers_of(pid).is_empty()),
        "filter compilers {:?} outlived their requests by 2 s",
        compilers_of(pid)
    );
    eprintln!(
        "no filter compiler left {:?} after its request went",
        left.elapsed()
    );
    let long = "icmp%20or%20".repeat(130) + "icmp";
    let refused = page.get(&format!("{}&filter={long}", capture(1)), &page.host());
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.text().contains("more than the 1024"), "{refused:?}");
    common::stop_lab(&mut lab);
}
