//! Address translation in a namespace, for a router that translates what
//! it forwards: destination NAT of given addresses and ports (each also
//! source-translated to the router's own address, so that the replies
//! come back through it), and source NAT towards some destinations. The
//! one place the host layer runs `nft` (the netlink crates vnetd uses do
//! not speak nftables). The kernel's connection tracking translates the
//! replies back.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::config_text::Refused;
use anyhow::{Context, Result};
use ipnet::IpNet;

/// The nftables table vnetd owns in such a namespace.
const TABLE: &str = "vnetd_snat";

/// A destination translation: what arrives for `address`:`port` over
/// `protocol` (`tcp` or `udp`) goes to `to`:`to_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationNat {
    pub protocol: &'static str,
    pub address: std::net::Ipv4Addr,
    pub port: u16,
    pub to: std::net::Ipv4Addr,
    pub to_port: u16,
}

/// The destination translations of a namespace and the source the
/// connections they translate leave with: `source`, an address the
/// namespace holds, or, `None`, the interface's own (masquerade).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationNats {
    pub rules: Vec<DestinationNat>,
    pub source: Option<std::net::Ipv4Addr>,
}

/// The ruleset that masquerades what leaves `interface` for an IPv4
/// destination outside `except` (to the interface's own address), and
/// translates the destinations `dnat` lists (and the sources of what they
/// translate, see [`DestinationNats`]). The interface's name is its one
/// string, written by [`crate::config_text::nft`]; the rest are typed
/// values.
pub fn masquerade_ruleset(
    interface: &str,
    except: &[IpNet],
    dnat: &DestinationNats,
) -> Result<String, Refused> {
    let interface = crate::config_text::nft::interface(interface)?;
    let kept: Vec<String> = except
        .iter()
        .filter(|n| matches!(n, IpNet::V4(_)))
        .map(IpNet::to_string)
        .collect();
    let (set, condition) = if kept.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(
                "  set kept {{ type ipv4_addr; flags interval; elements = {{ {} }} }}\n",
                kept.join(", ")
            ),
            "ip daddr != @kept ".to_string(),
        )
    };
    let mut prerouting = String::new();
    let mut translated = String::new();
    if !dnat.rules.is_empty() {
        prerouting.push_str(
            "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n",
        );
        for d in &dnat.rules {
            prerouting.push_str(&format!(
                "    ip daddr {} {} dport {} dnat to {}:{}\n",
                d.address, d.protocol, d.port, d.to, d.to_port
            ));
        }
        prerouting.push_str("  }\n");
        translated = match dnat.source {
            Some(source) => format!("    oifname {interface} ct status dnat snat to {source}\n"),
            None => format!("    oifname {interface} ct status dnat masquerade\n"),
        };
    }
    Ok(format!(
        "table ip {TABLE} {{\n{set}{prerouting}  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n{translated}    oifname {interface} {condition}masquerade\n  }}\n}}\n"
    ))
}

/// Installs [`masquerade_ruleset`] in the named namespace, replacing an
/// earlier one in one transaction: the connections it translated keep
/// their translation.
pub fn masquerade(
    namespace: &str,
    interface: &str,
    except: &[IpNet],
    dnat: &DestinationNats,
) -> Result<()> {
    let ruleset = masquerade_ruleset(interface, except, dnat)?;
    replace_table(namespace, TABLE, &ruleset)
}

/// Loads `ruleset`, which declares the table `table` (`ip` family), into
/// the named namespace in place of that table's earlier rules, in one
/// transaction; an empty `ruleset` removes the table.
pub(crate) fn replace_table(namespace: &str, table: &str, ruleset: &str) -> Result<()> {
    load_ruleset(
        namespace,
        &format!("table ip {table}\ndelete table ip {table}\n{ruleset}"),
    )
}

/// Loads `ruleset` (text written from typed values, or quoted by
/// [`crate::config_text::nft`]) into the named namespace with `nft -f -`.
pub(crate) fn load_ruleset(namespace: &str, ruleset: &str) -> Result<()> {
    let namespace = crate::config_text::argv::operand(namespace)?;
    let mut child = Command::new("ip")
        .args(["netns", "exec", namespace, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running nft (the nftables package)")?;
    child
        .stdin
        .take()
        .context("nft's standard input")?
        .write_all(ruleset.as_bytes())
        .context("writing the ruleset to nft")?;
    let out = child.wait_with_output().context("waiting for nft")?;
    anyhow::ensure!(
        out.status.success(),
        "nft -f in {namespace} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_keeps_the_listed_ranges_and_masquerades_the_rest() {
        let except: Vec<IpNet> = ["10.0.0.0/8", "fd00::/8", "100.64.0.0/10"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let rules = masquerade_ruleset("eth0", &except, &DestinationNats::default()).unwrap();
        assert!(
            rules.contains("elements = { 10.0.0.0/8, 100.64.0.0/10 }"),
            "{rules}"
        );
        assert!(
            rules.contains("oifname \"eth0\" ip daddr != @kept masquerade"),
            "{rules}"
        );
        let always = masquerade_ruleset("eth0", &[], &DestinationNats::default()).unwrap();
        assert!(!always.contains("set kept"), "{always}");
        assert!(always.contains("oifname \"eth0\" masquerade"), "{always}");
        assert!(!always.contains("prerouting"), "{always}");
    }

    #[test]
    fn destination_translations_come_first_and_are_masqueraded() {
        let mut dnat = DestinationNats {
            rules: vec![DestinationNat {
                protocol: "tcp",
                address: "198.51.100.20".parse().unwrap(),
                port: 443,
                to: "10.2.1.4".parse().unwrap(),
                to_port: 8443,
            }],
            source: None,
        };
        let rules = masquerade_ruleset("eth0", &[], &dnat).unwrap();
        assert!(
            rules.contains("ip daddr 198.51.100.20 tcp dport 443 dnat to 10.2.1.4:8443"),
            "{rules}"
        );
        let translated = rules.find("ct status dnat masquerade").unwrap();
        let rest = rules.find("oifname \"eth0\" masquerade").unwrap();
        assert!(translated < rest, "{rules}");
        dnat.source = Some("10.0.1.5".parse().unwrap());
        let rules = masquerade_ruleset("eth0", &[], &dnat).unwrap();
        assert!(
            rules.contains("    oifname \"eth0\" ct status dnat snat to 10.0.1.5\n"),
            "{rules}"
        );
        assert!(!rules.contains("ct status dnat masquerade"), "{rules}");
    }
}
