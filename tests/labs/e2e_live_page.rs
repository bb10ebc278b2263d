//! `vnetd run --ui` on the hub-and-spoke lab, opened in a real headless
//! Chromium: the page draws every NIC and both peerings, vm1's rate
//! follows what iperf3 measures, a denied telnet appears as a drop naming
//! its NSG rule, a trace is drawn hop by hop (vm1 > nva1 > vm2), and the
//! page's capture download holds the pings that crossed vm1. The page is
//! opened at the very address `vnetd run` printed, token included, which
//! it takes out of the address bar; opened without it, it says why it
//! shows nothing. On the Internet edge example, the page draws what
//! `vnetd graph` draws (the Internet, the NAT gateway, the ways out and
//! the DNAT rule), and a real `curl` from vm2 to the Internet's echo
//! server shows as the Internet's rate, adding up to what its port's
//! counters counted, and on vm2's way out. Run with
//! offload on and, in the no-offload pass, off. A screenshot is saved in
//! `target/`. Needs root and Debian's `chromium` (`.ci/run` installs it).

use crate::common;

use common::browser::{Browser, Page};
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use vnetd::host::netns;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");
const PREFIX: &str = "page";

/// How long the page may take for what it is waited for.
const PATIENCE: Duration = Duration::from_secs(30);

fn ns(nic: &str) -> String {
    format!("{PREFIX}-{nic}")
}

#[test]
fn the_live_page_shows_the_running_lab() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hub-spoke.yaml");
    std::fs::write(&config, common::with_netns_prefix(HUB_SPOKE, PREFIX)).unwrap();
    let mut run = common::vnetd_command(&dir.path().join("vnetd.sock"));
    run.arg("run").arg(&config).args(["--ui", "127.0.0.1:0"]);
    let (mut lab, line) = common::spawn_lab(run, "live page: ");
    let url = line.trim().trim_start_matches("live page: ").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let (addr, token) = common::live_page_address(&line);

    let browser = Browser::launch().unwrap();
    without_the_token_the_page_says_why(&browser, &addr);
    let page = browser.open(&url).unwrap();
    page.wait_for("window.vnetdUi && vnetdUi.ready", "the picture", PATIENCE)
        .unwrap();
    // The token is kept by the page, not left in the address bar.
    assert_eq!(page.eval("location.search").unwrap(), json!(""));
    assert_eq!(page.eval("location.pathname").unwrap(), json!("/"));
    every_nic_and_peering_is_drawn(&page);
    vm1_shows_the_rate_iperf3_measures(&page);
    a_denied_telnet_appears_with_its_rule(&page);
    a_trace_is_drawn_hop_by_hop(&page);
    page.screenshot(screenshot_path()).unwrap();
    the_capture_link_carries_the_token(&page, &token);
    the_capture_download_holds_the_pings(&addr, &token, dir.path());
    drop(page);
    drop(browser);
    common::stop_lab(&mut lab);
}

/// The page opened at its bare address: no data, and the reason.
fn without_the_token_the_page_says_why(browser: &Browser, addr: &str) {
    let bare = browser.open(&format!("http://{addr}/")).unwrap();
    let message = bare
        .wait_for(
            "(() => { const m = document.getElementById('graph-message'); \
             return m && m.textContent.includes('token') && m.textContent; })()",
            "the page saying it needs the token",
            PATIENCE,
        )
        .unwrap();
    assert!(message.as_str().unwrap().contains("?token="), "{message}");
    assert_eq!(bare.eval("vnetdUi.ready").unwrap(), json!(false));
}

/// The page's capture link, which a browser follows without headers,
/// carries the token in its query.
fn the_capture_link_carries_the_token(page: &Page, token: &str) {
    page.set_hash("#nic=vm1").unwrap();
    let href = page
        .wait_for(
            "(() => { const a = document.getElementById('capture-link'); \
             return a.getAttribute('href').startsWith('capture/vm1.pcapng') && a.getAttribute('href'); })()",
            "the capture link of vm1",
            PATIENCE,
        )
        .unwrap();
    assert_eq!(
        href,
        json!(format!("capture/vm1.pcapng?seconds=10&token={token}"))
    );
}

