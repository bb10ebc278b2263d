//! `vnetd import az` of Azure Firewall's application rules, FQDN network
//! rules and DNS proxy: a Premium policy's `dnsSettings`, its application
//! rule collections (FQDNs, an FQDN tag, a web category, and URLs, TLS
//! inspection, inserted headers and destination addresses left out with
//! a comment), and a classic firewall's application rules and DNS proxy
//! (`additionalProperties`). The policy imports as the Terraform
//! configuration of the same policy does, and the state of both
//! firewalls as their `az` dump.
//!
//! `VNETD_BLESS=1 cargo test --test offline import_firewall_fqdns`
//! rewrites `expected.yaml`.

use super::import_state::{imported, without_comments};

const AZ_DIR: &str = "tests/import/az/firewall-fqdns";
const STATE: &str = "tests/import/tfstate/firewall-fqdns.tfstate";

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The non-comment lines of `name`'s entry of `firewall_policies`.
fn policy(text: &str, name: &str) -> String {
    let plain = without_comments(text);
    let start = plain
        .find(&format!("  - name: {name}\n"))
        .unwrap_or_else(|| panic!("no policy `{name}` in:\n{text}"));
    let rest = &plain[start..];
    let end = (rest[1..].find("\n  - name: ").map(|at| at + 2))
        .into_iter()
        .chain(rest.find("\nazure_firewalls:").map(|at| at + 1))
        .min()
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn the_az_dump_imports_application_rules_and_the_dns_proxy() {
    let text = imported(&["import", "az", AZ_DIR]);
    if let Err(errors) = vnetd::topology::parse_str(AZ_DIR, &text) {
        let listed: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
        panic!("vnetd refuses the import:\n{}\n{text}", listed.join("\n"));
    }
    let expected_path = repo(&format!("{AZ_DIR}/expected.yaml"));
    if std::env::var_os("VNETD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&expected_path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert!(text == expected, "{AZ_DIR}/expected.yaml:\n{text}");

    let terraform = std::fs::read_to_string(repo(
        "tests/import/terraform/firewall-policy-fqdns/expected.yaml",
    ))
    .unwrap();
    assert_eq!(
        policy(&text, "hub-policy"),
        policy(&terraform, "hub-policy")
    );

    let classic = policy(&text, "classic-fw-rules");
    for line in [
        "    dns: {proxy_enabled: true, servers: [168.63.129.16]}\n",
        "                destination_fqdns: [time.windows.com]\n",
        "                destination_fqdns: [\"*.ubuntu.com\"]\n",
        "                destination_fqdn_tags: [WindowsUpdate]\n",
    ] {
        assert!(classic.contains(line), "{line} in:\n{classic}");
    }
}

/// The state (azurerm's `dns` and `sku` of the policy, `protocols`
/// blocks, a classic firewall's `dns_proxy_enabled` and `dns_servers`, a
/// classic application rule's `protocol` blocks) imports as the dump.
#[test]
fn the_state_imports_as_the_az_dump() {
    let state = imported(&["import", "tfstate", STATE]);
    if let Err(errors) = vnetd::topology::parse_str(STATE, &state) {
        let listed: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
        panic!("vnetd refuses the import:\n{}\n{state}", listed.join("\n"));
    }
    let az = imported(&["import", "az", AZ_DIR]);
    assert_eq!(without_comments(&state), without_comments(&az));
    assert!(
        state.contains("# destination_urls left out (contoso.com/downloads/*)"),
        "{state}"
    );
}

/// A classic firewall whose network rule names an FQDN without its DNS
/// proxy is refused, as Azure refuses it.
#[test]
fn classic_fqdn_network_rules_without_the_dns_proxy_are_refused() {
    let dir = std::env::temp_dir().join(format!("vnetd-import-fqdns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _removed = RemovedOnDrop(dir.clone());
    for file in ["vnets.json", "ip-groups.json", "firewalls.json"] {
        let mut text = std::fs::read_to_string(repo(&format!("{AZ_DIR}/{file}"))).unwrap();
        if file == "firewalls.json" {
            text = text.replace(
                "\"Network.DNS.EnableProxy\": \"true\"",
                "\"Network.DNS.EnableProxy\": \"false\"",
            );
            // The policy's firewall is not in this copy's input.
            let mut all: serde_json::Value = serde_json::from_str(&text).unwrap();
            all.as_array_mut()
                .unwrap()
                .retain(|f| f["name"] == "classic-fw");
            text = all.to_string();
        }
        std::fs::write(dir.join(file), text).unwrap();
    }
    let stderr = super::import_state::refused(&["import", "az", dir.to_str().unwrap()]);
    assert!(
        stderr.contains(
            "network rule `ntp` has destination_fqdns, which Azure Firewall resolves through its \
             DNS proxy: Azure refuses FQDNs in network rules while the proxy is off; set \
             dns_proxy_enabled = true on Azure Firewall `classic-fw`"
        ),
        "{stderr}"
    );
}

/// A directory removed when the test ends, passed or failed.
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
