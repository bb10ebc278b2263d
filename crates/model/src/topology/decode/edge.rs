//! Decoders for the Internet edge: `internet` (the emulated Internet and
//! its servers), `public_ip_prefixes`, `public_ip_addresses`,
//! `nat_gateways`, and a firewall policy's `nat_rule_collections` (DNAT),
//! with keys as `azurerm` names them.

use super::reader::{Decoder, Fields, Head, NameRef, Record};
use super::Node;
use crate::topology::model::{NatGatewaySku, Protocol, PublicIpSku};
use ipnet::IpNet;
use std::net::IpAddr;

/// `internet:` as written.
#[derive(Debug, Default)]
pub struct RawInternet {
    pub servers: Vec<RawInternetServer>,
    pub names: Vec<RawInternetName>,
    pub line: usize,
}

/// A public name the Internet's DNS answers (`internet.names[]`).
#[derive(Debug)]
pub struct RawInternetName {
    pub name: String,
    pub key: String,
    pub addresses: Vec<IpAddr>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawInternetServer {
    pub name: String,
    pub key: String,
    pub address: IpAddr,
    pub ports: Vec<u16>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawPublicIpPrefix {
    pub name: String,
    pub key: String,
    pub prefix: IpNet,
    pub location: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawPublicIp {
    pub name: String,
    pub key: String,
    pub address: Option<IpAddr>,
    pub sku: PublicIpSku,
    pub prefix: Option<NameRef>,
    pub location: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNatGateway {
    pub name: String,
    pub key: String,
    pub sku: NatGatewaySku,
    pub public_ips: Vec<NameRef>,
    pub prefixes: Vec<NameRef>,
    pub idle_timeout_minutes: u16,
    pub subnets: Vec<NameRef>,
    pub line: usize,
}

/// A DNAT rule collection as written.
#[derive(Debug)]
pub struct RawNatRuleCollection {
    pub name: String,
    pub key: String,
    pub priority: u16,
    pub rules: Vec<RawNatRule>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNatRule {
    pub name: String,
    pub key: String,
    pub protocols: Vec<Protocol>,
    pub source_addresses: Vec<IpNet>,
    pub source_ip_groups: Vec<NameRef>,
    pub destination_address: (IpAddr, usize),
    pub destination_ports: Vec<u16>,
    pub translated_address: IpAddr,
    pub translated_port: u16,
    pub line: usize,
}

record!(INTERNET_SERVER_KEYS: RawInternetServer { name, key, line } "an Internet server" {
    address: "address" => required_ip,
    ports: "ports" => port_numbers,
});

record!(INTERNET_NAME_KEYS: RawInternetName { name, key, line } "a public name of the Internet" {
    addresses: "addresses" => name_addresses,
});

record!(PUBLIC_IP_PREFIX_KEYS: RawPublicIpPrefix { name, key, line } "a public IP prefix" {
    prefix: "ip_prefix" => required_cidr,
    location: "location" => region,
    _: "sku" => text,
    _: "prefix_length" => text,
});

record!(PUBLIC_IP_KEYS: RawPublicIp { name, key, line } "a public IP address" {
    address: "ip_address" => optional_ip,
    sku: "sku" => one_of_or(PublicIpSku::Standard),
    prefix: "public_ip_prefix" => optional_ref,
    location: "location" => region,
    _: "allocation_method" => text,
});

record!(NAT_GATEWAY_KEYS: RawNatGateway { name, key, line } "a NAT gateway" {
    sku: "sku_name" => one_of_or(NatGatewaySku::Standard),
    public_ips: "public_ip_addresses" => ref_list,
    prefixes: "public_ip_prefixes" => ref_list,
    idle_timeout_minutes: "idle_timeout_in_minutes" => nat_idle_timeout,
    subnets: "subnets" => ref_list,
    _: "location" => region,
});

record!(NAT_RULE_COLLECTION_KEYS: RawNatRuleCollection { name, key, line }
    "a DNAT rule collection" {
    priority: "priority" => firewall_priority,
    _: "action" => dnat_action,
    rules: "rules" => list,
});

record!(NAT_RULE_KEYS: RawNatRule { name, key, line } "a DNAT rule" {
    protocols: "protocols" => dnat_protocols,
    source_addresses: "source_addresses" => firewall_addresses,
    source_ip_groups: "source_ip_groups" => ref_list,
    destination_address: "destination_address" => required_ip_with_line,
    destination_ports: "destination_ports" => port_numbers,
    translated_address: "translated_address" => required_ip,
    translated_port: "translated_port" => required_port,
});

impl Decoder<'_> {
    /// `internet:`: a mapping with `servers` and `names`.
    pub(super) fn internet(&mut self, top: &Fields, key: &str) -> Option<RawInternet> {
        let node: &Node = top.given(key)?;
        let fields = self.fields(node, key, "the Internet", &["servers", "names"])?;
        Some(RawInternet {
            servers: self.records(&fields, "servers"),
            names: self.records(&fields, "names"),
            line: node.line,
        })
    }

    /// A public name's `addresses`: IPv4 and IPv6 addresses, at least one.
    fn name_addresses(&mut self, f: &Fields, key: &str) -> Option<Vec<IpAddr>> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let items = self.nonempty_items(node, &k, "a public name has at least one address")?;
        let read = self.texts(items, &k, |d, text, line, k| {
            match text.trim().parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    let why = format!("`{text}` is not an IPv4 or IPv6 address");
                    d.diags.error(line, k, why);
                    None
                }
            }
        });
        read.into_iter().collect()
    }

    pub(super) fn required_ip(&mut self, f: &Fields, key: &str) -> Option<IpAddr> {
        let n = self.required(f, key)?;
        self.ip(n, &f.key(key))
    }

    fn required_ip_with_line(&mut self, f: &Fields, key: &str) -> Option<(IpAddr, usize)> {
        let n = self.required(f, key)?;
        self.ip(n, &f.key(key)).map(|ip| (ip, n.line))
    }

    fn required_port(&mut self, f: &Fields, key: &str) -> Option<u16> {
        let n = self.required(f, key)?;
        let port = self.number_in(n, &f.key(key), 1..=65_535, "a port is 1 to 65535")?;
        Some(port as u16)
    }

    /// A list of single ports (as numbers or strings, as azurerm writes
    /// them), at least one.
    fn port_numbers(&mut self, f: &Fields, key: &str) -> Option<Vec<u16>> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let items = self.nonempty_items(node, &k, "the list of ports is empty")?;
        let read = self.texts(items, &k, |d, text, line, k| {
            match text.trim().parse::<u16>() {
                Ok(p) if p > 0 => Some(p),
                _ => {
                    let why = format!("`{text}` is not a port (1 to 65535)");
                    d.diags.error(line, k, why);
                    None
                }
            }
        });
        read.into_iter().collect()
    }

