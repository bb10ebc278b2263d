//! Source NAT in a namespace, for a router that translates what it
//! forwards to some destinations: the one place the host layer runs `nft`
//! (the netlink crates vnetd uses do not speak nftables). The kernel's
//! connection tracking translates the replies back.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use ipnet::IpNet;

/// The nftables table vnetd owns in such a namespace.
const TABLE: &str = "vnetd_snat";

/// The ruleset that masquerades what leaves `interface` for an IPv4
/// destination outside `except` (to the interface's own address).
pub fn masquerade_ruleset(interface: &str, except: &[IpNet]) -> String {
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
    format!(
        "table ip {TABLE} {{\n{set}  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    oifname \"{interface}\" {condition}masquerade\n  }}\n}}\n"
    )
}

/// Installs [`masquerade_ruleset`] in the named namespace.
pub fn masquerade(namespace: &str, interface: &str, except: &[IpNet]) -> Result<()> {
    let ruleset = masquerade_ruleset(interface, except);
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
        let rules = masquerade_ruleset("eth0", &except);
        assert!(
            rules.contains("elements = { 10.0.0.0/8, 100.64.0.0/10 }"),
            "{rules}"
        );
        assert!(
            rules.contains("oifname \"eth0\" ip daddr != @kept masquerade"),
            "{rules}"
        );
        let always = masquerade_ruleset("eth0", &[]);
        assert!(!always.contains("set kept"), "{always}");
        assert!(always.contains("oifname \"eth0\" masquerade"), "{always}");
    }
}
