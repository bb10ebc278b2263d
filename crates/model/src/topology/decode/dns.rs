//! Decoders for names: `dns_servers` lists, Private DNS zones with their
//! record sets and virtual network links, and Private Endpoints with their
//! service connection and DNS zone group (keys as `azurerm` names them).
//! A record's values are read by its type, in zone-file form (`10 5 443
//! target` for SRV, `10 mail.example.com` for MX).

use super::reader::{Decoder, Fields, Head, NameRef, Record};
use crate::topology::model::{
    ConditionalForwarder, DnsSoftware, PaasKind, RecordData, RecordType, ResolutionPolicy,
};
use std::net::IpAddr;
use std::str::FromStr;

/// A Private DNS zone as written.
#[derive(Debug)]
pub struct RawZone {
    pub name: String,
    pub key: String,
    pub records: Vec<RawRecordSet>,
    pub links: Vec<RawVnetLink>,
    pub line: usize,
}

/// A record set as written: its values already read by its type.
#[derive(Debug)]
pub struct RawRecordSet {
    pub name: String,
    pub key: String,
    pub record_type: (RecordType, Vec<(RecordData, usize)>),
    pub ttl: u32,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawVnetLink {
    pub name: String,
    pub key: String,
    pub vnet: NameRef,
    pub registration_enabled: bool,
    pub resolution_policy: ResolutionPolicy,
    pub line: usize,
}

/// A Private Endpoint as written.
#[derive(Debug)]
pub struct RawPrivateEndpoint {
    pub name: String,
    pub key: String,
    pub subnet: NameRef,
    pub address: Option<IpAddr>,
    pub connection: RawServiceConnection,
    pub zones: Vec<NameRef>,
    pub line: usize,
}

/// `private_service_connection`: the PaaS resource and its sub-resource.
#[derive(Debug)]
pub struct RawServiceConnection {
    pub resource: String,
    pub kind: PaasKind,
    pub sub_resource: (String, usize),
    pub public_address: Option<IpAddr>,
    pub key: String,
    pub line: usize,
}

/// A DNS Private Resolver as written.
#[derive(Debug)]
pub struct RawResolver {
    pub name: String,
    pub key: String,
    pub vnet: NameRef,
    pub inbound: Vec<RawResolverEndpoint>,
    pub outbound: Vec<RawResolverEndpoint>,
    pub line: usize,
}

/// An inbound or outbound endpoint as written (an outbound one has no
/// address).
#[derive(Debug)]
pub struct RawResolverEndpoint {
    pub name: String,
    pub key: String,
    pub subnet: NameRef,
    pub address: Option<IpAddr>,
    pub line: usize,
}

/// An outbound endpoint: only its subnet.
#[derive(Debug)]
pub struct RawOutboundEndpoint(pub RawResolverEndpoint);

/// A DNS forwarding ruleset as written.
#[derive(Debug)]
pub struct RawRuleset {
    pub name: String,
    pub key: String,
    /// `resolver/endpoint`
    pub outbound_endpoints: Vec<NameRef>,
    pub links: Vec<NameRef>,
    pub rules: Vec<RawForwardingRule>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawForwardingRule {
    pub name: String,
    pub key: String,
    pub domain: (String, usize),
    pub targets: Vec<std::net::SocketAddr>,
    pub enabled: bool,
    pub line: usize,
}

/// vnetd's own `dns_server` key as written.
#[derive(Debug)]
pub struct RawDnsServer {
    pub software: DnsSoftware,
    pub forwarders: Vec<ConditionalForwarder>,
    pub zones: Vec<RawLocalZone>,
    pub key: String,
    pub line: usize,
}

/// A zone a vnetd-run DNS server answers, as written.
#[derive(Debug)]
pub struct RawLocalZone {
    pub name: String,
    pub key: String,
    pub records: Vec<RawRecordSet>,
    pub line: usize,
}

/// Azure's record TTLs: 0 to 2,147,483,647 seconds.
const TTL_RANGE: std::ops::RangeInclusive<i64> = 0..=2_147_483_647;
/// The TTL a record set gets when the file gives none (azurerm requires
/// one; the portal offers 3600).
const DEFAULT_TTL: u32 = 3600;

record!(ZONE_KEYS: RawZone { name, key, line } "a Private DNS zone" {
    records: "records" => list,
    links: "virtual_network_links" => list,
});

record!(RECORD_KEYS: RawRecordSet { name, key, line } "a DNS record set" {
    record_type: "type" | "records" => record_values,
    ttl: "ttl" => ttl,
});

record!(LINK_KEYS: RawVnetLink { name, key, line } "a virtual network link" {
    vnet: "virtual_network" => required_ref,
    registration_enabled: "registration_enabled" => flag(false),
    resolution_policy: "resolution_policy" => one_of_or(ResolutionPolicy::Default),
});

record!(PRIVATE_ENDPOINT_KEYS: RawPrivateEndpoint { name, key, line } "a Private Endpoint" {
    subnet: "subnet" => required_ref,
    address: "private_ip_address" => optional_ip,
    connection: "private_service_connection" => service_connection,
    zones: "private_dns_zone_group" => zone_group,
});

record!(RESOLVER_KEYS: RawResolver { name, key, line } "a DNS Private Resolver" {
    vnet: "virtual_network" => required_ref,
    inbound: "inbound_endpoints" => list,
    outbound: "outbound_endpoints" => outbound_endpoints,
});

record!(INBOUND_KEYS: RawResolverEndpoint { name, key, line } "an inbound endpoint" {
    subnet: "subnet" => required_ref,
    address: "private_ip_address" => optional_ip,
});

const OUTBOUND_KEYS: &[&str] = &["name", "subnet"];

impl Record for RawOutboundEndpoint {
    const WHAT: &'static str = "an outbound endpoint";
    const KEYS: &'static [&'static str] = OUTBOUND_KEYS;

