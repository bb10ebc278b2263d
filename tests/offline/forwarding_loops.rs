//! DNS forwarding loops at `vnetd check`: Azure accepts a ruleset whose
//! rule sends questions to an inbound endpoint of the lab whose VNet's
//! rulesets send them back, and cautions against it; the file loads (with
//! a warning for the simplest loop), and `check` fails on every loop, at
//! each rule's line. A loop is one only where Azure DNS would really send
//! a name round it: a rule of a parent or child domain takes part in it,
//! a longer rule or a linked zone that takes the names breaks it.

use crate::common;

use common::broken_files::{check, line_of};
use vnetd::names::{forwarding_loops, NameTables};

const TAG: &str = "loops";
const EXAMPLE: &str = include_str!("../../config/private-endpoints.yaml");

/// Two VNets, each with a DNS Private Resolver, and a ruleset for each,
/// linked to its own VNet: `a-rules` sends `corp.example` to b's inbound
/// endpoint (10.2.4.4), and `b-rules` sends `app.corp.example` back to
/// a's (10.1.4.4).
const TWO_RESOLVERS: &str = "vnets:
  - name: va
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24]}
      - {name: dns-in, address_prefixes: [10.1.4.0/28]}
      - {name: dns-out, address_prefixes: [10.1.4.16/28]}
  - name: vb
    address_space: [10.2.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.2.1.0/24]}
      - {name: dns-in, address_prefixes: [10.2.4.0/28]}
      - {name: dns-out, address_prefixes: [10.2.4.16/28]}
peerings:
  - {name: a-to-b, virtual_network: va, remote_virtual_network: vb}
  - {name: b-to-a, virtual_network: vb, remote_virtual_network: va}
network_interfaces:
  - {name: vm1, subnet: va/app, private_ip_address: 10.1.1.4}
  - {name: vm2, subnet: vb/app, private_ip_address: 10.2.1.4}
private_dns_resolvers:
  - name: ra
    virtual_network: va
    inbound_endpoints: [{name: in, subnet: va/dns-in}]
    outbound_endpoints: [{name: out, subnet: va/dns-out}]
  - name: rb
    virtual_network: vb
    inbound_endpoints: [{name: in, subnet: vb/dns-in}]
    outbound_endpoints: [{name: out, subnet: vb/dns-out}]
dns_forwarding_rulesets:
  - name: a-rules
    outbound_endpoints: [ra/out]
    virtual_network_links: [va]
    rules:
      - {name: corp-to-b, domain_name: corp.example., target_dns_servers: [{ip_address: 10.2.4.4, port: 53}]}
  - name: b-rules
    outbound_endpoints: [rb/out]
    virtual_network_links: [vb]
    rules:
      - {name: app-to-a, domain_name: app.corp.example., target_dns_servers: [{ip_address: 10.1.4.4, port: 53}]}
";

/// A private zone for `app.corp.example` linked to vb, where the
/// resolvers begin.
const ZONE: &str = "private_dns_zones:
  - name: app.corp.example
    virtual_network_links: [{name: vb, virtual_network: vb}]
";
const ZONE_THEN_RESOLVERS: &str = "private_dns_zones:
  - name: app.corp.example
    virtual_network_links: [{name: vb, virtual_network: vb}]
private_dns_resolvers:";

const A_RULE: &str = "name: corp-to-b";
const B_RULE: &str = "name: app-to-a";

/// The line of `check`'s error for the rule on the line holding `needle`,
/// if there is one.
fn error_at(stderr: &str, path: &std::path::Path, text: &str, needle: &str) -> Option<String> {
    let line = line_of(text, needle, needle);
    let prefix = format!("{}:{line}: error: ", path.display());
    stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .map(str::to_string)
}

#[test]
fn a_ruleset_forwarding_to_its_own_inbound_endpoint_loads_and_fails_check_at_its_rule() {
    let rule = "      - {name: itself, domain_name: contoso.example., target_dns_servers: \
                [{ip_address: 10.0.4.4, port: 53}]}\n";
    let text = EXAMPLE.replacen(
        "\non_premises_sites:",
        &format!("{rule}\non_premises_sites:"),
        1,
    );
    assert!(text.contains("name: itself"));
    // Azure accepts it: the file loads, with the loader's warning.
    let loaded = vnetd::plan::parse_str("loop.yaml", &text).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("DNS resolution loop")),
        "{:?}",
        loaded.warnings
    );
    let (code, stderr, path) = check(TAG, "itself", &text);
    assert_eq!(code, Some(1), "{stderr}");
    let error = error_at(&stderr, &path, &text, "name: itself")
        .unwrap_or_else(|| panic!("no error at the rule's line:\n{stderr}"));
    for words in [
        "dns_forwarding_rulesets[onprem].rules[itself]: ",
        "sends `contoso.example` to the inbound endpoint `hub-resolver/in` (10.0.4.4:53) of VNet \
         `hub`",
        "linked to this ruleset, whose Azure DNS sends it to this rule again",
        "Azure cautions: \"This can cause a DNS resolution loop",
    ] {
        assert!(error.contains(words), "{words:?} in\n{error}");
    }
    // The example's own rule, to an on-premises server, is no loop.
    let (code, stderr, _) = check(TAG, "example", EXAMPLE);
    assert_eq!(code, Some(0), "{stderr}");
}

