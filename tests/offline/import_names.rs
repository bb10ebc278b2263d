//! Names imported three ways: the Terraform configuration
//! `tests/import/terraform/private-endpoints` (a hub with a DNS forwarder
//! and the Private Endpoints of a storage account and a key vault, a spoke
//! asking the forwarder, two privatelink zones written by the endpoints'
//! DNS zone groups, a private zone with every record type and
//! auto-registration, a reverse zone, a DNS Private Resolver with a
//! Dynamic inbound endpoint and a forwarding ruleset to on-premises DNS
//! servers linked to both VNets), the Terraform state of the same
//! network once applied (`tests/import/tfstate/private-endpoints.tfstate`)
//! and its `az` dump (`tests/import/az/private-endpoints`) give the same
//! topology, which `vnetd check` accepts without a warning and whose names
//! the parser reads as the configuration says. What Azure writes itself
//! (the endpoints' NICs, their zone groups' A records, auto-registered
//! VMs, SOA records) is left to the file's endpoints and links. Broken
//! dumps are refused at the place of the problem.

use super::import_state::{imported, refused, repo, vnetd, without_comments};
use serde_json::{json, Value};
use std::path::Path;

const TERRAFORM_DIR: &str = "tests/import/terraform/private-endpoints";
const EXPECTED: &str = "tests/import/terraform/private-endpoints/expected.yaml";
const STATE: &str = "tests/import/tfstate/private-endpoints.tfstate";
const AZ_DIR: &str = "tests/import/az/private-endpoints";

/// The Azure IDs of the az dump start so.
const AZ_NET: &str = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/\
                      rg-names/providers/Microsoft.Network";

/// `vnetd check` on `text`, written to a file: exit 0 and no warning.
fn checked(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, text).unwrap();
    let out = vnetd(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}\n{text}");
    assert!(!stderr.contains("warning"), "{stderr}");
    stdout
}