fn screenshot_path() -> PathBuf {
    screenshot_named("live-page")
}

fn screenshot_named(name: &str) -> PathBuf {
    let mode = if vnetd::daemon::options::offload_off_by_environment() {
        "no-offload"
    } else {
        "offload"
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}-{mode}.png"))
}

const INTERNET_EDGE: &str = include_str!("../../config/internet-edge.yaml");
const EDGE_PREFIX: &str = "pgnet";

/// The Internet edge example on the page: the picture is the one `vnetd
/// graph` makes of the file, the Internet and its NAT gateway are drawn
/// with their ways out, and a real curl from vm2 to the echo server is
/// shown as the Internet's rate and on vm2's way out.
#[test]
fn the_live_page_draws_the_internet_edge_and_its_rate() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("internet-edge.yaml");
    std::fs::write(
        &config,
        common::with_netns_prefix(INTERNET_EDGE, EDGE_PREFIX),
    )
    .unwrap();
    let socket = dir.path().join("vnetd.sock");
    let mut run = common::vnetd_command(&socket);
    run.arg("run").arg(&config).args(["--ui", "127.0.0.1:0"]);
    let (mut lab, line) = common::spawn_lab(run, "live page: ");
    let url = line.trim().trim_start_matches("live page: ").to_string();
    let (addr, token) = common::live_page_address(&line);

    // The page's picture is the file's, as the offline renderers draw it.
    let loaded = vnetd::plan::load_file(&config).unwrap();
    let offline = vnetd::graph::cytoscape::elements(&vnetd::graph::Picture::of(
        &vnetd::snapshot::Snapshot::compile(loaded.topology, 0),
    ));
    let served = get_json(&addr, &token, "/api/graph");
    assert_eq!(served["elements"], Value::from(offline));

    let browser = Browser::launch().unwrap();
    let page = browser.open(&url).unwrap();
    page.wait_for("window.vnetdUi && vnetdUi.ready", "the picture", PATIENCE)
        .unwrap();
    the_internet_and_its_ways_are_drawn(&page);
    a_curl_to_the_internet_shows_as_its_rate(&page, &socket);
    a_curl_through_the_nat_gateway_shows_as_its_rate(&page);
    traces_reach_and_leave_the_internet(&page);
    page.screenshot(screenshot_named("live-page-internet-edge"))
        .unwrap();
    drop(page);
    drop(browser);
    common::stop_lab(&mut lab);
}

/// One GET with the page's token: the answer's JSON body.
fn get_json(addr: &str, token: &str, path: &str) -> Value {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{path}: {head}");
    serde_json::from_str(body).unwrap()
}

fn the_internet_and_its_ways_are_drawn(page: &Page) {
    let nodes = page
        .eval(
            "vnetdUi.cy.nodes('[kind = \"internet\"], [kind = \"nat_gateway\"]')\
             .map(n => [n.data('kind'), n.data('name'), n.data('label')]).sort()",
        )
        .unwrap();
    assert_eq!(
        nodes,
        json!([
            [
                "internet",
                "internet",
                "Internet\necho 203.0.113.10, port 80"
            ],
            [
                "nat_gateway",
                "hub-nat",
                "NAT gateway hub-nat\nStandard, idle 4 min\npublic 198.51.100.10"
            ]
        ])
    );
    // Each way out and in, by the names (or first label line) of its ends.
    let ways = page
        .eval(
            "vnetdUi.cy.edges('[kind = \"egress\"], [kind = \"ingress\"]').map(e => \
             [e.data('kind'), ...[e.source(), e.target()].map(n => n.data('name') || n.data('label').split('\\n')[0]), \
              e.data('label').split('\\n')[0]]).sort()",
        )
        .unwrap();
    assert_eq!(
        ways,
        json!([
            ["egress", "hub-nat", "internet", "outbound TCP, UDP"],
            [
                "egress",
                "subnet AzureFirewallSubnet",
                "hub-nat",
                "leaves by NatGateway"
            ],
            ["egress", "vm2", "internet", "leaves by PublicIp"],
            ["egress", "vm3", "internet", "leaves by DefaultOutbound"],
            ["ingress", "internet", "hub-fw", "DNAT https-to-vm2"]
        ])
    );
    // The Internet is a port: it has its row among the NICs.
    let rows = page
        .eval("[...document.querySelectorAll('tr[data-nic]')].map(r => r.dataset.nic).sort()")
        .unwrap();
    assert_eq!(rows, json!(["internet", "vm1", "vm2", "vm3", "vm4"]));
}