    fn decode(d: &mut Decoder, f: &Fields, head: Head) -> Option<Self> {
        Some(RawOutboundEndpoint(RawResolverEndpoint {
            subnet: d.required_ref(f, "subnet")?,
            address: None,
            name: head.name,
            key: head.key,
            line: head.line,
        }))
    }
}

record!(RULESET_KEYS: RawRuleset { name, key, line } "a DNS forwarding ruleset" {
    outbound_endpoints: "outbound_endpoints" => ref_list,
    links: "virtual_network_links" => ref_list,
    rules: "rules" => list,
});

record!(FORWARDING_RULE_KEYS: RawForwardingRule { name, key, line } "a forwarding rule" {
    domain: "domain_name" => required_text_with_line,
    targets: "target_dns_servers" => dns_targets,
    enabled: "enabled" => flag(true),
});

const TARGET_KEYS: &[&str] = &["ip_address", "port"];

record!(LOCAL_ZONE_KEYS: RawLocalZone { name, key, line } "a zone of a DNS server" {
    records: "records" => list,
});

const DNS_SERVER_KEYS: &[&str] = &["software", "forwarders", "zones"];
const FORWARDER_KEYS: &[&str] = &["domain", "addresses"];

const CONNECTION_KEYS: &[&str] = &[
    "name",
    "resource",
    "kind",
    "subresource_names",
    "public_ip_address",
    "is_manual_connection",
];
const ZONE_GROUP_KEYS: &[&str] = &["name", "zones"];

impl Decoder<'_> {
    /// `dns_servers`: addresses, none meaning Azure DNS.
    pub(super) fn dns_servers(&mut self, f: &Fields, key: &str) -> Option<Vec<IpAddr>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            match IpAddr::from_str(&text) {
                Ok(ip) => Some(ip),
                Err(_) => {
                    let why = format!("`{text}` is not an IPv4 or IPv6 address of a DNS server");
                    d.diags.error(line, k, why);
                    None
                }
            }
        });
        Some(read.into_iter().flatten().collect())
    }

    /// vnetd's own `dns_server`: `software` (unbound or bind),
    /// `forwarders` (`{domain, addresses}`, `.` for every name) and
    /// `zones` it answers itself.
    pub(super) fn dns_server(&mut self, f: &Fields, key: &str) -> Option<Option<RawDnsServer>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let c = self.fields(node, &k, "a DNS server", DNS_SERVER_KEYS)?;
        let software = self.one_of::<DnsSoftware>(&c, "software");
        let fk = c.key("forwarders");
        let items = self.items(c.given("forwarders"), &fk);
        let mut forwarders = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ik = format!("{fk}[{i}]");
            let Some(fw) = self.fields(item, &ik, "a forwarder", FORWARDER_KEYS) else {
                continue;
            };
            let Some(text) = self.required_string(&fw, "domain") else {
                continue;
            };
            let domain = if text == "." {
                String::new()
            } else {
                match dns_name(&text) {
                    Ok(d) => d,
                    Err(why) => {
                        self.diags.error(item.line, &fw.key("domain"), why);
                        continue;
                    }
                }
            };
            let ak = fw.key("addresses");
            let Some(list) = self.required(&fw, "addresses") else {
                continue;
            };
            let listed = self.items(Some(list), &ak);
            let read = self.texts(listed, &ak, |d, text, line, k| {
                let parsed = text
                    .parse::<std::net::SocketAddr>()
                    .or_else(|_| text.parse::<IpAddr>().map(|ip| (ip, 53).into()));
                match parsed {
                    Ok(a) => Some(a),
                    Err(_) => {
                        let why =
                            format!("`{text}` is not an address (or address:port) of a DNS server");
                        d.diags.error(line, k, why);
                        None
                    }
                }
            });
            let addresses: Vec<_> = read.into_iter().flatten().collect();
            if addresses.is_empty() {
                self.diags
                    .error(item.line, &ak, "a forwarder needs at least one address");
                continue;
            }
            forwarders.push(ConditionalForwarder { domain, addresses });
        }
        let zones = self.records(&c, "zones");
        Some(Some(RawDnsServer {
            software: software?,
            forwarders,
            zones,
            key: k,
            line: node.line,
        }))
    }

    /// A resolver's `outbound_endpoints`.
    fn outbound_endpoints(&mut self, f: &Fields, key: &str) -> Option<Vec<RawResolverEndpoint>> {
        let found: Vec<RawOutboundEndpoint> = self.records(f, key);
        Some(found.into_iter().map(|o| o.0).collect())
    }

    /// A rule's `target_dns_servers`: `{ip_address, port}` (53 unless
    /// given), one to six of them.
    fn dns_targets(&mut self, f: &Fields, key: &str) -> Option<Vec<std::net::SocketAddr>> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let items = self.nonempty_items(node, &k, "a forwarding rule needs a target DNS server")?;
        if items.len() > 6 {
            let why = "Azure takes at most 6 target DNS servers per forwarding rule";
            self.diags.error(items[6].line, &k, why);
        }
        let mut targets = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ik = format!("{k}[{i}]");
            let Some(t) = self.fields(item, &ik, "a target DNS server", TARGET_KEYS) else {
                continue;
            };
            let Some(ip) = self
                .required(&t, "ip_address")
                .and_then(|n| self.ip(n, &t.key("ip_address")))
            else {
                continue;
            };
            let port = match t.given("port") {
                None => 53,
                Some(n) => {
                    match self.number_in(n, &t.key("port"), 1..=65_535, "a port is 1 to 65535") {
                        Some(p) => p as u16,
                        None => continue,
                    }
                }
            };
            targets.push(std::net::SocketAddr::new(ip, port));
        }
        Some(targets)
    }

    /// A record set's `type` and its `records`, each value read as that
    /// type asks.
    fn record_values(
        &mut self,
        f: &Fields,
        type_key: &str,
        records_key: &str,
    ) -> Option<(RecordType, Vec<(RecordData, usize)>)> {
        let type_node = self.required(f, type_key)?;
        let tk = f.key(type_key);
        let text = self.string(type_node, &tk)?;
        let Ok(record_type) = RecordType::from_str(&text) else {
            let why = if text.eq_ignore_ascii_case("NS") {
                "Azure refuses NS records inside a Private DNS zone: a private zone cannot \
                 delegate a subdomain"
                    .to_string()
            } else if text.eq_ignore_ascii_case("SOA") {
                "a zone's SOA record is Azure's own; it is not written in the file".to_string()
            } else {
                format!("`{text}` is not a record type vnetd answers (A, AAAA, CNAME, MX, PTR, SRV, TXT)")
            };
            self.diags.error(type_node.line, &tk, why);
            return None;
        };
        let node = self.required(f, records_key)?;
        let k = f.key(records_key);
        let items = self.nonempty_items(node, &k, "a record set needs at least one record")?;
        let read = self.texts(items, &k, |d, text, line, k| {
            match record_data(record_type, &text) {
                Ok(data) => Some((data, line)),
                Err(why) => {
                    d.diags.error(line, k, why);
                    None
                }
            }
        });
        let values: Option<Vec<_>> = read.into_iter().collect();
        Some((record_type, values?))
    }

    fn ttl(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let Some(node) = f.given(key) else {
            return Some(DEFAULT_TTL);
        };
        let why = "Azure takes TTLs of 0 to 2147483647 seconds";
        let v = self.number_in(node, &f.key(key), TTL_RANGE, why)?;
        Some(v as u32)
    }

    /// `private_service_connection`: `resource` (the PaaS resource's
    /// name), its `kind`, one of `subresource_names`, and vnetd's own
    /// `public_ip_address` for its public face.
    fn service_connection(&mut self, f: &Fields, key: &str) -> Option<RawServiceConnection> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let c = self.fields(node, &k, "a private service connection", CONNECTION_KEYS)?;
        let resource = self.required_string(&c, "resource");
        let kind = self.one_of::<PaasKind>(&c, "kind");
        let subs = self.required(&c, "subresource_names");
        let sub_resource = subs.and_then(|n| {
            let sk = c.key("subresource_names");
            let items = self.nonempty_items(n, &sk, "name the sub-resource (e.g. blob)")?;
            if items.len() > 1 {
                let why = "Azure takes one sub-resource per Private Endpoint";
                self.diags.error(items[1].line, &sk, why);
                return None;
            }
            let text = self.string(&items[0], &format!("{sk}[0]"))?;
            Some((text, items[0].line))
        });
        let public_address = self.optional_ip(&c, "public_ip_address");
        self.flag(&c, "is_manual_connection", false);
        if let Some(n) = c.given("name") {
            self.string(n, &c.key("name"));
        }
        Some(RawServiceConnection {
            resource: resource?,
            kind: kind?,
            sub_resource: sub_resource?,
            public_address: public_address?,
            key: k,
            line: node.line,
        })
    }

    /// `private_dns_zone_group`: the zones the endpoint's A record is
    /// written in (`zones`, azurerm's `private_dns_zone_ids`).
    fn zone_group(&mut self, f: &Fields, key: &str) -> Option<Vec<NameRef>> {
        let Some(node) = f.given(key) else {
            return Some(Vec::new());
        };
        let k = f.key(key);
        let g = self.fields(node, &k, "a private DNS zone group", ZONE_GROUP_KEYS)?;
        if let Some(n) = g.given("name") {
            self.string(n, &g.key("name"));
        }
        self.ref_list(&g, "zones")
    }
}

