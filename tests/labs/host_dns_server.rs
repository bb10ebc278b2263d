//! Real DNS servers in a namespace (needs root): unbound and BIND 9 started
//! from a spec, asked with `dig` inside the namespace: the zone they answer
//! themselves, a name below it they lack (NXDOMAIN), and a name they must
//! forward to a server that is not there (SERVFAIL or no answer, never an
//! address).
//!
//! The namespace is `vnetdt-<pid>-dns-<software>`, removed by a guard even
//! when an assertion fails (the server goes with it).

use std::process::Command;
use vnetd::host::dns_server::{
    DnsServer, DnsServerSpec, DnsSoftware, ForwarderSpec, ZoneRecord, ZoneSpec,
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

fn record(owner: &str, record_type: &str, data: &str) -> ZoneRecord {
    ZoneRecord {
        owner: owner.into(),
        record_type: record_type.into(),
        ttl: 300,
        data: data.into(),
    }
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
            name: "corp.contoso.com".into(),
            records: vec![
                record("app", "A", "192.168.1.20"),
                record("www", "CNAME", "app.corp.contoso.com"),
                record("@", "TXT", "owner=network team"),
            ],
        }],
        forwarders: vec![ForwarderSpec {
            domain: "blob.core.windows.net".into(),
            // Nothing listens there.
            addresses: vec!["127.0.0.9:53".parse().unwrap()],
        }],
    };
    let server = DnsServer::start(spec).expect("the server starts and answers");
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
    let _ = std::fs::remove_dir_all(format!("/run/vnetd-test-dns/{name}"));
}

#[test]
fn unbound_answers_its_zone_and_forwards_by_domain() {
    answers_as_configured(DnsSoftware::Unbound, "unbound");
}

#[test]
fn bind_answers_its_zone_and_forwards_by_domain() {
    answers_as_configured(DnsSoftware::Bind, "bind");
}