/// A loop through two resolvers, of a domain and its child: both rules
/// are named, each at its line, with the way round.
#[test]
fn a_loop_through_two_resolvers_fails_check_at_both_rules() {
    let loaded = vnetd::plan::parse_str("two.yaml", TWO_RESOLVERS).unwrap();
    let tables = NameTables::compile(&loaded.topology);
    let loops = forwarding_loops(&loaded.topology, &tables);
    assert_eq!(loops.len(), 1, "{loops:?}");
    let turns: Vec<(&str, &str)> = (loops[0].turns.iter())
        .map(|t| (t.rule.as_str(), t.name.as_str()))
        .collect();
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert!(
        turns.iter().all(|(_, name)| *name == "app.corp.example"),
        "{turns:?}"
    );

    let (code, stderr, path) = check(TAG, "two", TWO_RESOLVERS);
    assert_eq!(code, Some(1), "{stderr}");
    for rule in [A_RULE, B_RULE] {
        let error = error_at(&stderr, &path, TWO_RESOLVERS, rule)
            .unwrap_or_else(|| panic!("no error at {rule}'s line:\n{stderr}"));
        assert!(
            error.contains(
                "`app.corp.example` goes round VNet `va` (rule `corp-to-b` of ruleset `a-rules`) \
                 to the inbound endpoint `rb/in` (10.2.4.4:53) of VNet `vb`, then VNet `vb` (rule \
                 `app-to-a` of ruleset `b-rules`) to the inbound endpoint `ra/in` (10.1.4.4:53) of \
                 VNet `va`, and back: "
            ),
            "{error}"
        );
    }
    assert_eq!(stderr.matches(": error: ").count(), 2, "{stderr}");
}

/// What breaks the loop, as Azure DNS would answer: a rule of another
/// domain, a longer rule that takes the names elsewhere, a linked zone
/// that holds them, or a disabled rule. Each passes `check`; and without
/// the zone, the same rules loop.
#[test]
fn a_rule_zone_or_switch_that_takes_the_names_elsewhere_is_no_loop() {
    let cases: [(&str, &[(&str, &str)]); 4] = [
        (
            "sibling",
            &[("domain_name: app.corp.example.", "domain_name: db.example.")],
        ),
        (
            "longer-rule",
            &[
                (
                    "domain_name: corp.example.",
                    "domain_name: app.corp.example.",
                ),
                (
                    "      - {name: app-to-a, domain_name: app.corp.example.,",
                    "      - {name: app-to-onprem, domain_name: app.corp.example., \
                     target_dns_servers: [{ip_address: 192.168.1.10, port: 53}]}\n      - {name: \
                     app-to-a, domain_name: corp.example.,",
                ),
            ],
        ),
        (
            "zone",
            &[
                (
                    "domain_name: corp.example.",
                    "domain_name: app.corp.example.",
                ),
                (
                    "domain_name: app.corp.example.,",
                    "domain_name: corp.example.,",
                ),
                ("private_dns_resolvers:", ZONE_THEN_RESOLVERS),
            ],
        ),
        (
            "disabled",
            &[(
                "target_dns_servers: [{ip_address: 10.1.4.4, port: 53}]}",
                "target_dns_servers: [{ip_address: 10.1.4.4, port: 53}], enabled: false}",
            )],
        ),
    ];
    for (name, edits) in cases {
        let mut text = TWO_RESOLVERS.to_string();
        for (from, to) in edits {
            assert!(text.contains(from), "{name}: `{from}`");
            text = text.replacen(from, to, 1);
        }
        let (code, stderr, _) = check(TAG, name, &text);
        assert_eq!(code, Some(0), "{name}:\n{stderr}\n{text}");
        if name == "zone" {
            // The zone alone breaks it.
            let (code, stderr, _) = check(TAG, "zone-removed", &text.replacen(ZONE, "", 1));
            assert_eq!(code, Some(1), "{stderr}");
        }
    }
}