/// The bytes the Internet's port received and sent, as `vnetd stats`
/// counts them.
fn internet_bytes(socket: &Path) -> (u64, u64) {
    let out = common::vnetd_command(socket)
        .args(["stats", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    let internet = &stats["nics"]["internet"];
    let bytes = |field: &str| {
        internet[field]
            .as_u64()
            .unwrap_or_else(|| panic!("no {field} for the Internet in {stats}"))
    };
    (bytes("bytes_received"), bytes("bytes_sent"))
}

/// A real curl from vm2 to the echo server: the page's rate frames for
/// the Internet, from before it to the first idle frame after, add up to
/// what the Internet's port counted meanwhile (each frame's rate is
/// rounded to a byte a second), and vm2's way out carried it.
fn a_curl_to_the_internet_shows_as_its_rate(page: &Page, socket: &Path) {
    let vm2_way = page
        .eval(
            "vnetdUi.cy.edges('[kind = \"egress\"]')\
             .filter(e => e.source().data('name') === 'vm2')[0].id()",
        )
        .unwrap();
    let vm2_way = vm2_way.as_str().unwrap().to_string();
    // A frame begun before the curl and no traffic since: the counters
    // read now are where the frames after `before` start.
    let before = page
        .wait_for(
            "vnetdUi.history.length > 0 && !vnetdUi.history.at(-1).nics.internet && vnetdUi.seq",
            "an idle rates frame",
            PATIENCE,
        )
        .unwrap()
        .as_u64()
        .unwrap();
    let (received_before, sent_before) = internet_bytes(socket);
    assert_eq!(
        common::servers::echo_seen(&format!("{EDGE_PREFIX}-vm2")),
        "198.51.100.30",
        "vm2 leaves by its public IP"
    );
    // The frame that carried the curl, then an idle one: the counters read
    // then hold all of it.
    let frames = page
        .wait_for(
            &format!(
                "(() => {{ const h = vnetdUi.history.filter(f => f.seq > {before});                  const busy = h.findIndex(f => f.nics.internet);                  return busy >= 0 && h.slice(busy + 1).some(f => !f.nics.internet) && h.map(f =>                  [f.seq, f.interval_ms, (f.nics.internet || {{rx_bps: 0}}).rx_bps,                   (f.nics.internet || {{tx_bps: 0}}).tx_bps, ((f.links || {{}})['{vm2_way}'] || {{bps: 0}}).bps]); }})()"
            ),
            "the Internet busy, then idle again",
            PATIENCE,
        )
        .unwrap();
    let (received_after, sent_after) = internet_bytes(socket);
    let frames: Vec<Vec<f64>> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    let seqs: Vec<u64> = frames.iter().map(|f| f[0] as u64).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1) && seqs.first() == Some(&(before + 1)),
        "frames missing from the page's history: {seqs:?}"
    );
    let bits = |column: usize| -> f64 { frames.iter().map(|f| f[column] * f[1] / 1000.0).sum() };
    // Each frame's rate is rounded to a byte a second (and its interval to
    // a millisecond).
    let close = |page: f64, counted: u64| {
        let counted = counted as f64 * 8.0;
        (page - counted).abs() <= 8.0 * frames.len() as f64 + counted * 0.01
    };
    let received = received_after - received_before;
    let sent = sent_after - sent_before;
    assert!(
        received > 0 && sent > 0,
        "the Internet's port counted nothing"
    );
    assert!(
        close(bits(2), received),
        "the page's rates add up to {} bits received, the port counted {received} bytes: {frames:?}",
        bits(2)
    );
    assert!(
        close(bits(3), sent),
        "the page's rates add up to {} bits sent, the port counted {sent} bytes: {frames:?}",
        bits(3)
    );
    assert!(
        frames.iter().any(|f| f[4] > 0.0),
        "vm2's way out carried nothing: {frames:?}"
    );
}

