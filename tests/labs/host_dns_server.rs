//! Real DNS servers in a namespace (needs root): unbound and BIND 9 started
//! from a spec with no root forwarder, asked with `dig` inside the
//! namespace: the zone they answer themselves, a name below it they lack
//! (NXDOMAIN), and a name they must forward to a server that is not there
//! (SERVFAIL or no answer, never an address). Each runs as its package's
//! user, chrooted to its directory (root's, its group's to read), and the
//! directory is gone once the server is.
//!
//! The namespace is `vnetdt-<pid>-dns-<software>`, removed by a guard even
//! when an assertion fails (the server goes with it).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use vnetd::host::dns_server::{
    DnsName, DnsServer, DnsServerSpec, DnsSoftware, ForwarderSpec, Owner, RecordValue, ZoneRecord,
    ZoneSpec,
};
use vnetd::host::netns;

struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = netns::delete(&self.0);
    }
}

fn dig(netns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            netns,
            "dig",
            "@127.0.0.1",
            "+time=2",
            "+tries=1",
        ])
        .args(args)
        .output()
        .expect("running dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dns_name(text: &str) -> DnsName {
    DnsName::new(text).unwrap()
}

fn record(owner: &str, value: RecordValue) -> ZoneRecord {
    let owner = match owner {
        "@" => Owner::Apex,
        below => Owner::Below(dns_name(below)),
    };
    ZoneRecord {
        owner,
        ttl: 300,
        value,
    }
}

/// The user a process runs as, and the root it sees.
fn identity_of(pid: u32) -> (u32, std::path::PathBuf) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    (
        uid,
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
    )
}

fn answers_as_configured(software: DnsSoftware, tag: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root: it builds a namespace"
    );
    let name = format!("vnetdt-{}-dns-{tag}", std::process::id());
    netns::create(&name).expect("creating the namespace");
    let _guard = Namespace(name.clone());
    vnetd::host::netlink::set_link_up(&name, "lo").expect("lo up");
    let spec = DnsServerSpec {
        netns: name.clone(),
        run_dir: format!("/run/vnetd-test-dns/{name}").into(),
        software,
        zones: vec![ZoneSpec {
            name: dns_name("corp.contoso.com"),
            records: vec![
                record("app", RecordValue::A("192.168.1.20".parse().unwrap())),
                record("www", RecordValue::Cname(dns_name("app.corp.contoso.com"))),
                record("@", RecordValue::Txt("owner=network team".into())),
            ],
        }],
        forwarders: vec![ForwarderSpec {
            domain: Some(dns_name("blob.core.windows.net")),
            // Nothing listens there.
            addresses: vec!["127.0.0.9:53".parse().unwrap()],
        }],
    };
    let run_dir = spec.run_dir.clone();
    let server = DnsServer::start(spec).expect("the server starts and answers");
    // Unprivileged, chrooted, in a directory only its group may read.
    let user = nix::unistd::User::from_name(software.user())
        .unwrap()
        .unwrap();
    let pid = server_pid(&name, software.program());
    assert_eq!(identity_of(pid), (user.uid.as_raw(), run_dir.clone()));
    let meta = std::fs::metadata(&run_dir).unwrap();
    assert_eq!(
        (meta.permissions().mode() & 0o777, meta.uid(), meta.gid()),
        (0o750, 0, user.gid.as_raw())
    );
    assert_eq!(
        dig(&name, &["+short", "app.corp.contoso.com"]).trim(),
        "192.168.1.20"
    );
    // BIND chases a CNAME inside its own zone; unbound gives local data
    // as written, the CNAME alone.
    let chased = match software {
        DnsSoftware::Bind => "app.corp.contoso.com.\n192.168.1.20",
        DnsSoftware::Unbound => "app.corp.contoso.com.",
    };
    assert_eq!(
        dig(&name, &["+short", "www.corp.contoso.com"]).trim(),
        chased
    );
    assert_eq!(
        dig(&name, &["+short", "TXT", "corp.contoso.com"]).trim(),
        "\"owner=network team\""
    );
    let missing = dig(&name, &["nothing.corp.contoso.com"]);
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");
    // Forwarded to a server that is not there: no address comes back.
    let forwarded = dig(&name, &["+short", "x.blob.core.windows.net"]);
    let addresses = forwarded
        .lines()
        .filter(|l| l.trim().parse::<std::net::IpAddr>().is_ok())
        .count();
    assert_eq!(addresses, 0, "{forwarded}");
    drop(server);
    assert!(!run_dir.exists(), "{} is left", run_dir.display());
}

/// The pid of the one `program` running in `netns`.
fn server_pid(netns: &str, program: &str) -> u32 {
    let pids = vnetd::host::netns::processes_in(netns).unwrap();
    let found: Vec<u32> = pids
        .into_iter()
        .filter(|pid| vnetd::host::process::name_of(*pid).as_deref() == Some(program))
        .collect();
    assert_eq!(found.len(), 1, "{program} in {netns}: {found:?}");
    found[0]
}

#[test]
fn unbound_answers_its_zone_and_forwards_by_domain() {
    answers_as_configured(DnsSoftware::Unbound, "unbound");
}

#[test]
fn bind_answers_its_zone_and_forwards_by_domain() {
    answers_as_configured(DnsSoftware::Bind, "bind");
}