/// One record value of type `t`, from its zone-file text.
pub fn record_data(t: RecordType, text: &str) -> Result<RecordData, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let number = |w: &str, what: &str| -> Result<u16, String> {
        w.parse::<u16>()
            .map_err(|_| format!("`{w}` is not a {what} (0 to 65535) in `{text}`"))
    };
    let name = |w: &str| -> Result<String, String> { dns_name(w) };
    match (t, words.as_slice()) {
        (RecordType::A, [a]) => a
            .parse()
            .map(RecordData::A)
            .map_err(|_| format!("`{a}` is not an IPv4 address (an A record holds one)")),
        (RecordType::Aaaa, [a]) => a
            .parse()
            .map(RecordData::Aaaa)
            .map_err(|_| format!("`{a}` is not an IPv6 address (an AAAA record holds one)")),
        (RecordType::Cname, [n]) => name(n).map(RecordData::Cname),
        (RecordType::Ptr, [n]) => name(n).map(RecordData::Ptr),
        (RecordType::Mx, [p, n]) => Ok(RecordData::Mx {
            preference: number(p, "preference")?,
            exchange: name(n)?,
        }),
        (RecordType::Srv, [p, w, port, n]) => Ok(RecordData::Srv {
            priority: number(p, "priority")?,
            weight: number(w, "weight")?,
            port: number(port, "port")?,
            target: name(n)?,
        }),
        (RecordType::Txt, _) if text.len() <= 1024 => Ok(RecordData::Txt(text.to_string())),
        (RecordType::Txt, _) => Err("a TXT value is at most 1024 characters in Azure".into()),
        (t, _) => Err(format!(
            "`{text}` is not a {} value (expected {})",
            t.as_str(),
            match t {
                RecordType::A => "an IPv4 address",
                RecordType::Aaaa => "an IPv6 address",
                RecordType::Cname | RecordType::Ptr => "one name",
                RecordType::Mx => "`preference exchange`",
                RecordType::Srv => "`priority weight port target`",
                RecordType::Txt => "text",
            }
        )),
    }
}