/// A real curl from vm1, which leaves through the firewall and its
/// subnet's NAT gateway: over the frames from before it to the first idle
/// one after, what the gateway's node shows it sent to the Internet and
/// received adds up to what the Internet's port received and sent (the
/// same packets; each frame's rates are rounded to a byte a second).
fn a_curl_through_the_nat_gateway_shows_as_its_rate(page: &Page) {
    let before = page
        .wait_for(
            "vnetdUi.history.length > 0 && !vnetdUi.history.at(-1).nics.internet && vnetdUi.seq",
            "an idle rates frame",
            PATIENCE,
        )
        .unwrap()
        .as_u64()
        .unwrap();
    assert_eq!(
        common::servers::echo_seen(&format!("{EDGE_PREFIX}-vm1")),
        "198.51.100.10",
        "vm1 leaves by the NAT gateway"
    );
    let frames = page
        .wait_for(
            &format!(
                "(() => {{ const h = vnetdUi.history.filter(f => f.seq > {before}); \
                 const busy = h.findIndex(f => f.nat_gateways['hub-nat']); \
                 const idle = (f) => !f.nat_gateways['hub-nat'] && !f.nics.internet; \
                 const zero = {{tx_bps: 0, rx_bps: 0}}; \
                 return busy >= 0 && h.slice(busy + 1).some(idle) && h.map(f => \
                 [f.interval_ms, (f.nat_gateways['hub-nat'] || zero).tx_bps, \
                  (f.nat_gateways['hub-nat'] || zero).rx_bps, (f.nics.internet || zero).rx_bps, \
                  (f.nics.internet || zero).tx_bps]); }})()"
            ),
            "the NAT gateway busy, then idle again",
            PATIENCE,
        )
        .unwrap();
    let frames: Vec<Vec<f64>> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    let bits = |column: usize| -> f64 { frames.iter().map(|f| f[column] * f[0] / 1000.0).sum() };
    let rounding = 16.0 * frames.len() as f64;
    assert!(bits(1) > 0.0 && bits(2) > 0.0, "{frames:?}");
    assert!(
        (bits(1) - bits(3)).abs() <= rounding + bits(3) * 0.01,
        "the NAT gateway sent {} bits, the Internet received {}: {frames:?}",
        bits(1),
        bits(3)
    );
    assert!(
        (bits(2) - bits(4)).abs() <= rounding + bits(4) * 0.01,
        "the NAT gateway received {} bits, the Internet sent {}: {frames:?}",
        bits(2),
        bits(4)
    );
}

fn every_nic_and_peering_is_drawn(page: &Page) {
    let nics = page
        .eval(
            "vnetdUi.cy.nodes('[kind = \"nic\"], [kind = \"appliance\"]')\
             .map(n => n.data('name')).sort()",
        )
        .unwrap();
    assert_eq!(nics, json!(["nva1", "shared1", "vm1", "vm2"]));
    // Each peering between the hub and a spoke, connected, drawn between
    // their VNets' boxes.
    let peerings = page
        .eval(
            "vnetdUi.cy.edges('[kind = \"peering\"]').map(e => \
             [e.source().data('label').split('\\n')[0], e.target().data('label').split('\\n')[0], \
              e.data('state')]).sort()",
        )
        .unwrap();
    assert_eq!(
        peerings,
        json!([
            ["VNet hub", "VNet spoke1", "connected"],
            ["VNet hub", "VNet spoke2", "connected"]
        ])
    );
    // The table has a row per NIC.
    let rows = page
        .eval("[...document.querySelectorAll('tr[data-nic]')].map(r => r.dataset.nic).sort()")
        .unwrap();
    assert_eq!(rows, json!(["nva1", "shared1", "vm1", "vm2"]));
}