/// A copy of the az dump in a temporary directory, `change` applied to
/// one of its files.
fn az_copy_with(file: &str, change: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo(AZ_DIR)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(repo(&format!("{AZ_DIR}/{file}"))).unwrap();
    let mut document: Value = serde_json::from_str(&text).unwrap();
    change(&mut document);
    let text = serde_json::to_string_pretty(&document).unwrap();
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

/// The line (from 1) of the first line of `file` in `dir` holding `needle`.
fn line_with(dir: &Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let found = text.lines().position(|l| l.contains(needle));
    found.unwrap_or_else(|| panic!("{needle} is not in {file}")) + 1
}

/// The state and the az dump give the file the configuration gives,
/// comments aside, and `vnetd check` accepts each as it is printed.
#[test]
fn the_three_imports_give_the_same_names() {
    let expected = std::fs::read_to_string(repo(EXPECTED)).unwrap();
    let terraform = imported(&["import", "terraform", TERRAFORM_DIR]);
    assert_eq!(terraform, expected);
    for args in [["import", "tfstate", STATE], ["import", "az", AZ_DIR]] {
        let text = imported(&args);
        assert_eq!(
            without_comments(&text),
            without_comments(&expected),
            "{args:?}"
        );
        let stdout = checked(&text);
        assert!(
            stdout.contains(": ok (2 VNets, 2 peering links, 2 NICs"),
            "{args:?}: {stdout}"
        );
    }
    checked(&terraform);
}

/// What the parser reads of the imported file is the configuration's:
/// the DNS servers of the spoke and of the forwarder's NIC, the endpoint
/// subnet's policies, every record set with its TTL, the links with
/// auto-registration and NxDomainRedirect, both endpoints (the Dynamic one
/// on the first free address after the Static one) and the A records
/// their zone groups write, with Azure's TTL of 10 seconds (and the A
/// record naming the resolver's inbound endpoint).
#[test]
fn the_imported_names_are_the_configurations() {
    let text = std::fs::read_to_string(repo(EXPECTED)).unwrap();
    let loaded = vnetd::topology::parse_str("expected.yaml", &text).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let t = loaded.topology;

    let servers = |list: &[std::net::IpAddr]| -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    };
    let spoke = t.vnets.iter().find(|v| v.name == "spoke1").unwrap();
    assert_eq!(servers(&spoke.dns_servers), ["10.0.2.4"]);
    let hub = t.vnets.iter().find(|v| v.name == "hub").unwrap();
    assert!(hub.dns_servers.is_empty());
    let policies: Vec<(&str, &str)> = hub
        .subnets
        .iter()
        .map(|s| (s.name.as_str(), s.endpoint_policies.as_str()))
        .collect();
    assert_eq!(
        policies,
        [
            ("dns-in", "Disabled"),
            ("dns-out", "Disabled"),
            ("pe", "RouteTableEnabled"),
            ("shared", "Disabled")
        ]
    );
    let dns1 = &t.nics[t.nic_by_name("dns1").unwrap()];
    assert_eq!(servers(&dns1.dns_servers), ["168.63.129.16"]);

    let zone = |name: &str| t.private_dns_zones.iter().find(|z| z.name == name).unwrap();
    let records = |name: &str| -> Vec<String> {
        zone(name)
            .records
            .iter()
            .map(|s| {
                let values: Vec<String> = s.records.iter().map(|r| r.text()).collect();
                format!(
                    "{} {} {} {}",
                    s.name,
                    s.record_type.as_str(),
                    s.ttl,
                    values.join(", ")
                )
            })
            .collect()
    };
    assert_eq!(
        records("contoso.internal"),
        [
            "@ MX 3600 10 mail1.contoso.com, 20 mail2.contoso.com",
            "@ TXT 3600 v=spf1 -all",
            "_sip._tcp SRV 3600 10 5 5060 sip.contoso.internal",
            "dns A 300 10.0.2.4",
            "dns AAAA 300 fd00:2::4",
            "files CNAME 3600 stcontoso.blob.core.windows.net",
            "resolver A 300 10.0.4.4",
            "storage A 300 10.0.3.4",
        ]
    );
    assert_eq!(
        records("2.0.10.in-addr.arpa"),
        ["4 PTR 3600 dns.contoso.internal"]
    );
    assert_eq!(
        records("privatelink.blob.core.windows.net"),
        ["stcontoso A 10 10.0.3.4"]
    );
    assert_eq!(
        records("privatelink.vaultcore.azure.net"),
        ["kv-contoso A 10 10.0.3.5"]
    );

    let links = |name: &str| -> Vec<String> {
        zone(name)
            .links
            .iter()
            .map(|l| {
                format!(
                    "{} {} {} {}",
                    l.name,
                    t.vnets[l.vnet].name,
                    l.registration_enabled,
                    l.resolution_policy.as_str()
                )
            })
            .collect()
    };
    assert_eq!(
        links("contoso.internal"),
        ["hub hub true Default", "spoke1 spoke1 false Default"]
    );
    assert_eq!(
        links("privatelink.vaultcore.azure.net"),
        [
            "vault-hub hub false Default",
            "vault-spoke1 spoke1 false NxDomainRedirect"
        ]
    );

    let endpoints: Vec<String> = t
        .private_endpoints
        .iter()
        .map(|e| {
            let zones: Vec<&str> = e
                .zones
                .iter()
                .map(|z| t.private_dns_zones[*z].name.as_str())
                .collect();
            format!(
                "{} {} {} {} -> {} [{}]",
                e.name,
                t.subnet_path(e.subnet),
                e.address,
                e.target.public_name(),
                e.target.privatelink_name(),
                zones.join(", ")
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        [
            "pe-kv-contoso hub/pe 10.0.3.5 kv-contoso.vault.azure.net -> \
             kv-contoso.privatelink.vaultcore.azure.net [privatelink.vaultcore.azure.net]",
            "pe-stcontoso-blob hub/pe 10.0.3.4 stcontoso.blob.core.windows.net -> \
             stcontoso.privatelink.blob.core.windows.net [privatelink.blob.core.windows.net]",
        ]
    );
}

/// The resolver with its endpoints (the Dynamic inbound one on its
/// subnet's first usable address, the outbound one sending from its own
/// subnet's) and the ruleset with its outbound endpoint, its links and its
/// rules (a target without a port on 53, the disabled rule disabled), as
/// the parser reads the imported file.
#[test]
fn the_imported_resolver_and_ruleset_are_the_configurations() {
    let text = std::fs::read_to_string(repo(EXPECTED)).unwrap();
    let loaded = vnetd::topology::parse_str("expected.yaml", &text).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let t = loaded.topology;

    let resolvers: Vec<String> = t
        .dns_resolvers
        .iter()
        .map(|r| {
            let show = |name: &str, subnet, address: std::net::IpAddr| {
                format!("{name} {} {address}", t.subnet_path(subnet))
            };
            let inbound: Vec<String> = (r.inbound.iter())
                .map(|e| show(&e.name, e.subnet, e.address))
                .collect();
            let outbound: Vec<String> = (r.outbound.iter())
                .map(|e| show(&e.name, e.subnet, e.address))
                .collect();
            format!(
                "{} in {}: inbound [{}] outbound [{}]",
                r.name,
                t.vnets[r.vnet].name,
                inbound.join(", "),
                outbound.join(", ")
            )
        })
        .collect();
    assert_eq!(
        resolvers,
        ["hub-resolver in hub: inbound [in hub/dns-in 10.0.4.4] outbound [out hub/dns-out 10.0.4.20]"]
    );

    let rulesets: Vec<String> = t
        .forwarding_rulesets
        .iter()
        .map(|set| {
            let outbound: Vec<String> = (set.outbound_endpoints.iter())
                .map(|(r, e)| {
                    let resolver = &t.dns_resolvers[*r];
                    format!("{}/{}", resolver.name, resolver.outbound[*e].name)
                })
                .collect();
            let links: Vec<&str> = set
                .links
                .iter()
                .map(|v| t.vnets[*v].name.as_str())
                .collect();
            let rules: Vec<String> = (set.rules.iter())
                .map(|rule| {
                    let targets: Vec<String> =
                        rule.targets.iter().map(ToString::to_string).collect();
                    format!(
                        "{} {} {} -> {}",
                        rule.name,
                        rule.domain,
                        if rule.enabled { "enabled" } else { "disabled" },
                        targets.join(" ")
                    )
                })
                .collect();
            format!(
                "{} via {} linked to {}: {}",
                set.name,
                outbound.join(" "),
                links.join(" "),
                rules.join("; ")
            )
        })
        .collect();
    assert_eq!(
        rulesets,
        ["onprem via hub-resolver/out linked to hub spoke1: \
          corp corp.contoso.com enabled -> 192.168.1.10:53; \
          legacy legacy.contoso.com disabled -> 192.168.1.11:53 192.168.1.12:5353"]
    );
}

/// What Azure makes for the file's own objects is not imported again, and
/// the header says why: each endpoint's NIC, the A record sets the zone
/// groups wrote, the VM Azure registered; the zones' SOA record sets are
/// Azure's own and not listed. The endpoint to an Event Hubs namespace is
/// listed with the kinds vnetd places behind endpoints.
#[test]
fn az_leaves_to_the_file_what_azure_writes_for_it() {
    let text = imported(&["import", "az", AZ_DIR]);
    let header: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter(|l| l.starts_with("#   "))
        .collect();
    let nic = |endpoint: &str, guid: &str| {
        format!(
            "#   azurerm_network_interface.{endpoint}.nic.{guid} (the network interface of \
             Private Endpoint `{endpoint}`, which stands for it) \
             ({AZ_NET}/networkInterfaces/{endpoint}.nic.{guid})"
        )
    };
    let group_record = |zone: &str, name: &str, endpoint: &str| {
        format!(
            "#   azurerm_private_dns_a_record.{name} ({AZ_NET}/privateDnsZones/{zone}/A/{name}): \
             written by the DNS zone group of Private Endpoint `{endpoint}`, which the file's \
             endpoint writes again"
        )
    };
    assert_eq!(
        header,
        [
            nic("pe-evh-contoso", "9e7c5a3f-4d2b-4a1e-8c6f-5b3d1f9e7a46"),
            nic("pe-kv-contoso", "2c8e4a6f-1b3d-4f5e-9a7c-3d5f7b9e1a24"),
            nic("pe-stcontoso-blob", "6a1f0d2e-93b4-4c7a-8e15-0b2d4f6a8c31"),
            format!(
                "#   azurerm_private_dns_a_record.dns1-vm (registered by Azure for a VM through a \
                 link with auto-registration: vnetd registers the VMs of such links itself) \
                 ({AZ_NET}/privateDnsZones/contoso.internal/A/dns1-vm)"
            ),
            group_record(
                "privatelink.vaultcore.azure.net",
                "kv-contoso",
                "pe-kv-contoso"
            ),
            group_record(
                "privatelink.blob.core.windows.net",
                "stcontoso",
                "pe-stcontoso-blob"
            ),
            format!(
                "#   azurerm_private_endpoint.pe-evh-contoso \
                 ({AZ_NET}/privateEndpoints/pe-evh-contoso): reaches \
                 `/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-names/\
                 providers/Microsoft.EventHub/namespaces/evh-contoso`, which is not a resource \
                 vnetd places behind a Private Endpoint (Microsoft.Storage/storageAccounts, \
                 Microsoft.Sql/servers, Microsoft.KeyVault/vaults, \
                 Microsoft.DocumentDB/databaseAccounts, Microsoft.ContainerRegistry/registries, \
                 Microsoft.Web/sites, Microsoft.ServiceBus/namespaces)"
            ),
        ]
    );
    assert!(!text.contains("SOA"), "{text}");
}

/// The endpoint's address comes from its NIC when it has no Static IP
/// configuration; without the NIC, from its custom DNS configuration;
/// with neither, the import allocates the first free one, as Azure would.
#[test]
fn an_az_endpoint_takes_its_address_from_its_nic_or_its_dns_configuration() {
    let address_of_kv = |dir: &Path| -> String {
        let text = imported(&["import", "az", dir.to_str().unwrap()]);
        let at = text
            .find("  - name: pe-kv-contoso\n")
            .expect("the endpoint");
        let rest = &text[at..];
        let line = rest
            .lines()
            .find(|l| l.starts_with("    private_ip_address: "))
            .unwrap();
        line.trim_start_matches("    private_ip_address: ")
            .to_string()
    };
    let moved = az_copy_with("nics.json", |nics| {
        let nic = (nics.as_array_mut().unwrap().iter_mut())
            .find(|n| n["name"].as_str().unwrap().starts_with("pe-kv-contoso"))
            .unwrap();
        nic["ipConfigurations"][0]["privateIPAddress"] = json!("10.0.3.9");
    });
    assert_eq!(address_of_kv(moved.path()), "10.0.3.9");

    fn without_nic(endpoints: &mut Value) -> &mut Value {
        let kv = (endpoints.as_array_mut().unwrap().iter_mut())
            .find(|e| e["name"] == "pe-kv-contoso")
            .unwrap();
        kv["networkInterfaces"] = json!([]);
        kv
    }
    let dns = az_copy_with("private-endpoints.json", |endpoints| {
        without_nic(endpoints)["customDnsConfigs"] = json!([
            {"fqdn": "kv-contoso.vault.azure.net", "ipAddresses": ["10.0.3.20"]}]);
    });
    assert_eq!(address_of_kv(dns.path()), "10.0.3.20");

    let unknown = az_copy_with("private-endpoints.json", |endpoints| {
        without_nic(endpoints);
    });
    assert_eq!(address_of_kv(unknown.path()), "10.0.3.5");
}

/// A link's VNet, a zone group's zone and a record set's zone must be
/// objects of the dump; what vnetd refuses of a record is placed at its
/// record set.
#[test]
fn an_az_reference_to_what_the_dump_lacks_is_refused_at_its_place() {
    let dir = az_copy_with("private-dns-links.json", |links| {
        links[1]["virtualNetwork"]["id"] = json!(format!("{AZ_NET}/virtualNetworks/spoke9"));
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/private-dns-links.json:{}: [1].virtualNetwork.id: \
             `{AZ_NET}/virtualNetworks/spoke9` names no virtual network of vnets.json\n",
            dir.path().display(),
            line_with(dir.path(), "private-dns-links.json", "spoke9")
        )
    );

    let zone = "privatelink.vaultcore.azure.net";
    let dir = az_copy_with("private-dns-zones.json", |zones| {
        zones.as_array_mut().unwrap().retain(|z| z["name"] != zone);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let link_id = format!("{AZ_NET}/privateDnsZones/{zone}/virtualNetworkLinks/vault-hub");
    assert_eq!(
        stderr,
        format!(
            "{}/private-dns-links.json:{}: [2].id: `{AZ_NET}/privateDnsZones/{zone}` names no \
             Private DNS zone of private-dns-zones.json\n",
            dir.path().display(),
            line_with(dir.path(), "private-dns-links.json", &link_id)
        )
    );

    let dir = az_copy_with("private-dns-zone-groups.json", |groups| {
        groups[0]["privateDnsZoneConfigs"][0]["privateDnsZoneId"] = json!(format!(
            "{AZ_NET}/privateDnsZones/privatelink.file.core.windows.net"
        ));
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/private-dns-zone-groups.json:{}: [0].privateDnsZoneConfigs[0].privateDnsZoneId: \
             `{AZ_NET}/privateDnsZones/privatelink.file.core.windows.net` names no Private DNS \
             zone of private-dns-zones.json\n",
            dir.path().display(),
            line_with(
                dir.path(),
                "private-dns-zone-groups.json",
                "privatelink.file.core.windows.net"
            )
        )
    );

    let dir = az_copy_with("private-dns-record-sets.json", |sets| {
        let files = (sets.as_array_mut().unwrap().iter_mut())
            .find(|s| s["name"] == "files")
            .unwrap();
        files["cnameRecord"]["cname"] = json!("not a name");
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let id = format!("{AZ_NET}/privateDnsZones/contoso.internal/CNAME/files");
    assert!(
        stderr.starts_with(&format!(
            "{}/private-dns-record-sets.json:{}: {id}: vnetd refuses what this imports to: ",
            dir.path().display(),
            line_with(dir.path(), "private-dns-record-sets.json", &id)
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "private_dns_zones[contoso.internal].records[files].records[0]: `not a name` is not \
             a CNAME value (expected one name)\n"
        ),
        "{stderr}"
    );
}

/// A resolver's endpoint, a ruleset's rule and link name their resolver
/// and ruleset by their IDs, and a ruleset its outbound endpoints: each
/// must be an object of the dump. What vnetd refuses of an endpoint (one
/// in a subnet that holds Private Endpoints) is placed at the endpoint.
#[test]
fn an_az_resolver_or_ruleset_part_must_name_objects_of_the_dump() {
    let rules = "dns-resolver-forwarding-rules.json";
    let dir = az_copy_with(rules, |rules| {
        rules[1]["id"] = json!(format!(
            "{AZ_NET}/dnsForwardingRulesets/onprem9/forwardingRules/legacy"
        ));
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/{rules}:{}: [1].id: `{AZ_NET}/dnsForwardingRulesets/onprem9` names no DNS \
             forwarding ruleset of dns-resolver-forwarding-rulesets.json\n",
            dir.path().display(),
            line_with(dir.path(), rules, "onprem9")
        )
    );

    let rulesets = "dns-resolver-forwarding-rulesets.json";
    let gone = format!("{AZ_NET}/dnsResolvers/hub-resolver/outboundEndpoints/out9");
    let dir = az_copy_with(rulesets, |rulesets| {
        rulesets[0]["dnsResolverOutboundEndpoints"][0]["id"] = json!(gone);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/{rulesets}:{}: [0].dnsResolverOutboundEndpoints[0].id: `{gone}` names no \
             outbound endpoint of dns-resolver-outbound-endpoints.json\n",
            dir.path().display(),
            line_with(dir.path(), rulesets, "out9")
        )
    );

    let inbound = "dns-resolver-inbound-endpoints.json";
    let dir = az_copy_with(inbound, |endpoints| {
        endpoints[0]["ipConfigurations"][0]["subnet"]["id"] =
            json!(format!("{AZ_NET}/virtualNetworks/hub/subnets/pe"));
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let id = format!("{AZ_NET}/dnsResolvers/hub-resolver/inboundEndpoints/in");
    assert!(
        stderr.starts_with(&format!(
            "{}/{inbound}:{}: {id}: vnetd refuses what this imports to: ",
            dir.path().display(),
            line_with(dir.path(), inbound, &format!("\"{id}\""))
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "hub/pe is not a resolver endpoint's alone: Azure delegates it to \
             Microsoft.Network/dnsResolvers"
        ),
        "{stderr}"
    );
}