/// A DNS name as records and zones hold it: lower case, without the final
/// dot, labels of 1 to 63 letters, digits, `-` or `_`, at most 253
/// characters.
pub fn dns_name(text: &str) -> Result<String, String> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    let lower = trimmed.to_ascii_lowercase();
    if lower.is_empty() || lower.len() > 253 {
        return Err(format!("`{text}` is not a DNS name (1 to 253 characters)"));
    }
    for label in lower.split('.') {
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*');
        if label.is_empty() || label.len() > 63 || !ok_chars {
            return Err(format!(
                "`{text}` is not a DNS name: `{label}` is not a label of 1 to 63 letters, digits, \
                 `-` or `_`"
            ));
        }
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_values_are_read_by_type() {
        assert_eq!(
            record_data(RecordType::A, "10.0.2.10"),
            Ok(RecordData::A("10.0.2.10".parse().unwrap()))
        );
        assert_eq!(
            record_data(RecordType::Cname, "Web.Contoso.com."),
            Ok(RecordData::Cname("web.contoso.com".into()))
        );
        assert_eq!(
            record_data(RecordType::Srv, "10 5 443 sip.contoso.com"),
            Ok(RecordData::Srv {
                priority: 10,
                weight: 5,
                port: 443,
                target: "sip.contoso.com".into()
            })
        );
        assert!(record_data(RecordType::A, "fd00::1").is_err());
        assert!(record_data(RecordType::Mx, "mail.contoso.com").is_err());
        assert!(record_data(RecordType::Srv, "10 5 70000 x.y").is_err());
        assert_eq!(
            record_data(RecordType::Txt, "v=spf1 -all"),
            Ok(RecordData::Txt("v=spf1 -all".into()))
        );
    }

    #[test]
    fn names_are_lower_case_without_the_final_dot() {
        assert_eq!(dns_name("Corp.Contoso.COM."), Ok("corp.contoso.com".into()));
        assert!(dns_name("a..b").is_err());
        assert!(dns_name("bad name.com").is_err());
        assert!(dns_name(&format!("{}.com", "x".repeat(64))).is_err());
    }
}
