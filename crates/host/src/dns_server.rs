//! A real DNS server in a namespace: unbound or BIND 9's `named`, from
//! Debian's packages, in the foreground, with a configuration written from
//! a [`DnsServerSpec`]: zones it answers itself, and forwarders by domain
//! (the root's, `""`, takes every other name). Without a root forwarder it
//! resolves from the Internet's root servers, as a freshly installed server
//! does; a lab reaches none, so such names fail.
//!
//! Plain DNS: it knows nothing of Azure.

use crate::routing::{create_run_dir, wait_for, Daemon};
use anyhow::{Context, Result};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

/// The servers vnetd runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSoftware {
    Unbound,
    Bind,
}

impl DnsSoftware {
    /// The program started.
    pub fn program(self) -> &'static str {
        match self {
            DnsSoftware::Unbound => "unbound",
            DnsSoftware::Bind => "named",
        }
    }

    /// The Debian package that holds it.
    pub fn package(self) -> &'static str {
        match self {
            DnsSoftware::Unbound => "unbound",
            DnsSoftware::Bind => "bind9",
        }
    }
}

/// One record of a zone: owner (relative to the zone, `@` for its apex),
/// type, TTL and data, as a zone file writes them (names without the final
/// dot: the writers add it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    pub owner: String,
    pub record_type: String,
    pub ttl: u32,
    pub data: String,
}

/// A zone the server answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    /// Lower case, without the final dot.
    pub name: String,
    pub records: Vec<ZoneRecord>,
}

/// Queries for `domain` and below go to `addresses`; `""` is the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderSpec {
    pub domain: String,
    pub addresses: Vec<SocketAddr>,
}

/// A DNS server to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsServerSpec {
    /// The namespace it runs in; it listens on every address there, port 53.
    pub netns: String,
    /// Where its configuration, zone files and output go.
    pub run_dir: PathBuf,
    pub software: DnsSoftware,
    pub zones: Vec<ZoneSpec>,
    pub forwarders: Vec<ForwarderSpec>,
}

/// How long a server gets to answer its first query.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running DNS server; stopped when dropped.
#[derive(Debug)]
pub struct DnsServer {
    spec: DnsServerSpec,
    daemon: Daemon,
}

impl DnsServer {
    /// Writes the configuration and starts the server in `spec.netns`;
    /// returns once it answers on port 53 there.
    pub fn start(spec: DnsServerSpec) -> Result<DnsServer> {
        create_run_dir(&spec.run_dir)?;
        let (config, args) = match spec.software {
            DnsSoftware::Unbound => {
                let path = spec.run_dir.join("unbound.conf");
                let args = vec!["-d".to_owned(), "-c".to_owned(), path.display().to_string()];
                (unbound_config(&spec), (path, args))
            }
            DnsSoftware::Bind => {
                for zone in &spec.zones {
                    let file = spec.run_dir.join(zone_file_name(&zone.name));
                    std::fs::write(&file, zone_file(zone))
                        .with_context(|| format!("writing {}", file.display()))?;
                }
                let path = spec.run_dir.join("named.conf");
                let args = vec!["-g".to_owned(), "-c".to_owned(), path.display().to_string()];
                (named_config(&spec), (path, args))
            }
        };
        let (path, args) = args;
        std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
        let program = spec.software.program();
        let log = spec.run_dir.join(format!("{program}.out"));
        let daemon = Daemon::spawn(&spec.netns, program, &args, &log)?;
        let mut server = DnsServer { spec, daemon };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits until the server answers a query on port 53 in its namespace
    /// (any answer: the name asked need not exist).
    fn wait_ready(&mut self) -> Result<()> {
        let netns = self.spec.netns.clone();
        let program = self.spec.software.program();
        wait_for(START_TIMEOUT, &format!("{program} to answer"), || {
            self.daemon.check_running()?;
            Ok(answers_in(&netns).then_some(()))
        })
        .with_context(|| format!("starting {program} in {netns}"))
    }

    /// What it was started with.
    pub fn spec(&self) -> &DnsServerSpec {
        &self.spec
    }

    /// Whether its process has ended (reaped here, once).
    pub fn exited(&mut self) -> Option<String> {
        self.daemon.reap().map(|exit| exit.how)
    }

    /// Starts it again the same way.
    pub fn restart(&mut self) -> Result<()> {
        self.daemon.respawn()?;
        self.wait_ready()
    }
}

/// Whether something in `netns` answers a DNS query on 127.0.0.1:53 within
/// a short wait.
fn answers_in(netns: &str) -> bool {
    crate::netns::run_in(netns, || {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(300)))?;
        // A query for the root's SOA, id 0x7664, recursion desired.
        let query = [
            0x76, 0x64, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x06, 0x00, 0x01,
        ];
        socket.send_to(&query, "127.0.0.1:53")?;
        let mut answer = [0u8; 512];
        let (n, _) = socket.recv_from(&mut answer)?;
        Ok(n >= 12 && answer[0] == 0x76 && answer[1] == 0x64)
    })
    .unwrap_or(false)
}