/// vm1's rate on the page while iperf3 sends from vm1 to shared1, held to
/// iperf3's own figure: over the transfer, the page's rate frames (each a
/// rate over its interval) add up to within 10 % of what iperf3 sent, so
/// the page's average rate over iperf3's run is iperf3's average rate
/// within 10 % (IP headers make the page's a few percent higher). Every
/// frame from the reading before the start (one that ended a frame, not
/// the daemon's silent baseline) to after the end is read from the page's
/// history, so the check depends neither on when frames arrive nor on how
/// steady the transfer is.
fn vm1_shows_the_rate_iperf3_measures(page: &Page) {
    let _server = common::iperf3_server(&ns("shared1"), "10.0.2.4");
    // The daemon's first reading after the page opens is a baseline and
    // sends no frame: until a frame has arrived, the baseline may be taken
    // after the transfer starts and miss its beginning. A frame received
    // means the reading it ended was taken before iperf3 starts.
    let before = page
        .wait_for(
            "vnetdUi.seq >= 1 && vnetdUi.seq",
            "a first rates frame",
            PATIENCE,
        )
        .unwrap()
        .as_u64()
        .unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &ns("vm1"), "iperf3", "-c", "10.0.2.4"])
        .args(["-t", "5", "-J"])
        .output()
        .unwrap();
    assert!(out.status.success(), "iperf3 -c failed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let iperf3_bits = report["end"]["sum_sent"]["bytes"].as_f64().unwrap() * 8.0;
    // The transfer has ended in the counters once a frame shows vm1 (almost)
    // idle again.
    page.wait_for(
        "vnetdUi.history.length > 1 && \
         (vnetdUi.history.at(-1).nics.vm1 || {tx_bps: 0}).tx_bps < 1e6",
        "a rates frame after the transfer",
        PATIENCE,
    )
    .unwrap();
    let frames = page
        .eval(&format!(
            "vnetdUi.history.filter(f => f.seq > {before}).map(f => \
             [f.seq, f.interval_ms, (f.nics.vm1 || {{tx_bps: 0}}).tx_bps])"
        ))
        .unwrap();
    let frames: Vec<(u64, f64, f64)> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f[0].as_u64().unwrap(),
                f[1].as_f64().unwrap(),
                f[2].as_f64().unwrap(),
            )
        })
        .collect();
    let seqs: Vec<u64> = frames.iter().map(|f| f.0).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1) && seqs.first() == Some(&(before + 1)),
        "frames missing from the page's history: {seqs:?}"
    );
    let busy = frames.iter().filter(|f| f.2 > 0.0).count();
    assert!(busy >= 4, "the rate moved in too few frames: {frames:?}");
    let page_bits: f64 = frames.iter().map(|(_, ms, bps)| bps * ms / 1000.0).sum();
    assert!(
        (page_bits / iperf3_bits - 1.0).abs() <= 0.10,
        "the page's rates add up to {page_bits:.0} bits over the transfer, iperf3 sent \
         {iperf3_bits:.0}: {frames:?}"
    );
    // The table shows it too, in words.
    let cell = page
        .eval("document.querySelector('tr[data-nic=\"vm1\"] [data-field=\"tx_bps\"]').textContent")
        .unwrap();
    assert!(cell.as_str().is_some_and(|t| !t.is_empty()), "{cell}");
}

fn a_denied_telnet_appears_with_its_rule(page: &Page) {
    let telnet: SocketAddr = "10.2.1.4:23".parse().unwrap();
    let tried = netns::run_in(&ns("vm1"), move || {
        Ok(TcpStream::connect_timeout(&telnet, Duration::from_secs(1)).is_ok())
    })
    .unwrap();
    assert!(!tried, "telnet to vm2 connected");
    let drop = page
        .wait_for(
            "(() => { const d = document.querySelector(\
             '#drops li[data-nic=\"vm2\"][data-rule=\"deny-telnet\"]'); \
             return d && [d.dataset.reason, d.textContent]; })()",
            "the denied telnet in the drops",
            PATIENCE,
        )
        .unwrap();
    assert_eq!(drop[0], "nsg_inbound", "{drop}");
    assert!(drop[1].as_str().unwrap().contains("10.2.1.4:23"), "{drop}");
}

