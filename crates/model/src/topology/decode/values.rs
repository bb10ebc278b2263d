//! The decoders `record!` names, one per kind of value (flags, CIDRs,
//! references, ports, rule addresses, next hops...), and the typed access
//! to nodes they share. Each reports what is wrong with its value, with the
//! line and key, and returns `None` when the item holding it must be
//! dropped.

use super::raw::{RawAddress, RawIpConfiguration};
use super::reader::{closest, Decoder, Fields, NameRef};
use crate::topology::model::{NextHopType, PortRange, PortSpec, ServiceTag};
use crate::topology::regions;
use crate::topology::yaml::{Node, Value};
use ipnet::IpNet;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;
use strum::VariantNames;

/// Next hop types only Azure's own routes have, beside the peering and
/// `InterfaceEndpoint` types of [`NextHopType`] (which a route table cannot
/// name either).
const SYSTEM_HOP_TYPES: &[&str] = &["virtualnetworkpeering", "virtualnetworkserviceendpoint"];

impl Decoder<'_> {
    // ---- field decoders, used by `record!` --------------------------------

    /// A bool; a wrong one is reported and the default kept.
    pub(super) fn flag(&mut self, f: &Fields, key: &str, default: bool) -> Option<bool> {
        let Some(node) = f.given(key) else {
            return Some(default);
        };
        match plain(node) {
            Some(t) if t.eq_ignore_ascii_case("true") => return Some(true),
            Some(t) if t.eq_ignore_ascii_case("false") => return Some(false),
            _ => {}
        }
        let shown = match &node.value {
            Value::Scalar { text, .. } => format!("`{text}`"),
            v => v.kind().to_string(),
        };
        let why = format!("expected true or false, found {shown}");
        self.diags.error(node.line, &f.key(key), why);
        Some(default)
    }

    /// Text that is checked but not kept (a rule's description).
    pub(super) fn text(&mut self, f: &Fields, key: &str) -> Option<()> {
        if let Some(n) = f.get(key) {
            self.string(n, &f.key(key));
        }
        Some(())
    }

    /// Which of two spellings of one setting to read: `old` when given, else
    /// `new`; both at once is refused.
    pub(super) fn either_key<'k>(&mut self, f: &Fields, new: &'k str, old: &'k str) -> &'k str {
        if f.has(new) && f.has(old) {
            let why = format!("`{new}` and `{old}` are the same setting: give one");
            self.diags.error(f.line, &f.key(old), why);
        }
        if f.has(old) {
            old
        } else {
            new
        }
    }

    /// Optional text, with its line; a wrong type is reported and ignored.
    pub(super) fn optional_text(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(String, usize)>> {
        let Some(n) = f.given(key) else {
            return Some(None);
        };
        Some(self.string(n, &f.key(key)).map(|s| (s, n.line)))
    }

    /// A port from 1 to 65535 that may be left out, with its line.
    pub(super) fn optional_port(&mut self, f: &Fields, key: &str) -> Option<Option<(u16, usize)>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let port = self.number_in(node, &f.key(key), 1..=65_535, "a port is 1 to 65535")?;
        Some(Some((port as u16, node.line)))
    }

    pub(super) fn required_ref(&mut self, f: &Fields, key: &str) -> Option<NameRef> {
        let n = self.required(f, key)?;
        let name = self.string(n, &f.key(key))?;
        Some(NameRef {
            name,
            line: n.line,
            key: f.key(key),
        })
    }

    /// A reference that may be left out; a wrong type is reported and ignored.
    pub(super) fn optional_ref(&mut self, f: &Fields, key: &str) -> Option<Option<NameRef>> {
        let found = self.optional_text(f, key)?;
        let key = f.key(key);
        Some(found.map(|(name, line)| NameRef { name, line, key }))
    }

    pub(super) fn ref_list(&mut self, f: &Fields, key: &str) -> Option<Vec<NameRef>> {
        Some(self.name_refs(f.get(key), &f.key(key)))
    }

    /// A required, non-empty list of CIDRs; broken entries are reported and
    /// left out, the item is kept.
    pub(super) fn cidr_list(&mut self, f: &Fields, key: &str) -> Option<Vec<(IpNet, usize)>> {
        let k = f.key(key);
        let Some(node) = self.required(f, key) else {
            return Some(Vec::new());
        };
        let items = self.items(Some(node), &k);
        if items.is_empty() && matches!(node.value, Value::Seq(_)) {
            self.diags
                .error(node.line, &k, format!("`{key}` needs at least one CIDR"));
        }
        let nets = self.texts(items, &k, |d, text, line, k| {
            d.cidr_text(&text, line, k).map(|net| (net, line))
        });
        Some(nets.into_iter().flatten().collect())
    }

    /// A list of CIDRs that may be empty or left out (a local network
    /// gateway's static prefixes, which BGP makes optional).
    pub(super) fn optional_cidr_list(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<(IpNet, usize)>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let nets = self.texts(items, &k, |d, text, line, k| {
            d.cidr_text(&text, line, k).map(|net| (net, line))
        });
        Some(nets.into_iter().flatten().collect())
    }

    pub(super) fn required_cidr(&mut self, f: &Fields, key: &str) -> Option<IpNet> {
        let n = self.required(f, key)?;
        let k = f.key(key);
        let text = self.string(n, &k)?;
        self.cidr_text(&text, n.line, &k)
    }

    /// An address that may be left out (dynamic allocation).
    pub(super) fn optional_ip(&mut self, f: &Fields, key: &str) -> Option<Option<IpAddr>> {
        match f.given(key) {
            None => Some(None),
            Some(n) => self.ip(n, &f.key(key)).map(Some),
        }
    }

    /// A location, stored as the programmatic name so that `West Europe`
    /// and `westeurope` are one location. A wrong one is reported and left
    /// empty, the VNet is kept.
    pub(super) fn region(&mut self, f: &Fields, key: &str) -> Option<String> {
        let Some(n) = f.get(key) else {
            return Some(String::new());
        };
        let k = f.key(key);
        let given = self.string(n, &k).unwrap_or_default();
        if let Some(name) = regions::canonical(&given) {
            return Some(name.to_string());
        }
        let names: Vec<&str> = regions::REGIONS.iter().map(|(n, _)| *n).collect();
        let folded = given.to_lowercase().replace(' ', "");
        let hint = match closest(&folded, &names) {
            Some(k) => format!("; did you mean `{k}`?"),
            None => " (see `az account list-locations`)".to_string(),
        };
        let why = format!("`{given}` is not an Azure region{hint}");
        self.diags.error(n.line, &k, why);
        Some(String::new())
    }

    /// A VNet's flow timeout; a wrong one is reported and the default kept.
    pub(super) fn flow_timeout(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let minutes = f
            .get(key)
            .and_then(|n| self.number_in(n, &f.key(key), 4..=30, "Azure allows 4 to 30 minutes"));
        Some(minutes.map_or(4, |v| v as u32))
    }

    /// A NIC's addresses: `private_ip_address` for one configuration or
    /// `ip_configurations` for several, not both; neither is one dynamic
    /// configuration, as in Azure.
    pub(super) fn ip_configurations(
        &mut self,
        f: &Fields,
        single: &str,
        plural: &str,
    ) -> Option<Vec<RawIpConfiguration>> {
        let first = |address, key, line| RawIpConfiguration {
            name: "ipconfig1".to_string(),
            address,
            key,
            line,
        };
        match (f.get(single), f.get(plural)) {
            (Some(_), Some(n)) => {
                let why = format!("give either {single} or {plural}, not both");
                self.diags.error(n.line, &f.key(plural), why);
                Some(Vec::new())
            }
            (Some(n), None) => {
                let address = self.optional_ip(f, single)?;
                Some(vec![first(address, f.key(single), n.line)])
            }
            (None, Some(n)) => {
                let list_key = f.key(plural);
                let items = self.items(Some(n), &list_key);
                if items.is_empty() {
                    let why = "a NIC needs at least one IP configuration";
                    self.diags.error(n.line, &list_key, why);
                }
                Some(self.each(items, &list_key))
            }
            (None, None) => Some(vec![first(None, f.key(single), f.line)]),
        }
    }

    /// A route's next hop: its type, and the appliance's address, which
    /// VirtualAppliance requires and no other type takes.
    pub(super) fn next_hop(
        &mut self,
        f: &Fields,
        type_key: &str,
        ip_key: &str,
    ) -> Option<(NextHopType, Option<IpAddr>)> {
        let hop_key = f.key(type_key);
        let next_hop_type = self.required(f, type_key).and_then(|n| {
            let text = self.string(n, &hop_key)?;
            let lower = text.to_ascii_lowercase();
            let parsed = text.parse::<NextHopType>();
            let system = matches!(
                parsed,
                Ok(NextHopType::VNetPeering
                    | NextHopType::VNetGlobalPeering
                    | NextHopType::InterfaceEndpoint
                    | NextHopType::ConnectedGroup
                    | NextHopType::VirtualNetworkServiceEndpoint)
            ) || SYSTEM_HOP_TYPES.contains(&lower.as_str());
            if let (Ok(t), false) = (parsed, system) {
                return Some(t);
            }
            let why = if system {
                format!(
                    "`{text}` is not allowed in a user-defined route: Azure creates \
                     peering, connected-group, service-endpoint and private-endpoint routes \
                     itself"
                )
            } else {
                format!(
                    "unknown next hop type `{text}` (expected VirtualAppliance, \
                     VnetLocal, Internet, None or VirtualNetworkGateway)"
                )
            };
            self.diags.error(n.line, &hop_key, why);
            None
        });
        let k = f.key(ip_key);
        let ip = f.given(ip_key).map(|n| (self.ip(n, &k), n.line));
        match (next_hop_type?, ip) {
            (NextHopType::VirtualAppliance, Some((ip, _))) => {
                Some((NextHopType::VirtualAppliance, Some(ip?)))
            }
            (NextHopType::VirtualAppliance, None) => {
                let why = format!("a VirtualAppliance route needs {ip_key}");
                self.diags.error(f.line, &k, why);
                None
            }
            (other, Some((_, line))) => {
                let other = other.as_str();
                let why = format!("{ip_key} is allowed only with VirtualAppliance, not {other}");
                self.diags.error(line, &k, why);
                None
            }
            (other, None) => Some((other, None)),
        }
    }

    pub(super) fn priority(&mut self, f: &Fields, key: &str) -> Option<u16> {
        let n = self.required(f, key)?;
        let why = "user rules take priorities 100 to 4096";
        let v = self.number_in(n, &f.key(key), 100..=4096, why)?;
        Some(v as u16)
    }

    /// A required value of one of the enum's variants, matched
    /// case-insensitively; a refusal lists the names capitalised.
    pub(super) fn one_of<T: FromStr + VariantNames>(&mut self, f: &Fields, key: &str) -> Option<T> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let text = self.string(node, &k)?;
        match text.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                let why = format!("`{text}` is not one of {}", choice_list::<T>());
                self.diags.error(node.line, &k, why);
                None
            }
        }
    }

    /// As [`Self::one_of`], from a listed set of lower-case spellings.
    pub(super) fn one_of_listed<T: Copy>(
        &mut self,
        f: &Fields,
        key: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let text = self.string(node, &k)?;
        let lower = text.to_ascii_lowercase();
        match choices.iter().find(|(c, _)| *c == lower) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<String> = choices.iter().map(|(c, _)| capitalise(c)).collect();
                self.diags.error(
                    node.line,
                    &k,
                    format!("`{text}` is not one of {}", names.join(", ")),
                );
                None
            }
        }
    }

    /// `source_port_range` / `source_port_ranges` (exactly one, as in ARM).
    pub(super) fn ports(&mut self, f: &Fields, single: &str, plural: &str) -> Option<PortSpec> {
        match (f.get(single), f.get(plural)) {
            (Some(_), Some(n)) => {
                self.diags.error(
                    n.line,
                    &f.key(plural),
                    format!("give either {single} or {plural}, not both"),
                );
                None
            }
            (None, None) => {
                self.diags.error(
                    f.line,
                    &f.key(single),
                    format!(
                        "missing required key `{single}` (or `{plural}`); use \"*\" for any port"
                    ),
                );
                None
            }
            (Some(n), None) => {
                let k = f.key(single);
                let text = self.string(n, &k)?;
                if text == "*" {
                    return Some(PortSpec::Any);
                }
                Some(PortSpec::Ranges(vec![self.port_range(&text, n.line, &k)?]))
            }
            (None, Some(n)) => {
                let k = f.key(plural);
                let items = self.nonempty_items(n, &k, "the list of port ranges is empty")?;
                if let [only] = items {
                    if matches!(&only.value, Value::Scalar { text, .. } if text == "*") {
                        return Some(PortSpec::Any);
                    }
                }
                let ranges = self.texts(items, &k, |d, text, line, k| {
                    if text == "*" {
                        let why = "\"*\" cannot be combined with other port ranges";
                        d.diags.error(line, k, why);
                        return None;
                    }
                    d.port_range(&text, line, k)
                });
                let ranges: Option<Vec<_>> = ranges.into_iter().collect();
                ranges.map(PortSpec::Ranges)
            }
        }
    }

    pub(super) fn port_range(&mut self, text: &str, line: usize, key: &str) -> Option<PortRange> {
        let parse = |s: &str| s.trim().parse::<u32>().ok().filter(|p| *p <= 65535);
        let range = match text.split_once('-') {
            None => parse(text).map(|p| (p, p)),
            Some((a, b)) => parse(a).zip(parse(b)),
        };
        match range {
            Some((lo, hi)) if lo <= hi => Some(PortRange {
                lo: lo as u16,
                hi: hi as u16,
            }),
            _ => {
                self.diags.error(
                    line,
                    key,
                    format!(
                        "`{text}` is not a port or port range (expected \"*\", \"80\" or \
                         \"1000-2000\" with ports 0 to 65535)"
                    ),
                );
                None
            }
        }
    }

    /// A rule's source or destination: exactly one of the prefix, the prefix
    /// list, or application security groups.
    pub(super) fn address(
        &mut self,
        f: &Fields,
        single: &str,
        plural: &str,
        asgs: &str,
    ) -> Option<RawAddress> {
        let given: Vec<&str> = [single, plural, asgs]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        if given.len() > 1 {
            let line = f.get(given[1]).map_or(f.line, |n| n.line);
            self.diags.error(
                line,
                &f.key(given[1]),
                format!("give only one of {single}, {plural} and {asgs}"),
            );
            return None;
        }
        if let Some(n) = f.get(single) {
            let k = f.key(single);
            let text = self.string(n, &k)?;
            return self.address_text(&text, n.line, &k, true);
        }
        if let Some(n) = f.get(plural) {
            let k = f.key(plural);
            let items = self.nonempty_items(n, &k, "the list of address prefixes is empty")?;
            if items.len() > 4000 {
                self.diags.error(
                    n.line,
                    &k,
                    format!(
                        "{} prefixes: Azure allows at most 4000 per rule side",
                        items.len()
                    ),
                );
                return None;
            }
            let parts = self.texts(items, &k, |d, text, line, k| {
                match d.address_text(&text, line, k, false)? {
                    RawAddress::Prefixes(p) => Some(p),
                    _ => None,
                }
            });
            let parts: Option<Vec<_>> = parts.into_iter().collect();
            return parts.map(|p| RawAddress::Prefixes(p.concat()));
        }
        if let Some(n) = f.get(asgs) {
            let k = f.key(asgs);
            let refs = self.name_refs(Some(n), &k);
            if refs.is_empty() {
                self.diags.error(
                    n.line,
                    &k,
                    "the list of application security groups is empty",
                );
                return None;
            }
            if refs.len() > 10 {
                self.diags.error(
                    n.line,
                    &k,
                    "Azure allows at most 10 application security groups per rule side",
                );
                return None;
            }
            return Some(RawAddress::Asgs(refs));
        }
        self.diags.error(
            f.line,
            &f.key(single),
            format!("missing required key `{single}` (or `{plural}` or `{asgs}`); use \"*\" for any address"),
        );
        None
    }

    /// `*`, a service tag (only where `tags_allowed`), an IP or a CIDR.
    pub(super) fn address_text(
        &mut self,
        text: &str,
        line: usize,
        key: &str,
        tags_allowed: bool,
    ) -> Option<RawAddress> {
        if text == "*" && tags_allowed {
            return Some(RawAddress::Any);
        }
        let tag = match text.to_ascii_lowercase().as_str() {
            "virtualnetwork" => Some(ServiceTag::VirtualNetwork),
            "internet" => Some(ServiceTag::Internet),
            "azureloadbalancer" => Some(ServiceTag::AzureLoadBalancer),
            _ => None,
        };
        if let Some(tag) = tag {
            if tags_allowed {
                return Some(RawAddress::Tag(tag));
            }
            self.diags.error(
                line,
                key,
                format!("service tag `{text}` cannot be used in a prefix list; Azure allows one tag per rule side, in the singular key"),
            );
            return None;
        }
        if let Ok(ip) = IpAddr::from_str(text) {
            return Some(RawAddress::Prefixes(vec![IpNet::from(ip)]));
        }
        if text.contains('/') {
            return self
                .cidr_text(text, line, key)
                .map(|n| RawAddress::Prefixes(vec![n]));
        }
        let hint = if tags_allowed {
            "expected \"*\", an IP address, a CIDR, or one of the service tags VirtualNetwork, \
             Internet and AzureLoadBalancer (other Azure service tags are not emulated)"
        } else {
            "expected an IP address or a CIDR"
        };
        self.diags.error(
            line,
            key,
            format!("`{text}` is not a valid address prefix: {hint}"),
        );
        None
    }

    // ---- typed access to nodes -------------------------------------------

    pub(super) fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &str,
        known: &[&str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.diags.error(
                node.line,
                path,
                format!("expected {what} (a mapping), found {}", node.value.kind()),
            );
            return None;
        };
        let f = Fields {
            entries,
            line: node.line,
            path: path.to_string(),
        };
        for (key, _, line) in entries {
            if !known.contains(&key.as_str()) {
                let hint = match closest(key, known) {
                    Some(k) => format!("; did you mean `{k}`?"),
                    None => format!(" (known keys: {})", known.join(", ")),
                };
                self.diags.error(
                    *line,
                    &f.key(key),
                    format!("unknown key `{key}` in {what}{hint}"),
                );
            }
        }
        Some(f)
    }

    /// The items of a list; a missing or null list is empty.
    /// The items of the list `node` (under `key`), or `None` with the
    /// refusal `empty` when it has none.
    pub(super) fn nonempty_items<'n>(
        &mut self,
        node: &'n Node,
        key: &str,
        empty: &str,
    ) -> Option<&'n [Node]> {
        let items = self.items(Some(node), key);
        if items.is_empty() {
            self.diags.error(node.line, key, empty);
            return None;
        }
        Some(items)
    }

    pub(super) fn items<'n>(&mut self, node: Option<&'n Node>, key: &str) -> &'n [Node] {
        match node {
            None => &[],
            Some(Node {
                value: Value::Null, ..
            }) => &[],
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items,
            Some(n) => {
                self.diags.error(
                    n.line,
                    key,
                    format!("expected a list, found {}", n.value.kind()),
                );
                &[]
            }
        }
    }

    pub(super) fn required<'n>(&mut self, f: &Fields<'n>, key: &str) -> Option<&'n Node> {
        match f.get(key) {
            Some(Node {
                value: Value::Null,
                line,
            }) => {
                self.diags
                    .error(*line, &f.key(key), format!("`{key}` must have a value"));
                None
            }
            Some(n) => Some(n),
            None => {
                self.diags
                    .error(f.line, &f.key(key), format!("missing required key `{key}`"));
                None
            }
        }
    }

    pub(super) fn required_string(&mut self, f: &Fields, key: &str) -> Option<String> {
        let n = self.required(f, key)?;
        self.string(n, &f.key(key))
    }

    pub(super) fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            other => {
                self.diags.error(
                    node.line,
                    key,
                    format!("expected a string, found {}", other.kind()),
                );
                None
            }
        }
    }

    pub(super) fn integer(&mut self, node: &Node, key: &str) -> Option<i64> {
        let Some(text) = plain(node) else {
            let kind = node.value.kind();
            let why = format!("expected a whole number, found {kind}");
            self.diags.error(node.line, key, why);
            return None;
        };
        match text.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                let why = format!("`{text}` is not a whole number");
                self.diags.error(node.line, key, why);
                None
            }
        }
    }

    /// A whole number inside `range`; `allowed` says who allows which.
    pub(super) fn number_in(
        &mut self,
        node: &Node,
        key: &str,
        range: RangeInclusive<i64>,
        allowed: &str,
    ) -> Option<i64> {
        let v = self.integer(node, key)?;
        if !range.contains(&v) {
            let why = format!("{v} is out of range: {allowed}");
            self.diags.error(node.line, key, why);
            return None;
        }
        Some(v)
    }

    pub(super) fn ip(&mut self, node: &Node, key: &str) -> Option<IpAddr> {
        let text = self.string(node, key)?;
        match IpAddr::from_str(&text) {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.diags.error(
                    node.line,
                    key,
                    format!("`{text}` is not an IPv4 or IPv6 address"),
                );
                None
            }
        }
    }

    /// A CIDR in canonical form: host bits set are refused, as Azure does.
    pub(super) fn cidr_text(&mut self, text: &str, line: usize, key: &str) -> Option<IpNet> {
        match IpNet::from_str(text) {
            Ok(net) if net.trunc() == net => Some(net),
            Ok(net) => {
                self.diags.error(
                    line,
                    key,
                    format!(
                        "`{text}` has host bits set: the prefix starts at {}",
                        net.trunc()
                    ),
                );
                None
            }
            Err(_) => {
                self.diags.error(
                    line,
                    key,
                    format!(
                        "`{text}` is not a valid CIDR (expected e.g. 10.0.0.0/16 or fd00::/48)"
                    ),
                );
                None
            }
        }
    }

    /// A list of names; broken entries are reported and left out.
    fn name_refs(&mut self, node: Option<&Node>, key: &str) -> Vec<NameRef> {
        let items = self.items(node, key);
        let refs = self.texts(items, key, |_, name, line, k| {
            let key = k.to_string();
            Some(NameRef { name, line, key })
        });
        refs.into_iter().flatten().collect()
    }

    /// Each item of a list as text, then through `read`; `None` stands for
    /// a broken item (reported). Every item is checked.
    pub(super) fn texts<T>(
        &mut self,
        items: &[Node],
        key: &str,
        mut read: impl FnMut(&mut Self, String, usize, &str) -> Option<T>,
    ) -> Vec<Option<T>> {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let k = format!("{key}[{i}]");
            let value = self.string(item, &k);
            out.push(value.and_then(|text| read(self, text, item.line, &k)));
        }
        out
    }
}

/// The text of an unquoted scalar: a quoted one is never a bool or number.
pub(super) fn plain(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar {
            text,
            quoted: false,
        } => Some(text),
        _ => None,
    }
}

/// The variants of `T` as [`Decoder::one_of`] lists them: capitalised,
/// the rest in lower case (`Inbound, Outbound`, `Vpn, Expressroute`).
pub(super) fn choice_list<T: VariantNames>() -> String {
    let names: Vec<String> = T::VARIANTS
        .iter()
        .map(|c| capitalise(&c.to_ascii_lowercase()))
        .collect();
    names.join(", ")
}

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