fn absolute(name: &str) -> String {
    if name.is_empty() {
        ".".to_owned()
    } else {
        format!("{name}.")
    }
}

/// A record's owner as a full name.
fn owner_name(zone: &str, owner: &str) -> String {
    if owner == "@" {
        absolute(zone)
    } else {
        absolute(&format!("{owner}.{zone}"))
    }
}

/// Record data with the final dots names take in a zone file, and TXT
/// quoted.
fn zone_data(record_type: &str, data: &str) -> String {
    let words: Vec<&str> = data.split_whitespace().collect();
    match (record_type, words.as_slice()) {
        ("CNAME" | "PTR", [name]) => absolute(name),
        ("MX", [preference, name]) => format!("{preference} {}", absolute(name)),
        ("SRV", [priority, weight, port, name]) => {
            format!("{priority} {weight} {port} {}", absolute(name))
        }
        ("TXT", _) => format!("\"{}\"", data.replace('\\', "\\\\").replace('"', "\\\"")),
        _ => data.to_owned(),
    }
}

/// unbound's configuration: root privileges kept (its files are vnetd's),
/// no DNSSEC validation (a lab has no trust anchor), short caches (a lab's
/// records change under it), zones as local data, forwarders as forward
/// zones.
pub fn unbound_config(spec: &DnsServerSpec) -> String {
    let dir = spec.run_dir.display();
    let mut text = format!(
        "server:\n\
         \x20 username: \"\"\n\
         \x20 chroot: \"\"\n\
         \x20 directory: \"{dir}\"\n\
         \x20 pidfile: \"{dir}/unbound.pid\"\n\
         \x20 use-syslog: no\n\
         \x20 logfile: \"\"\n\
         \x20 interface: 0.0.0.0\n\
         \x20 port: 53\n\
         \x20 do-ip6: no\n\
         \x20 num-threads: 1\n\
         \x20 so-reuseport: no\n\
         \x20 access-control: 0.0.0.0/0 allow\n\
         \x20 module-config: \"iterator\"\n\
         \x20 cache-max-ttl: 30\n\
         \x20 cache-max-negative-ttl: 5\n\
         \x20 harden-referral-path: no\n\
         \x20 qname-minimisation: no\n"
    );
    push_sections(
        &mut text,
        &spec.zones,
        |zone| format!("  local-zone: \"{}\" static\n", absolute(&zone.name)),
        |zone| zone.records.as_slice(),
        |zone, r| {
            format!(
                "  local-data: '{} {} IN {} {}'\n",
                owner_name(&zone.name, &r.owner),
                r.ttl,
                r.record_type,
                zone_data(&r.record_type, &r.data)
            )
        },
    );
    text.push_str("remote-control:\n  control-enable: no\n");
    push_sections(
        &mut text,
        &spec.forwarders,
        |forwarder| {
            format!(
                "forward-zone:\n  name: \"{}\"\n",
                absolute(&forwarder.domain)
            )
        },
        |forwarder| forwarder.addresses.as_slice(),
        |_, address| format!("  forward-addr: {}@{}\n", address.ip(), address.port()),
    );
    text
}

/// Appends each of `sections`' heading, then a line for each of its entries.
fn push_sections<S, E>(
    text: &mut String,
    sections: &[S],
    heading: impl Fn(&S) -> String,
    entries: fn(&S) -> &[E],
    line: impl Fn(&S, &E) -> String,
) {
    for section in sections {
        text.push_str(&heading(section));
        for entry in entries(section) {
            text.push_str(&line(section, entry));
        }
    }
}

fn zone_file_name(zone: &str) -> String {
    format!("{zone}.zone")
}

fn forwarders_clause(addresses: &[SocketAddr]) -> String {
    let listed: Vec<String> = addresses
        .iter()
        .map(|a| format!("{} port {};", a.ip(), a.port()))
        .collect();
    format!("forwarders {{ {} }}; forward only;", listed.join(" "))
}

/// `named`'s configuration: recursion for anyone, no DNSSEC validation,
/// short caches, no control channel; zones as primary zones, forwarders by
/// domain as forward zones (the root's in the options).
pub fn named_config(spec: &DnsServerSpec) -> String {
    let dir = spec.run_dir.display();
    let root = spec
        .forwarders
        .iter()
        .find(|f| f.domain.is_empty())
        .map(|f| format!("  {}\n", forwarders_clause(&f.addresses)))
        .unwrap_or_default();
    let mut text = format!(
        "options {{\n\
         \x20 directory \"{dir}\";\n\
         \x20 pid-file \"{dir}/named.pid\";\n\
         \x20 listen-on port 53 {{ any; }};\n\
         \x20 listen-on-v6 {{ none; }};\n\
         \x20 allow-query {{ any; }};\n\
         \x20 allow-recursion {{ any; }};\n\
         \x20 recursion yes;\n\
         \x20 dnssec-validation no;\n\
         \x20 max-cache-ttl 30;\n\
         \x20 max-ncache-ttl 5;\n\
         {root}}};\n\
         controls {{ }};\n"
    );
    for zone in &spec.zones {
        text.push_str(&format!(
            "zone \"{}\" {{ type primary; file \"{}\"; }};\n",
            zone.name,
            zone_file_name(&zone.name)
        ));
    }
    for forwarder in spec.forwarders.iter().filter(|f| !f.domain.is_empty()) {
        text.push_str(&format!(
            "zone \"{}\" {{ type forward; {} }};\n",
            forwarder.domain,
            forwarders_clause(&forwarder.addresses)
        ));
    }
    text
}