    /// `idle_timeout_in_minutes`: 4 to 120, 4 when left out.
    fn nat_idle_timeout(&mut self, f: &Fields, key: &str) -> Option<u16> {
        let Some(n) = f.given(key) else {
            return Some(crate::topology::model::NAT_GATEWAY_DEFAULT_IDLE_MINUTES);
        };
        let why = "a NAT gateway's TCP idle timeout is 4 to 120 minutes";
        let v = self.number_in(n, &f.key(key), 4..=120, why)?;
        Some(v as u16)
    }

    /// A DNAT collection's `action`: `Dnat`, the only one Azure takes there.
    fn dnat_action(&mut self, f: &Fields, key: &str) -> Option<()> {
        let Some(n) = f.given(key) else {
            return Some(());
        };
        let k = f.key(key);
        let text = self.string(n, &k)?;
        if !text.eq_ignore_ascii_case("dnat") {
            let why = format!("`{text}` is not a DNAT rule collection's action (Dnat)");
            self.diags.error(n.line, &k, why);
        }
        Some(())
    }

    /// A DNAT rule's `protocols`: TCP and UDP only.
    fn dnat_protocols(&mut self, f: &Fields, key: &str) -> Option<Vec<Protocol>> {
        let allowed = [("tcp", Protocol::Tcp), ("udp", Protocol::Udp)];
        let (empty, refused) = (
            "a DNAT rule needs at least one protocol",
            "is not a DNAT rule's protocol (TCP, UDP)",
        );
        self.protocol_list(f, key, &allowed, empty, refused)
    }
}
