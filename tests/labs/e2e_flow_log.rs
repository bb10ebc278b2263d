//! NSG flow logs as `vnetd run --flow-log-dir` writes them: a real TCP
//! connection through the hub NVA to vm2 (whose subnet has NSG
//! spoke2-app-nsg) must appear in that NSG's PT1H.json as a Begin and an
//! End tuple under the rule that allowed it, with plausible counts, and a
//! connection to the telnet port as a deny under `deny-telnet`. Needs root
//! (see `common::require_root`).

use crate::common;

use common::LabProcess;
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};
use vnetd::host::netns;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");
const PREFIX: &str = "e2flog";

fn temp_path(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vnetd-{PREFIX}-{what}-{}", std::process::id()))
}

/// Starts `vnetd run ARGS` on its own control socket and waits until the
/// lab is up.
fn start(args: &[&str]) -> LabProcess {
    let mut run = common::vnetd_command(&temp_path("sock"));
    run.arg("run").args(args);
    common::spawn_lab(run, "").0
}

fn stop(child: &mut Child) {
    common::stop_lab(child)
}

/// One TCP connection from vm1 to vm2:7400 that sends `payload`, gets it
/// back and closes. Returns the client's port.
fn tcp_exchange(payload: &[u8]) -> u16 {
    let server: SocketAddr = "10.2.1.4:7400".parse().unwrap();
    let listener = netns::run_in(&format!("{PREFIX}-vm2"), move || {
        Ok(TcpListener::bind(server)?)
    })
    .unwrap();
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        stream.write_all(&got).unwrap();
    });
    let mut client = netns::run_in(&format!("{PREFIX}-vm1"), move || {
        Ok(TcpStream::connect_timeout(&server, Duration::from_secs(3))?)
    })
    .unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let port = client.local_addr().unwrap().port();
    client.write_all(payload).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).unwrap();
    assert_eq!(back, payload);
    drop(client);
    echo.join().unwrap();
    port
}

/// A connection attempt to vm2's telnet port, which spoke2-app-nsg denies.
/// Returns the client's port.
fn telnet_attempt() -> u16 {
    netns::run_in(&format!("{PREFIX}-vm1"), || {
        Ok(half_open_connect("10.2.1.4:23".parse().unwrap()))
    })
    .unwrap()
}

/// Starts a connection that will never be answered, from a port chosen
/// first (so it is known although the connect never completes), and gives
/// up after a SYN retransmission.
fn half_open_connect(server: SocketAddr) -> u16 {
    let listener = TcpListener::bind("10.1.1.4:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&SocketAddr::from(([10, 1, 1, 4], port)).into())
        .unwrap();
    socket.set_nonblocking(true).unwrap();
    // In progress: the SYN (and a retransmission) go out; the NSG drops them.
    let _ = socket.connect(&server.into());
    std::thread::sleep(Duration::from_millis(1500));
    drop(socket);
    port
}

/// Every PT1H.json under `dir`.
fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.file_name().is_some_and(|n| n == "PT1H.json") {
                out.push(path);
            }
        }
    }
    out
}