fn a_trace_is_drawn_hop_by_hop(page: &Page) {
    page.set_hash("#trace=vm1,10.2.1.4,tcp,80").unwrap();
    page.wait_for(
        "vnetdUi.trace && vnetdUi.cy.edges('.trace').length > 0",
        "the trace drawn",
        PATIENCE,
    )
    .unwrap();
    let hops = page
        .eval("[...document.querySelectorAll('[data-trace-hop]')].map(h => h.dataset.nic)")
        .unwrap();
    assert_eq!(hops, json!(["vm1", "nva1", "vm2"]));
    let drawn = page
        .eval(
            "[vnetdUi.cy.nodes('.trace').map(n => n.data('name')).sort(), \
              vnetdUi.cy.edges('.trace').map(e => [e.source().data('name'), e.target().data('name')])]",
        )
        .unwrap();
    assert_eq!(
        drawn,
        json!([["nva1", "vm1", "vm2"], [["vm1", "nva1"], ["nva1", "vm2"]]])
    );
}

/// `/capture/vm1.pcapng`, as the page's link asks for it with a filter and
/// a packet count: the three pings' requests and replies, as tcpdump reads
/// them. Asked in HTTP/1.0, so the body is the file itself, and the pings
/// start once its first bytes (the capture is open) have arrived.
fn the_capture_download_holds_the_pings(addr: &str, token: &str, dir: &Path) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
        .write_all(
            format!(
                "GET /capture/vm1.pcapng?seconds=60&count=6&filter=icmp&token={token} HTTP/1.0\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let body_at = loop {
        let n = stream.read(&mut buf).expect("the capture's first bytes");
        assert!(n > 0, "the answer ended early: {answer:?}");
        answer.extend_from_slice(&buf[..n]);
        let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(at) = head_end.map(|p| p + 4).filter(|at| answer.len() > *at) {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&answer[..body_at]).to_lowercase();
    assert!(head.starts_with("http/1.0 200 ok\r\n"), "{head}");
    assert!(
        head.contains("content-type: application/x-pcapng"),
        "{head}"
    );
    assert!(common::ping(&ns("vm1"), "10.2.1.4"), "vm1 cannot ping vm2");
    stream.read_to_end(&mut answer).unwrap();
    let file = dir.join("download.pcapng");
    std::fs::write(&file, &answer[body_at..]).unwrap();
    let read = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&read.stdout);
    let count = |what: &str| text.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("10.1.1.4 > 10.2.1.4: ICMP echo request"), 3, "{text}");
    assert_eq!(count("10.2.1.4 > 10.1.1.4: ICMP echo reply"), 3, "{text}");
}

/// A trace to the echo server ends at the Internet's node; one from the
/// Internet to the firewall's public address follows the DNAT rule to vm2.
fn traces_reach_and_leave_the_internet(page: &Page) {
    for (hash, nodes, edges) in [
        (
            "#trace=vm2,203.0.113.10,tcp,80",
            json!(["internet", "vm2"]),
            json!([["vm2", "internet"]]),
        ),
        (
            "#trace=internet,198.51.100.20,tcp,443",
            json!(["hub-fw", "internet", "vm2"]),
            json!([["internet", "hub-fw"], ["hub-fw", "vm2"]]),
        ),
    ] {
        page.set_hash(hash).unwrap();
        let from = hash["#trace=".len()..].split(',').next().unwrap();
        let drawn = page
            .wait_for(
                &format!(
                    "vnetdUi.trace && vnetdUi.trace.from === '{from}' && vnetdUi.cy.edges('.trace').length > 0 && \
                     [vnetdUi.cy.nodes('.trace').map(n => n.data('name')).sort(), \
                      vnetdUi.cy.edges('.trace').map(e => [e.source().data('name'), e.target().data('name')])]"
                ),
                "the trace drawn",
                PATIENCE,
            )
            .unwrap();
        assert_eq!(drawn, json!([nodes, edges]), "{hash}");
    }
}