/// A zone file for `named`: its SOA and NS (the server itself, `ns`, at
/// 127.0.0.1 unless the zone names `ns`), then the records.
pub fn zone_file(zone: &ZoneSpec) -> String {
    let apex = absolute(&zone.name);
    let mut text = format!(
        "$TTL 300\n@ IN SOA ns.{apex} hostmaster.{apex} 1 3600 600 86400 5\n@ IN NS ns.{apex}\n"
    );
    if !zone.records.iter().any(|r| r.owner == "ns") {
        text.push_str("ns IN A 127.0.0.1\n");
    }
    for r in &zone.records {
        text.push_str(&format!(
            "{} {} IN {} {}\n",
            owner_name(&zone.name, &r.owner),
            r.ttl,
            r.record_type,
            zone_data(&r.record_type, &r.data)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(software: DnsSoftware) -> DnsServerSpec {
        DnsServerSpec {
            netns: "dc1".into(),
            run_dir: "/run/vnetd/lab/dns/dc1".into(),
            software,
            zones: vec![ZoneSpec {
                name: "corp.contoso.com".into(),
                records: vec![
                    ZoneRecord {
                        owner: "app".into(),
                        record_type: "A".into(),
                        ttl: 300,
                        data: "192.168.1.20".into(),
                    },
                    ZoneRecord {
                        owner: "www".into(),
                        record_type: "CNAME".into(),
                        ttl: 60,
                        data: "app.corp.contoso.com".into(),
                    },
                ],
            }],
            forwarders: vec![
                ForwarderSpec {
                    domain: "blob.core.windows.net".into(),
                    addresses: vec!["10.0.5.4:53".parse().unwrap()],
                },
                ForwarderSpec {
                    domain: String::new(),
                    addresses: vec!["168.63.129.16:53".parse().unwrap()],
                },
            ],
        }
    }

    #[test]
    fn unbound_answers_its_zones_and_forwards_by_domain() {
        let text = unbound_config(&spec(DnsSoftware::Unbound));
        assert!(text.contains("  local-zone: \"corp.contoso.com.\" static\n"));
        assert!(text.contains("  local-data: 'app.corp.contoso.com. 300 IN A 192.168.1.20'\n"));
        assert!(text
            .contains("  local-data: 'www.corp.contoso.com. 60 IN CNAME app.corp.contoso.com.'\n"));
        assert!(text.contains(
            "forward-zone:\n  name: \"blob.core.windows.net.\"\n  forward-addr: 10.0.5.4@53\n"
        ));
        assert!(text.contains("forward-zone:\n  name: \".\"\n  forward-addr: 168.63.129.16@53\n"));
        assert!(text.contains("  module-config: \"iterator\"\n"));
    }

    #[test]
    fn named_answers_its_zones_and_forwards_by_domain() {
        let s = spec(DnsSoftware::Bind);
        let text = named_config(&s);
        assert!(text.contains("  forwarders { 168.63.129.16 port 53; }; forward only;\n"));
        assert!(text.contains(
            "zone \"blob.core.windows.net\" { type forward; forwarders { 10.0.5.4 port 53; }; \
             forward only; };\n"
        ));
        assert!(text.contains(
            "zone \"corp.contoso.com\" { type primary; file \"corp.contoso.com.zone\"; };\n"
        ));
        let zone = zone_file(&s.zones[0]);
        assert!(zone.contains("app.corp.contoso.com. 300 IN A 192.168.1.20\n"));
        assert!(zone.contains("www.corp.contoso.com. 60 IN CNAME app.corp.contoso.com.\n"));
        assert!(zone.starts_with("$TTL 300\n@ IN SOA ns.corp.contoso.com. "));
    }

    #[test]
    fn txt_is_quoted_and_names_end_with_a_dot() {
        assert_eq!(zone_data("TXT", "v=spf1 \"x\""), "\"v=spf1 \\\"x\\\"\"");
        assert_eq!(zone_data("MX", "10 mail.x.com"), "10 mail.x.com.");
        assert_eq!(zone_data("SRV", "1 2 443 sip.x.com"), "1 2 443 sip.x.com.");
        assert_eq!(zone_data("A", "10.0.0.4"), "10.0.0.4");
    }
}
