//! Transparent interception of forwarded TCP in a router's namespace: a
//! connection the router would forward to one of the listed ports is
//! handed instead to one listener on its loopback (nftables `tproxy`),
//! which sees the client's address and the destination it asked for, and
//! may open its own connection onward. What the given pass rules match
//! is forwarded as before, and what is addressed to the router itself is
//! never taken.
//!
//! The packets of a taken connection are marked and routed to the
//! namespace itself (a policy rule for the mark, and a table holding every
//! address as local), the usual setup of a transparent proxy. IPv4 only.
//! The ruleset is written here from typed values alone.

use anyhow::{Context, Result};
use ipnet::Ipv4Net;

/// The nftables table vnetd owns for it.
const TABLE: &str = "vnetd_intercept";

/// The packet mark of a taken connection, and the routing table that
/// delivers marked packets locally.
pub const MARK: u32 = 0x7664;
pub const LOCAL_TABLE: u32 = 0x7664;

/// What a rule lets pass untaken: TCP from `sources` to `destinations` on
/// `ports` (`None`: every port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRule {
    pub sources: Vec<Ipv4Net>,
    pub destinations: Vec<Ipv4Net>,
    pub ports: Option<Vec<(u16, u16)>>,
}

/// What a namespace intercepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intercept {
    /// The loopback port (`127.0.0.1`) of the listener that takes them.
    pub listener: u16,
    /// The destination ports taken.
    pub ports: Vec<u16>,
    /// What passes untaken, whatever its port.
    pub pass: Vec<PassRule>,
}

fn set(nets: &[Ipv4Net]) -> String {
    let items: Vec<String> = nets.iter().map(Ipv4Net::to_string).collect();
    format!("{{ {} }}", items.join(", "))
}

/// The ruleset: packets of established taken connections go to their
/// socket; what is addressed to the namespace, what a pass rule matches
/// and what goes to other ports is left alone; the rest of TCP to the
/// ports goes to the listener.
pub fn ruleset(intercept: &Intercept) -> String {
    let mut rules = String::new();
    rules.push_str("    fib daddr type local accept\n");
    rules.push_str(&format!(
        "    meta l4proto tcp socket transparent 1 meta mark set {MARK:#x} accept\n"
    ));
    for pass in &intercept.pass {
        if pass.sources.is_empty() || pass.destinations.is_empty() {
            continue;
        }
        let ports = match &pass.ports {
            None => String::new(),
            Some(ranges) if ranges.is_empty() => continue,
            Some(ranges) => {
                let items: Vec<String> = ranges
                    .iter()
                    .map(|&(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}-{hi}")
                        }
                    })
                    .collect();
                format!(" tcp dport {{ {} }}", items.join(", "))
            }
        };
        rules.push_str(&format!(
            "    meta l4proto tcp ip saddr {} ip daddr {}{ports} accept\n",
            set(&pass.sources),
            set(&pass.destinations)
        ));
    }
    if !intercept.ports.is_empty() {
        let ports: Vec<String> = intercept.ports.iter().map(u16::to_string).collect();
        rules.push_str(&format!(
            "    meta l4proto tcp tcp dport {{ {} }} tproxy to 127.0.0.1:{} meta mark set {MARK:#x} accept\n",
            ports.join(", "),
            intercept.listener
        ));
    }
    format!(
        "table ip {TABLE} {{\n  chain prerouting {{\n    type filter hook prerouting priority mangle; policy accept;\n{rules}  }}\n}}\n"
    )
}

/// Makes `namespace` intercept as `intercept` says: the local table and
/// its rule, then the ruleset (replacing an earlier one of its own).
pub fn install(namespace: &str, intercept: &Intercept) -> Result<()> {
    super::netlink::route_marked_locally(namespace, MARK, LOCAL_TABLE)?;
    super::nat::replace_table(namespace, TABLE, &ruleset(intercept))
        .context("a kernel without nft_tproxy and nft_socket cannot intercept connections")
}

/// Takes nothing any more in `namespace`: its ruleset goes (the local
/// table and its rule stay, holding no packet without the mark).
pub fn remove(namespace: &str) -> Result<()> {
    super::nat::replace_table(namespace, TABLE, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passed_and_local_traffic_is_left_alone_before_the_ports_are_taken() {
        let intercept = Intercept {
            listener: 61090,
            ports: vec![80, 443],
            pass: vec![
                PassRule {
                    sources: vec!["10.1.0.0/16".parse().unwrap()],
                    destinations: vec!["10.2.0.0/16".parse().unwrap()],
                    ports: Some(vec![(80, 80), (8000, 8080)]),
                },
                PassRule {
                    sources: vec!["10.3.0.0/16".parse().unwrap()],
                    destinations: vec![],
                    ports: None,
                },
            ],
        };
        let rules = ruleset(&intercept);
        let local = rules.find("fib daddr type local accept").unwrap();
        let pass = rules
            .find("ip saddr { 10.1.0.0/16 } ip daddr { 10.2.0.0/16 } tcp dport { 80, 8000-8080 } accept")
            .unwrap();
        let taken = rules
            .find("tcp dport { 80, 443 } tproxy to 127.0.0.1:61090 meta mark set 0x7664 accept")
            .unwrap();
        assert!(local < pass && pass < taken, "{rules}");
        assert!(!rules.contains("10.3.0.0/16"), "{rules}");
    }
}
