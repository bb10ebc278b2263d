//! What a DNS server is to serve, as typed values: the software that
//! runs it, the zones it answers itself with their records, and the
//! forwarders it sends every other name to ([`DnsServerSpec`]). The
//! writers of [`super::unbound`] and [`super::named`] turn one into the
//! server's files.

use crate::config_text::dns::{character_strings, DnsName};
use crate::config_text::Refused;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

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

    /// The user it runs as, which its package creates.
    pub fn user(self) -> &'static str {
        match self {
            DnsSoftware::Unbound => "unbound",
            DnsSoftware::Bind => "bind",
        }
    }
}

/// Where a record is in its zone: the apex (`@`) or a name below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Apex,
    /// Relative to the zone: `app` in `corp.contoso.com`.
    Below(DnsName),
}

/// One record's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(DnsName),
    Ptr(DnsName),
    Mx {
        preference: u16,
        exchange: DnsName,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: DnsName,
    },
    /// Any text: written as character-strings of at most 255 bytes.
    Txt(String),
}

impl RecordValue {
    /// The record type's mnemonic.
    pub fn type_name(&self) -> &'static str {
        match self {
            RecordValue::A(_) => "A",
            RecordValue::Aaaa(_) => "AAAA",
            RecordValue::Cname(_) => "CNAME",
            RecordValue::Ptr(_) => "PTR",
            RecordValue::Mx { .. } => "MX",
            RecordValue::Srv { .. } => "SRV",
            RecordValue::Txt(_) => "TXT",
        }
    }

    /// The value in master-file text, names absolute.
    pub fn master_text(&self) -> String {
        match self {
            RecordValue::A(a) => a.to_string(),
            RecordValue::Aaaa(a) => a.to_string(),
            RecordValue::Cname(n) | RecordValue::Ptr(n) => n.absolute(),
            RecordValue::Mx {
                preference,
                exchange,
            } => format!("{preference} {}", exchange.absolute()),
            RecordValue::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {}", target.absolute()),
            RecordValue::Txt(text) => character_strings(text),
        }
    }
}

/// One record of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    pub owner: Owner,
    pub ttl: u32,
    pub value: RecordValue,
}

impl ZoneRecord {
    /// The record as one master-file line, its owner absolute:
    /// `app.corp.contoso.com. 300 IN A 192.168.1.20`; refused when the
    /// owner's full name would be longer than a name can be.
    pub fn line(&self, zone: &DnsName) -> Result<String, Refused> {
        let owner = match &self.owner {
            Owner::Apex => zone.clone(),
            Owner::Below(name) => name.below(zone)?,
        };
        Ok(format!(
            "{} {} IN {} {}",
            owner.absolute(),
            self.ttl,
            self.value.type_name(),
            self.value.master_text()
        ))
    }
}

/// A zone the server answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    pub name: DnsName,
    pub records: Vec<ZoneRecord>,
}

/// Queries for `domain` and below go to `addresses`; `None` is the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderSpec {
    pub domain: Option<DnsName>,
    pub addresses: Vec<SocketAddr>,
}

/// A DNS server to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsServerSpec {
    /// The namespace it runs in; it listens on every address there, port 53.
    pub netns: String,
    /// Its own directory: configuration and zone files, its chroot.
    pub run_dir: PathBuf,
    pub software: DnsSoftware,
    pub zones: Vec<ZoneSpec>,
    pub forwarders: Vec<ForwarderSpec>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn name(text: &str) -> DnsName {
        DnsName::new(text).unwrap()
    }

    /// A server of one zone with an A, a CNAME and a hostile TXT at its
    /// apex, forwarding one domain and the root.
    pub(crate) fn spec(software: DnsSoftware) -> DnsServerSpec {
        DnsServerSpec {
            netns: "dc1".into(),
            run_dir: "/run/vnetd/lab/dns/dc1".into(),
            software,
            zones: vec![ZoneSpec {
                name: name("corp.contoso.com"),
                records: vec![
                    ZoneRecord {
                        owner: Owner::Below(name("app")),
                        ttl: 300,
                        value: RecordValue::A("192.168.1.20".parse().unwrap()),
                    },
                    ZoneRecord {
                        owner: Owner::Below(name("www")),
                        ttl: 60,
                        value: RecordValue::Cname(name("app.corp.contoso.com")),
                    },
                    ZoneRecord {
                        owner: Owner::Apex,
                        ttl: 300,
                        value: RecordValue::Txt("x' include: \"/etc/shadow\"".into()),
                    },
                ],
            }],
            forwarders: vec![
                ForwarderSpec {
                    domain: Some(name("blob.core.windows.net")),
                    addresses: vec!["10.0.5.4:53".parse().unwrap()],
                },
                ForwarderSpec {
                    domain: None,
                    addresses: vec!["168.63.129.16:53".parse().unwrap()],
                },
            ],
        }
    }

    #[test]
    fn record_values_are_master_file_text() {
        let zone = name("x.com");
        let line = |owner, value| {
            ZoneRecord {
                owner,
                ttl: 60,
                value,
            }
            .line(&zone)
            .unwrap()
        };
        assert_eq!(
            line(
                Owner::Below(name("mail")),
                RecordValue::Mx {
                    preference: 10,
                    exchange: name("mx.x.com")
                }
            ),
            "mail.x.com. 60 IN MX 10 mx.x.com."
        );
        assert_eq!(
            line(
                Owner::Below(name("_sip._tcp")),
                RecordValue::Srv {
                    priority: 1,
                    weight: 2,
                    port: 443,
                    target: name("sip.x.com")
                }
            ),
            "_sip._tcp.x.com. 60 IN SRV 1 2 443 sip.x.com."
        );
        assert_eq!(
            line(Owner::Apex, RecordValue::Txt(String::new())),
            "x.com. 60 IN TXT \"\""
        );
        let long = ZoneRecord {
            owner: Owner::Below(name(&format!(
                "{}.{}",
                vec!["a".repeat(63); 3].join("."),
                "b".repeat(60)
            ))),
            ttl: 60,
            value: RecordValue::A(Ipv4Addr::LOCALHOST),
        };
        assert!(long.line(&zone).is_err(), "a name of 258 characters");
    }
}