/// (rule, tuple) of every tuple in the files of one NSG, and the records.
fn tuples_of(dir: &Path, nsg_upper: &str) -> (Vec<(String, String)>, Vec<serde_json::Value>) {
    let mut tuples = Vec::new();
    let mut records = Vec::new();
    for file in log_files(dir) {
        let text = file.to_string_lossy().into_owned();
        if !text.contains(&format!("/NETWORKSECURITYGROUPS/{nsg_upper}/")) {
            continue;
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for record in doc["records"].as_array().unwrap() {
            for rule in record["properties"]["flows"].as_array().unwrap() {
                for mac in rule["flows"].as_array().unwrap() {
                    for t in mac["flowTuples"].as_array().unwrap() {
                        tuples.push((
                            rule["rule"].as_str().unwrap().to_string(),
                            t.as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
            records.push(record.clone());
        }
    }
    (tuples, records)
}

fn find<'a>(
    tuples: &'a [(String, String)],
    five_tuple: &str,
    tail: &str,
) -> Vec<&'a (String, String)> {
    tuples
        .iter()
        .filter(|(_, t)| {
            t.split_once(',')
                .is_some_and(|(_, rest)| rest.starts_with(five_tuple))
        })
        .filter(|(_, t)| t.contains(tail))
        .collect()
}

#[test]
fn flow_logs_record_begin_end_and_denies_in_azure_format() {
    common::require_root();
    let config = temp_path("config.yaml");
    std::fs::write(&config, common::with_netns_prefix(HUB_SPOKE, PREFIX)).unwrap();
    let dir = temp_path("logs");
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = start(&[
        config.to_str().unwrap(),
        "--flow-log-dir",
        dir.to_str().unwrap(),
        "--flow-log-interval-secs",
        "1",
    ]);
    let payload = vec![0x5a; 3000];
    let port = tcp_exchange(&payload);
    let telnet_port = telnet_attempt();
    let allowed = format!("10.1.1.4,10.2.1.4,{port},7400,T,I,A,");
    let denied = format!("10.1.1.4,10.2.1.4,{telnet_port},23,T,I,D,");
    // The flow leaves the table a few seconds after its FINs.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (tuples, _) = tuples_of(&dir, "SPOKE2-APP-NSG");
        let done = !find(&tuples, &allowed, ",A,E,").is_empty()
            && !find(&tuples, &denied, ",D,").is_empty();
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop(&mut child);
    let (tuples, records) = tuples_of(&dir, "SPOKE2-APP-NSG");
    let other_nsgs: Vec<PathBuf> = log_files(&dir)
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("/SPOKE2-APP-NSG/"))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&config);

    let begins = find(&tuples, &allowed, ",A,B,");
    assert_eq!(begins.len(), 1, "one begin tuple: {tuples:#?}");
    assert_eq!(begins[0].0, "DefaultRule_AllowVnetInBound");
    assert!(begins[0].1.ends_with(",A,B,,,,"), "{}", begins[0].1);
    let ends = find(&tuples, &allowed, ",A,E,");
    assert_eq!(ends.len(), 1, "one end tuple: {tuples:#?}");
    assert_eq!(ends[0].0, "DefaultRule_AllowVnetInBound");
    let counts: Vec<u64> = ends[0]
        .1
        .rsplit(',')
        .take(4)
        .map(|c| c.parse().unwrap())
        .collect();
    let (bytes_back, packets_back, bytes_out, packets_out) =
        (counts[0], counts[1], counts[2], counts[3]);
    assert!(packets_out > 0 && packets_back > 0, "{}", ends[0].1);
    assert!(bytes_out >= 40 * packets_out, "{}", ends[0].1);
    assert!(bytes_back >= 40 * packets_back, "{}", ends[0].1);
    // Each side sent the payload, headers come on top.
    assert!(bytes_out >= payload.len() as u64, "{}", ends[0].1);
    assert!(bytes_back >= payload.len() as u64, "{}", ends[0].1);

    // One deny tuple per interval: the SYN and its retransmissions (a
    // second apart, as the interval) give one or two.
    let denies = find(&tuples, &denied, ",D,");
    assert!(
        (1..=2).contains(&denies.len()),
        "deny tuples of the telnet attempt: {tuples:#?}"
    );
    for (rule, tuple) in denies {
        assert_eq!(rule, "UserRule_deny-telnet");
        assert!(tuple.ends_with(",D,B,,,,"), "{tuple}");
    }

    // The lab's only NSG is the only one that logs: NICs without an NSG
    // (vm1, the NVA) write nothing.
    assert_eq!(other_nsgs, Vec::<PathBuf>::new());
    assert!(!records.is_empty());
    for record in &records {
        let mut keys: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "category",
                "macAddress",
                "operationName",
                "properties",
                "resourceId",
                "systemId",
                "time"
            ]
        );
        assert_eq!(record["category"], "NetworkSecurityGroupFlowEvent");
        assert_eq!(record["operationName"], "NetworkSecurityGroupFlowEvents");
        assert_eq!(record["properties"]["Version"], 2);
        assert!(record["resourceId"]
            .as_str()
            .unwrap()
            .ends_with("/NETWORKSECURITYGROUPS/SPOKE2-APP-NSG"));
        assert!(record["time"].as_str().unwrap().ends_with('Z'));
    }
}

/// A symlink planted in the blob path, pointing out of `--flow-log-dir`:
/// the running lab refuses to write through it, says so in its log (a
/// warning on stderr), and nothing appears outside the directory.
#[test]
fn flow_logs_never_follow_a_planted_symlink() {
    common::require_root();
    let prefix = "e2flsym";
    let config = temp_path("sym-config.yaml");
    std::fs::write(&config, common::with_netns_prefix(HUB_SPOKE, prefix)).unwrap();
    let (dir, outside) = (temp_path("sym-logs"), temp_path("sym-outside"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("resourceId=")).unwrap();
    let mut run = common::vnetd_command(&temp_path("sym-sock"));
    run.arg("run").args([
        config.to_str().unwrap(),
        "--flow-log-dir",
        dir.to_str().unwrap(),
        "--flow-log-interval-secs",
        "1",
    ]);
    let (mut child, _) = common::spawn_lab(run, "");
    // A denied connection attempt gives spoke2-app-nsg something to log.
    netns::run_in(&format!("{prefix}-vm1"), || {
        Ok(half_open_connect("10.2.1.4:23".parse().unwrap()))
    })
    .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    // Three intervals: the deny is due in the first.
    std::thread::sleep(Duration::from_secs(3));
    stop(&mut child);
    let stderr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let outside_entries: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
    let _ = std::fs::remove_file(&config);
    assert_eq!(outside_entries, Vec::<PathBuf>::new());
    assert!(
        stderr.contains(" WARN ")
            && stderr.contains("vnetd::daemon::reporting::flow_log: flow logs: opening ")
            && stderr.contains("resourceId=: ")
            && stderr.contains("(a symbolic link or not a directory: refused)"),
        "{stderr}"
    );
}
