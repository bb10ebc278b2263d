//! A namespace that holds every address it does not route elsewhere, as a
//! stand-in for a whole network: an AnyIP route (`ip route add local
//! 0.0.0.0/0 dev lo`, and `::/0`) in its main table makes each such
//! address its own, so the kernel answers ping on all of them and a
//! server may bind any of them without adding it first; more specific
//! routes (the device routes of its spec) still send their prefixes out.
//! TCP to the listed ports at a held address that no socket of the
//! namespace is bound to goes to one listener on the loopback (nftables
//! `tproxy`), which sees the address and port the client asked: a server
//! bound to that address and port, or to the wildcard, answers instead.
//! The ruleset is written here from typed values alone.

use anyhow::{Context, Result};

/// The nftables table vnetd owns in such a namespace.
const TABLE: &str = "vnetd_every_address";

/// What a namespace holding every address does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EveryAddress {
    /// Hold every IPv4 address (those its routes do not send elsewhere).
    pub ipv4: bool,
    /// Hold every IPv6 address.
    pub ipv6: bool,
    /// TCP ports answered by default, each with the loopback port
    /// (`127.0.0.1` and `::1`) of the listener that answers them.
    pub default_listeners: Vec<(u16, u16)>,
}

/// The ruleset that hands TCP to the default listeners: only packets to
/// an address the namespace holds (`fib daddr type local`, so what it
/// forwards is left alone), and only where no socket of the namespace
/// takes them (an established one, or a listener on that address and
/// port or on the wildcard).
pub fn ruleset(every: &EveryAddress) -> String {
    let mut rules = String::new();
    for &(port, listener) in &every.default_listeners {
        let held = format!("fib daddr type local tcp dport {port}");
        rules.push_str(&format!("    {held} socket transparent 0 accept\n"));
        rules.push_str(&format!("    {held} socket transparent 1 accept\n"));
        if every.ipv4 {
            rules.push_str(&format!(
                "    meta nfproto ipv4 {held} tproxy ip to 127.0.0.1:{listener}\n"
            ));
        }
        if every.ipv6 {
            rules.push_str(&format!(
                "    meta nfproto ipv6 {held} tproxy ip6 to [::1]:{listener}\n"
            ));
        }
    }
    format!(
        "table inet {TABLE} {{\n  chain prerouting {{\n    type filter hook prerouting priority mangle; policy accept;\n{rules}  }}\n}}\n"
    )
}

/// Makes `namespace` hold every address as `every` says: the AnyIP routes
/// of each family, then the ruleset.
pub fn hold(namespace: &str, every: &EveryAddress) -> Result<()> {
    if every.ipv4 {
        super::netlink::add_local_route(namespace, "0.0.0.0/0".parse().expect("literal"))?;
    }
    if every.ipv6 {
        super::netlink::add_local_route(namespace, "::/0".parse().expect("literal"))?;
    }
    if every.default_listeners.is_empty() {
        return Ok(());
    }
    super::nat::load_ruleset(namespace, &ruleset(every))
        .context("a kernel without nft_tproxy and nft_socket cannot answer every address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_held_addresses_without_a_socket_go_to_the_default_listener() {
        let every = EveryAddress {
            ipv4: true,
            ipv6: false,
            default_listeners: vec![(80, 61_080)],
        };
        let rules = ruleset(&every);
        assert_eq!(
            rules,
            "table inet vnetd_every_address {\n  chain prerouting {\n    type filter hook prerouting priority mangle; policy accept;\n    fib daddr type local tcp dport 80 socket transparent 0 accept\n    fib daddr type local tcp dport 80 socket transparent 1 accept\n    meta nfproto ipv4 fib daddr type local tcp dport 80 tproxy ip to 127.0.0.1:61080\n  }\n}\n"
        );
        let both = ruleset(&EveryAddress {
            ipv6: true,
            ..every
        });
        assert!(
            both.contains(
                "meta nfproto ipv6 fib daddr type local tcp dport 80 tproxy ip6 to [::1]:61080"
            ),
            "{both}"
        );
    }
}
