//! Decoders for the keys of load balancers: the SKU, where a frontend
//! sits (a subnet and private address, or a public IP), an outbound
//! rule's ports and timeout, a probe's
//! protocol with its request path and its numbers, a rule's protocol with
//! its ports, enum values in Azure's mixed-case spelling, and the azurerm
//! spellings that renamed a flag (`enable_floating_ip` /
//! `floating_ip_enabled`).
//!
//! A load balancer's frontends and probes are named by its rules, so a
//! broken value of theirs is reported and a stand-in kept: the item stays,
//! and a rule that names it draws no second error. The file is refused all
//! the same.

use super::reader::{Decoder, Fields, NameRef};
use crate::topology::model::{LbProtocol, ProbeProtocol};
use crate::topology::yaml::Node;
use std::net::IpAddr;
use std::str::FromStr;
use strum::VariantNames;

/// Ports a rule or probe may name (0 only for HA ports).
const PORT_RANGE: std::ops::RangeInclusive<i64> = 0..=65_535;

impl Decoder<'_> {
    /// A load balancer's `sku`: Standard, the default, is the one vnetd
    /// emulates. The load balancer is kept either way.
    pub(super) fn load_balancer_sku(&mut self, f: &Fields, key: &str) -> Option<()> {
        let Some(node) = f.given(key) else {
            return Some(());
        };
        let k = f.key(key);
        let Some(text) = self.string(node, &k) else {
            return Some(());
        };
        let why = match text.to_ascii_lowercase().as_str() {
            "standard" => return Some(()),
            "basic" => "Basic load balancers were retired on 2025-09-30; vnetd emulates Standard \
                        ones"
                .to_string(),
            "gateway" => "Gateway load balancers are not emulated; vnetd emulates \
                          Standard ones"
                .to_string(),
            _ => format!("`{text}` is not a load balancer SKU (expected Standard)"),
        };
        self.diags.error(node.line, &k, why);
        Some(())
    }

    /// Where a frontend sits: a private one names `subnet` and
    /// `private_ip_address`, a public one `public_ip_address` alone. What
    /// is missing or mixed is reported and `None` kept.
    #[allow(clippy::type_complexity)]
    pub(super) fn frontend_place(
        &mut self,
        f: &Fields,
        subnet_key: &str,
        address_key: &str,
        public_key: &str,
    ) -> Option<(Option<NameRef>, Option<(IpAddr, usize)>, Option<NameRef>)> {
        let public = self.optional_ref(f, public_key)?;
        if let Some(public) = public {
            for key in [subnet_key, address_key] {
                if let Some(node) = f.given(key) {
                    let why = format!(
                        "a frontend is public (`{public_key}`) or private (`{subnet_key}` and \
                         `{address_key}`), not both"
                    );
                    self.diags.error(node.line, &f.key(key), why);
                }
            }
            return Some((None, None, Some(public)));
        }
        let subnet = self.required_ref(f, subnet_key);
        let address = self.required_ip_or_none(f, address_key)?;
        Some((subnet, address, None))
    }

    /// An outbound rule's `allocated_outbound_ports`: absent or 0 for
    /// Azure's default allocation, else a multiple of 8 up to 64,000.
    pub(super) fn allocated_outbound_ports(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(u32, usize)>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let why = "Azure allocates 0 (its default) to 64,000 ports";
        let ports = self.number_in(node, &f.key(key), 0..=64_000, why)?;
        if ports % 8 != 0 {
            let why =
                format!("{ports} is not a multiple of 8: Azure allocates ports in blocks of 8");
            self.diags.error(node.line, &f.key(key), why);
            return None;
        }
        Some((ports > 0).then_some((ports as u32, node.line)))
    }

    /// An outbound rule's idle timeout: 4 minutes unless given, 4 to 120.
    pub(super) fn outbound_idle_timeout(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let Some(node) = f.given(key) else {
            return Some(4);
        };
        let why = "Azure allows 4 to 120 minutes";
        let minutes = self.number_in(node, &f.key(key), 4..=120, why);
        Some(minutes.map_or(4, |v| v as u32))
    }

    /// A required address with its line; missing or broken, it is reported
    /// and `None` kept.
    pub(super) fn required_ip_or_none(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(IpAddr, usize)>> {
        let Some(node) = self.required(f, key) else {
            return Some(None);
        };
        Some(self.ip(node, &f.key(key)).map(|ip| (ip, node.line)))
    }

    /// A value from a fixed set written as Azure spells it (`SourceIP`),
    /// matched case-insensitively; absent, `default`. A wrong one is
    /// reported and the item dropped.
    pub(super) fn spelled_one_of_or<T: FromStr + VariantNames>(
        &mut self,
        f: &Fields,
        key: &str,
        default: T,
    ) -> Option<T> {
        match f.given(key) {
            None => Some(default),
            Some(node) => self.spelled(node, &f.key(key)),
        }
    }

    /// As [`Self::spelled_one_of_or`], for a key that must be given.
    pub(super) fn spelled_one_of<T: FromStr + VariantNames>(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<T> {
        let node = self.required(f, key)?;
        self.spelled(node, &f.key(key))
    }

    fn spelled<T: FromStr + VariantNames>(&mut self, node: &Node, key: &str) -> Option<T> {
        let text = self.string(node, key)?;
        if let Ok(v) = text.parse() {
            return Some(v);
        }
        let why = format!("`{text}` is not one of {}", T::VARIANTS.join(", "));
        self.diags.error(node.line, key, why);
        None
    }

    /// A flag azurerm renamed: either name may be used, and both only when
    /// they agree.
    pub(super) fn agreeing_flag(
        &mut self,
        f: &Fields,
        new: &str,
        old: &str,
        default: bool,
    ) -> Option<bool> {
        let current = self.flag(f, new, default)?;
        if f.given(old).is_none() {
            return Some(current);
        }
        let older = self.flag(f, old, default)?;
        if f.given(new).is_some() && older != current {
            let why = format!(
                "`{new}` and `{old}` are the same setting and they disagree ({current} and \
                 {older}): give one"
            );
            let line = f.given(old).map_or(f.line, |n| n.line);
            self.diags.error(line, &f.key(old), why);
        }
        Some(older)
    }

    /// A rule's `idle_timeout_in_minutes`; a wrong one is reported and the
    /// default kept.
    pub(super) fn idle_timeout(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let Some(node) = f.given(key) else {
            return Some(4);
        };
        let minutes = self.number_in(node, &f.key(key), 4..=30, "Azure allows 4 to 30 minutes");
        Some(minutes.map_or(4, |v| v as u32))
    }

    /// A probe's protocol (Tcp unless given) and the path an Http or Https
    /// probe requests: required for those, starting with `/`, and refused
    /// for Tcp. The probe is kept whatever is wrong.
    pub(super) fn probe_request(
        &mut self,
        f: &Fields,
        protocol_key: &str,
        path_key: &str,
    ) -> Option<(ProbeProtocol, Option<String>)> {
        let protocol = self.spelled_one_of_or(f, protocol_key, ProbeProtocol::Tcp);
        let path_node = f.given(path_key);
        let k = f.key(path_key);
        let path = path_node.and_then(|n| self.string(n, &k));
        let Some(protocol) = protocol else {
            // Already reported: which paths it allows is unknown.
            return Some((ProbeProtocol::Tcp, path));
        };
        let name = <&str>::from(protocol);
        match (protocol, path_node, &path) {
            (ProbeProtocol::Tcp, Some(n), _) => {
                let why = format!("`{path_key}` is only for Http and Https probes, not Tcp");
                self.diags.error(n.line, &k, why);
                Some((protocol, None))
            }
            (ProbeProtocol::Tcp, None, _) => Some((protocol, None)),
            (_, None, _) => {
                let why =
                    format!("an {name} probe needs `{path_key}`, the path it requests (such as /)");
                self.diags.error(f.line, &k, why);
                Some((protocol, Some("/".to_string())))
            }
            (_, Some(n), Some(p)) if !p.starts_with('/') => {
                let why = format!("`{p}` must start with `/`");
                self.diags.error(n.line, &k, why);
                Some((protocol, path))
            }
            (_, Some(_), _) => Some((protocol, path)),
        }
    }

    /// A probe's required `port`, 1 to 65535.
    pub(super) fn probe_port(&mut self, f: &Fields, key: &str) -> Option<u16> {
        let Some(node) = self.required(f, key) else {
            return Some(0);
        };
        let port = self.number_in(node, &f.key(key), 1..=65_535, "a probe port is 1 to 65535");
        Some(port.map_or(0, |p| p as u16))
    }

    /// Seconds between probes: 15 unless given, at least 5.
    pub(super) fn probe_interval(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let Some(node) = f.given(key) else {
            return Some(15);
        };
        let why = "Azure probes every 5 seconds or more";
        let secs = self.number_in(node, &f.key(key), 5..=i64::from(i32::MAX), why);
        Some(secs.map_or(15, |s| s as u32))
    }

    /// The consecutive results that change a backend's state:
    /// `probe_threshold`, else the older `number_of_probes`, else 1; each
    /// 1 to 100.
    pub(super) fn probe_threshold(
        &mut self,
        f: &Fields,
        threshold_key: &str,
        older_key: &str,
    ) -> Option<u32> {
        let read = |d: &mut Self, key: &str| {
            let node = f.given(key)?;
            let why = "Azure takes 1 to 100 consecutive probes";
            d.number_in(node, &f.key(key), 1..=100, why)
                .map(|v| v as u32)
        };
        let threshold = read(self, threshold_key);
        let older = read(self, older_key);
        Some(threshold.or(older).unwrap_or(1))
    }

    /// A rule's protocol and ports: HA ports (protocol All) take port 0 on
    /// both sides, which is also their default; Tcp and Udp take ports 1
    /// to 65535, the backend port being the frontend port unless given. A
    /// wrong one drops the rule.
    pub(super) fn rule_ports(
        &mut self,
        f: &Fields,
        protocol_key: &str,
        frontend_key: &str,
        backend_key: &str,
    ) -> Option<(LbProtocol, u16, u16)> {
        let protocol = self.spelled_one_of(f, protocol_key);
        let port = |d: &mut Self, key: &str| match f.given(key) {
            None => Some(None),
            Some(node) => {
                let p = d.number_in(node, &f.key(key), PORT_RANGE, "a port is 0 to 65535")?;
                Some(Some((p as u16, node.line)))
            }
        };
        let frontend = port(self, frontend_key);
        let backend = port(self, backend_key);
        let (protocol, frontend, backend) = (protocol?, frontend?, backend?);
        let given = [(frontend_key, frontend), (backend_key, backend)];
        let mut ok = true;
        if protocol == LbProtocol::All {
            for (key, (p, line)) in given.iter().filter_map(|(k, g)| g.map(|g| (*k, g))) {
                if p != 0 {
                    let why = format!(
                        "HA ports (protocol All) take {frontend_key} 0 and {backend_key} 0, \
                         not {p}"
                    );
                    self.diags.error(line, &f.key(key), why);
                    ok = false;
                }
            }
            return ok.then_some((protocol, 0, 0));
        }
        let name = <&str>::from(protocol);
        let Some((frontend_port, _)) = frontend else {
            let why = format!("missing required key `{frontend_key}` (a {name} rule needs a port)");
            self.diags.error(f.line, &f.key(frontend_key), why);
            return None;
        };
        for (key, (p, line)) in given.iter().filter_map(|(k, g)| g.map(|g| (*k, g))) {
            if p == 0 {
                let why = format!(
                    "a {name} rule takes ports 1 to 65535 (port 0 is for HA ports, protocol All)"
                );
                self.diags.error(line, &f.key(key), why);
                ok = false;
            }
        }
        let backend_port = backend.map_or(frontend_port, |(p, _)| p);
        ok.then_some((protocol, frontend_port, backend_port))
    }
}
